import { Type } from '@sinclair/typebox'

// A service's `websocket` key: whether upgrades to it are tunnelled (off by default).
export const WebSocketServiceProps = {
  websocket: Type.Optional(Type.Boolean({ default: false })),
}

export const DEFAULT_WEBSOCKET = false
