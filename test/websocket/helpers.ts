// What the WebSocket tests share: tokens with the chat scope, the chat service's config,
// ws:// URLs and the connections gauge.
import type { Gateway } from '../../apps/gateway/app.ts'
import { baseConfig } from '../helpers/gateway.ts'
import { metricValue } from '../helpers/metrics.ts'
import { JWT_SECRET, sign } from '../helpers/tokens.ts'

export const token = (sub: string, scope = 'chat') => sign({ sub, scope })
export const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

export function wsUrl (httpUrl: string, path: string): string {
  return httpUrl.replace(/^http/, 'ws') + path
}

export async function gauge (gateway: Gateway, service: string): Promise<number> {
  return (await metricValue(gateway, 'gatehouse_websocket_connections', { service })) ?? 0
}

export function chatConfig (upstream: string, extra: Record<string, unknown> = {}, gatewayExtra: Record<string, unknown> = {}) {
  return baseConfig([{ name: 'chat', prefix: '/api/chat', upstreams: [upstream], websocket: true, auth: 'required', scopes: ['chat'], ...extra }],
    { auth: { jwt: { secret: JWT_SECRET } }, logging: { level: 'info', access: true }, ...gatewayExtra })
}
