import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'

// The end of every request, reported exactly once to the plugins that count or log it
// (metrics, access log), for the three ways a request ends:
// - answered: the response finished;
// - the client left before the answer was complete (status 499 when no header went out);
// - rejected by Fastify's router before any hook (a target it cannot decode, e.g.
//   `%C0%AF`): frameworkErrors (apps/gateway/fastify-options.ts) calls frameworkResponse().
// The first two are told apart by one 'close' listener per response, set by request
// context's onRequest hook: 'close' comes once, after 'finish' too.
// The same listener aborts the upstream call of a client that left. One listener and no
// onResponse hook: the hot path pays for neither a second listener nor a hook phase.

export type ResponseObserver = (request: FastifyRequest, statusCode: number, aborted: boolean) => void

// nginx's status for a client that closed the connection before it got an answer. Used
// for metrics and the access log only; nothing is ever sent with it.
export const CLIENT_CLOSED_REQUEST = 499

declare module 'fastify' {
  interface FastifyRequest {
    // Set once the end of the request has been reported.
    gwEnded: boolean
  }
}

const kRequest = Symbol('gatehouse.request')
const kClosed = Symbol('gatehouse.closed')
type WatchedResponse = ServerResponse & { [kRequest]?: FastifyRequest, [kClosed]?: (res: ServerResponse) => void }

// For the gateway, which closes a replaced generation once the last of its responses has
// closed (apps/gateway/app.ts): `closed` runs from the same 'close' listener, after the
// end is reported, instead of from a second listener on every response. Only for
// responses routed into an instance with this plugin, whose first hook sets the listener.
export function onResponseClosed (res: ServerResponse, closed: (res: ServerResponse) => void) {
  (res as WatchedResponse)[kClosed] = closed
}

type EndWatch = (request: FastifyRequest, res: ServerResponse) => void

const observersByApp = new WeakMap<FastifyInstance, ResponseObserver[]>()
const watchByApp = new WeakMap<FastifyInstance, EndWatch>()

// A cut response keeps the status already sent with its headers; else 499.
function cutStatus (res: ServerResponse): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST
}

function notify (list: ResponseObserver[], request: FastifyRequest, statusCode: number, aborted: boolean) {
  request.gwEnded = true
  for (let i = 0; i < list.length; i++) list[i]!(request, statusCode, aborted)
}

// Called once by the request-context plugin on its root instance; returns what its
// onRequest hook calls for every request.
export function createEndWatch (app: FastifyInstance): EndWatch {
  const observers: ResponseObserver[] = []
  observersByApp.set(app, observers)
  app.decorateRequest('gwEnded', false)
  function requestEnded (res: WatchedResponse) {
    const request = res[kRequest]!
    if (res.writableFinished) {
      if (!request.gwEnded) notify(observers, request, res.statusCode, false)
      return
    }
    // The client left (or the answer broke) before the response was complete.
    request.gw.upstreamCall?.abort()
    if (!request.gwEnded) notify(observers, request, cutStatus(res), true)
  }
  // The listeners are shared by every response of the app (`this` is the response): no
  // closure per request.
  function requestClosed (this: WatchedResponse) {
    requestEnded(this)
    this[kClosed]?.(this)
  }
  function upgradeAnswered (this: WatchedResponse) {
    requestEnded(this)
  }
  function watchEnd (request: FastifyRequest, res: ServerResponse) {
    (res as WatchedResponse)[kRequest] = request
    res.on('close', requestClosed)
    // An upgrade's response closes with its socket, i.e. after the WebSocket tunnel its
    // 101 opened: the exchange ends when the answer is written.
    if ((request.raw as { upgrade?: boolean }).upgrade === true) res.on('finish', upgradeAnswered)
  }
  watchByApp.set(app, watchEnd)
  return watchEnd
}

// The watcher of the root instance a request belongs to, for requests answered before
// any hook ran (frameworkErrors); undefined without the request-context plugin.
export function endWatchOf (app: FastifyInstance): EndWatch | undefined {
  return watchByApp.get(app)
}

// Registers an observer on the root instance `app` (a fastify-plugin's instance), which
// must have the request-context plugin.
export function observeResponses (app: FastifyInstance, observer: ResponseObserver) {
  const list = observersByApp.get(app)
  if (list === undefined) throw new Error('observeResponses needs the gatehouse-request-context plugin on this instance')
  list.push(observer)
}
