// What the demo prints once everything answers: URLs and curl commands to paste.
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { createSigner } from 'fast-jwt'
import { expandEnv } from '../../apps/gateway/config/expand-env.ts'

export interface DemoConfig {
  publicPort: number
  adminPort: number
  egressPort: number | null
  jwt: { secret: string; issuer?: string; audience?: string }
}

// Read from the same file the gateway gets, so the dev token always matches it.
export function readDemoConfig (file: string): DemoConfig {
  const { value } = expandEnv(parse(readFileSync(file, 'utf8')), process.env)
  const raw = value as {
    server?: { port?: number }
    admin?: { port?: number }
    egress?: { port?: number }
    auth?: { jwt?: { secret?: string; issuer?: string; audience?: string } }
  }
  const jwt = raw.auth?.jwt
  if (!jwt?.secret) throw new Error(`${file}: auth.jwt.secret is not set, so no dev token can be minted`)
  return {
    publicPort: Number(raw.server?.port ?? 8080),
    adminPort: Number(raw.admin?.port ?? 8081),
    egressPort: raw.egress === undefined ? null : Number(raw.egress.port ?? 3128),
    jwt: { secret: jwt.secret, issuer: jwt.issuer, audience: jwt.audience },
  }
}

export function mintDevToken (cfg: DemoConfig): string {
  const sign = createSigner({
    key: cfg.jwt.secret,
    algorithm: 'HS256',
    expiresIn: 60 * 60 * 1000,
    ...(cfg.jwt.issuer ? { iss: cfg.jwt.issuer } : {}),
    ...(cfg.jwt.audience ? { aud: cfg.jwt.audience } : {}),
  })
  return sign({ sub: 'alice', scope: 'users:read users:write orders:read partner:read' })
}

function serviceLines (services: Record<string, number>): string[] {
  return Object.entries(services).map(([name, port]) => `  ${name.padEnd(9)} http://127.0.0.1:${port}`)
}

export function servicesBanner (services: Record<string, number>): string {
  return ['', 'Sample services are up (Ctrl-C stops them).', '', ...serviceLines(services), ''].join('\n')
}

export function banner (cfg: DemoConfig, services: Record<string, number>, token: string): string {
  const gw = `http://127.0.0.1:${cfg.publicPort}`
  const admin = `http://127.0.0.1:${cfg.adminPort}`
  const lines = [
    '', 'Gatehouse demo is up (Ctrl-C stops everything).', '',
    `  public    ${gw}`, `  admin     ${admin}/metrics  (also /livez, /readyz)`,
    ...serviceLines(services),
  ]

  const auth = '-H "Authorization: Bearer $TOKEN"'
  const json = "-H 'content-type: application/json'"
  lines.push(
    '',
    'Dev token (HS256, sub alice, scope "users:read users:write orders:read partner:read", valid 1h):',
    `  export TOKEN=${token}`,
    '',
    `  curl -i ${auth} ${gw}/api/users/me`,
    `  curl -i ${auth} ${gw}/api/orders`,
    `  curl -i ${auth} ${json} -d '{"username":"dave","name":"Dave","email":"dave@example.com"}' ${gw}/api/users`,
    `  curl -i ${gw}/api/users            # 401: no token`,
    '',
    'RS256 token from the identity service (accepted too: the gateway reads its JWKS):',
    `  RS=$(curl -s ${json} -d '{"sub":"bob","scope":"users:read"}' ${gw}/api/identity/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
    `  curl -i -H "authorization: Bearer $RS" ${gw}/api/users/me`,
    '',
    'Rate limit burst (users allows 20 a minute per consumer, so the tail is 429):',
    `  for i in $(seq 1 25); do curl -s -o /dev/null -w '%{http_code} ' ${auth} ${gw}/api/users; done; echo`,
    '',
    'Break the orders service, watch the breaker open, then heal it:',
    `  curl -s ${json} -d '{"errorRate":1,"mode":"error"}' http://127.0.0.1:${services.orders}/__faults`,
    `  for i in $(seq 1 8); do curl -s -o /dev/null -w '%{http_code} ' ${auth} ${gw}/api/orders; done; echo`,
    `  curl -s -X DELETE http://127.0.0.1:${services.orders}/__faults`,
    `  curl -s ${admin}/metrics | grep gatehouse_circuit_state`,
    ''
  )
  if (cfg.egressPort !== null && services.partner !== undefined) {
    const egress = `http://127.0.0.1:${cfg.egressPort}`
    lines.push(
      'Calling out through the egress port (allow-list: the partner API only):',
      `  curl -i -x ${egress} --proxy-header "Proxy-Authorization: Bearer $TOKEN" http://127.0.0.1:${services.partner}/rates`,
      `  curl -i -x ${egress} --proxy-header "Proxy-Authorization: Bearer $TOKEN" http://example.com/   # 403: not allowed`,
      `  HTTPS_PROXY=http://svc:$TOKEN@127.0.0.1:${cfg.egressPort} curl -s -o /dev/null -w '%{http_connect}\\n' https://example.com/   # 403 as well`,
      ''
    )
  }
  return lines.join('\n')
}
