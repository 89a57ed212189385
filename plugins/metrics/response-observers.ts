import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { newRequestContext } from '../request-context/index.ts'

// The end of every request, reported exactly once to the plugins that count or log it
// (metrics, access log), for the three ways a request ends:
// - answered: Fastify's onResponse;
// - the client left before the answer was complete: onResponse never runs then, so a
//   'close' listener set in onRequest reports it (status 499 when no header went out);
// - rejected by Fastify's router before any hook (a target it cannot decode, e.g.
//   `%C0%AF`): frameworkErrors (apps/gateway/fastify-options.ts) calls frameworkResponse().
// One watcher per request whatever the number of observers, so the hot path pays once.

export type ResponseObserver = (request: FastifyRequest, statusCode: number, aborted: boolean) => void

// nginx's status for a client that closed the connection before it got an answer. Used
// for metrics and the access log only; nothing is ever sent with it.
export const CLIENT_CLOSED_REQUEST = 499

declare module 'fastify' {
  interface FastifyRequest {
    // Set once the end of the request has been reported (see observeResponses).
    gwEnded: boolean
  }
}

const kObserved = Symbol('gatehouse.observedRequest')
type ObservedResponse = ServerResponse & { [kObserved]?: FastifyRequest }

const observersByApp = new WeakMap<FastifyInstance, ResponseObserver[]>()

// A cut response keeps the status already sent with its headers; else 499.
function cutStatus (res: ServerResponse): number {
  return res.headersSent ? res.statusCode : CLIENT_CLOSED_REQUEST
}

function notify (list: ResponseObserver[], request: FastifyRequest, statusCode: number, aborted: boolean) {
  request.gwEnded = true
  for (let i = 0; i < list.length; i++) list[i]!(request, statusCode, aborted)
}

// Registers an observer on the root instance `app` (a fastify-plugin's instance). The
// first one installs the hooks, so they sit where the first observing plugin registers.
export function observeResponses (app: FastifyInstance, observer: ResponseObserver) {
  let list = observersByApp.get(app)
  if (list === undefined) {
    const observers: ResponseObserver[] = list = []
    observersByApp.set(app, observers)
    app.decorateRequest('gwEnded', false)
    // One listener for every request of this app (the request rides on the response), so
    // the hot path makes no closure. 'close' comes once, after 'finish' too.
    const reportCut = function reportCut (this: ObservedResponse) {
      const request = this[kObserved]!
      if (!request.gwEnded) notify(observers, request, cutStatus(this), true)
    }
    app.addHook('onRequest', function watchClientClose (request, reply, done) {
      const res = reply.raw as ObservedResponse
      res[kObserved] = request
      res.on('close', reportCut)
      done()
    })
    app.addHook('onResponse', function reportResponse (request, reply, done) {
      if (!request.gwEnded) notify(observers, request, reply.statusCode, false)
      done()
    })
  }
  list.push(observer)
}

// For frameworkErrors: call before answering. Gives the request the context
// request-context would have made (unmatched, timed from now, its trace id; sendProblem
// fills in `code`) and reports the end once the answer is written or cut.
export function frameworkResponse (request: FastifyRequest, reply: { raw: ServerResponse, statusCode: number }) {
  const list = observersByApp.get(request.server)
  if (list === undefined) return
  if (!request.gw) {
    request.gw = newRequestContext(request, reply.raw, null)
  }
  const res = reply.raw
  const onFinish = () => {
    res.off('close', onClose)
    if (!request.gwEnded) notify(list, request, reply.statusCode, false)
  }
  const onClose = () => {
    res.off('finish', onFinish)
    if (!request.gwEnded) notify(list, request, cutStatus(res), true)
  }
  res.once('finish', onFinish)
  res.once('close', onClose)
}
