// Clients that need nothing special: curl, Node's fetch with NODE_USE_ENV_PROXY=1 and
// undici's ProxyAgent, through the egress port to real destinations on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { ProxyAgent, fetch as undiciFetch } from 'undici'
import { createEgressGateway, curl, hasCurl, proxyBearer } from '../helpers/egress.ts'
import { createUpstream } from '../helpers/upstream.ts'
import { spawnNode } from '../helpers/process.ts'
import { sign } from '../helpers/tokens.ts'
import { certDir, selfSigned, type CertFiles } from '../tls/certs.ts'

const curlSkip = (await hasCurl()) ? false : 'needs curl'

async function httpsDestination (t: TestContext): Promise<{ port: number, cert: CertFiles }> {
  const cert = selfSigned(certDir(t), 'destination')
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(`secure ${req.url} via ${req.headers['proxy-authorization'] === undefined ? 'clean' : 'LEAKED'}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { port: (server.address() as AddressInfo).port, cert }
}

async function setup (t: TestContext) {
  const plain = await createUpstream(t)
  const secure = await httpsDestination(t)
  const gw = await createEgressGateway(t, {
    allow: [{ host: '127.0.0.1', ports: [plain.port, secure.port] }],
    allowNetworks: ['127.0.0.1/32'],
  })
  return { plain, secure, gw }
}

test('curl -x with --proxy-header gets the plain-HTTP destination; without a token 407', { skip: curlSkip }, async (t) => {
  const { plain, gw } = await setup(t)
  const ok = await curl(['-x', gw.egressUrl, '--proxy-header', `Proxy-Authorization: ${proxyBearer()}`, `http://127.0.0.1:${plain.port}/hello`])
  assert.equal(ok.code, 0, ok.stderr)
  assert.equal(JSON.parse(ok.stdout).url, '/hello')
  const no = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', gw.egressUrl, `http://127.0.0.1:${plain.port}/hello`])
  assert.equal(no.stdout, '407')
})

test('curl --proxytunnel reaches a local https server through CONNECT, certificate checked end to end', { skip: curlSkip }, async (t) => {
  const { secure, gw } = await setup(t)
  const res = await curl(['--proxytunnel', '-x', gw.egressUrl, '--proxy-header', `Proxy-Authorization: ${proxyBearer()}`,
    '--cacert', secure.cert.cert, `https://127.0.0.1:${secure.port}/tunnelled`])
  assert.equal(res.code, 0, res.stderr)
  assert.equal(res.stdout, 'secure /tunnelled via clean')
})

test('HTTPS_PROXY=http://user:TOKEN@gateway works with curl (Basic, the JWT as the password)', { skip: curlSkip }, async (t) => {
  const { secure, gw } = await setup(t)
  const proxy = `http://svc:${sign('svc-curl')}@127.0.0.1:${gw.egressPort}`
  const res = await curl(['--cacert', secure.cert.cert, `https://127.0.0.1:${secure.port}/env`], { HTTPS_PROXY: proxy })
  assert.equal(res.code, 0, res.stderr)
  assert.equal(res.stdout, 'secure /env via clean')
  const line = await gw.waitForLog((l) => l.egress === true && l.method === 'CONNECT')
  assert.equal(line.consumer, 'svc-curl')
})

test('Node fetch with NODE_USE_ENV_PROXY=1 uses HTTPS_PROXY and HTTP_PROXY unchanged', async (t) => {
  const { plain, secure, gw } = await setup(t)
  const token = sign('svc-node')
  const script = `
    const a = await fetch('https://127.0.0.1:${secure.port}/node').then((r) => r.text())
    const b = await fetch('http://127.0.0.1:${plain.port}/node-plain').then((r) => r.json())
    console.log(JSON.stringify({ a, b: b.url }))`
  const proxy = `http://svc:${token}@127.0.0.1:${gw.egressPort}`
  const child = spawnNode(t, ['--input-type=module', '-e', script], {
    NODE_USE_ENV_PROXY: '1',
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    NO_PROXY: '',
    no_proxy: '',
    NODE_EXTRA_CA_CERTS: secure.cert.cert,
  })
  assert.equal(await child.exited, 0, child.stderr())
  assert.deepEqual(JSON.parse(child.stdout()), { a: 'secure /node via clean', b: '/node-plain' })
  const lines = gw.logs.filter((l) => l.egress === true && l.status === 200)
  assert.equal(lines.length, 2)
  assert.ok(lines.every((l) => l.consumer === 'svc-node'))
})

test('undici ProxyAgent with a token reaches http and https destinations', async (t) => {
  const { plain, secure, gw } = await setup(t)
  const agent = new ProxyAgent({ uri: gw.egressUrl, token: proxyBearer('svc-undici'), requestTls: { ca: secure.cert.certPem } })
  t.after(() => agent.close())
  const a = await undiciFetch(`https://127.0.0.1:${secure.port}/undici`, { dispatcher: agent })
  assert.equal(await a.text(), 'secure /undici via clean')
  const b = await undiciFetch(`http://127.0.0.1:${plain.port}/undici-plain`, { dispatcher: agent })
  assert.equal(b.status, 200)
  assert.equal(((await b.json()) as { url: string }).url, '/undici-plain')
  const noToken = new ProxyAgent({ uri: gw.egressUrl })
  t.after(() => noToken.close())
  await assert.rejects(undiciFetch(`https://127.0.0.1:${secure.port}/`, { dispatcher: noToken }), (err: Error) => {
    let messages = ''
    for (let e: Error | undefined = err; e !== undefined; e = e.cause as Error | undefined) messages += `${e.message}\n`
    return /Proxy response \(407\)/.test(messages)
  })
})
