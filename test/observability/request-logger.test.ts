import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { createLogger } from '../../apps/gateway/logger.ts'
import { GatewayLogger } from '../../apps/gateway/request-logger.ts'
import { baseFastifyOptions } from '../../apps/gateway/fastify-options.ts'
import Fastify from 'fastify'

function sinkLogger (level: string) {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  const parent = createLogger(level, sink)
  let children = 0
  // pino children inherit from their parent, so the spy must keep `this`.
  const child = parent.child
  parent.child = function (this: typeof parent, ...args: Parameters<typeof child>) {
    children++
    return child.apply(this, args)
  } as typeof parent.child
  return { parent, lines, children: () => children }
}

test('a request logger makes no pino child until a line at an enabled level is written, then exactly one', () => {
  const { parent, lines, children } = sinkLogger('warn')
  const log = new GatewayLogger(parent).child({ reqId: 'r-1' }, {})
  log.info({ a: 1 }, 'below the level')
  log.debug('below the level')
  assert.equal(children(), 0, 'nothing made for lines that are not written')
  assert.equal(log.level, 'warn')
  log.warn({ upstream: 'http://127.0.0.1:1' }, 'first')
  log.error('second')
  assert.equal(children(), 1)
  assert.deepEqual(lines.map((l) => [l.msg, l.reqId, l.level]), [['first', 'r-1', 40], ['second', 'r-1', 50]])
  assert.equal(lines[0]!.upstream, 'http://127.0.0.1:1')
})

test('a request logger keeps redaction and child bindings of the gateway logger', () => {
  const { parent, lines, children } = sinkLogger('info')
  const log = new GatewayLogger(parent).child({ reqId: 'r-2' }, {})
  log.child({ service: 'users' }).info({ headers: { authorization: 'Bearer secret-token' } }, 'with headers')
  assert.equal(lines.length, 1)
  assert.equal(lines[0]!.reqId, 'r-2')
  assert.equal(lines[0]!.service, 'users')
  assert.deepEqual(lines[0]!.headers, { authorization: '[redacted]' })
  assert.equal(children(), 2, 'the request child, then its own child')
})

test('a per-route level gets a real child at once', () => {
  const { parent, children } = sinkLogger('warn')
  const log = new GatewayLogger(parent).child({ reqId: 'r-3' }, { level: 'debug' })
  assert.equal(children(), 1)
  assert.equal(log.level, 'debug')
})

test('through the gateway\'s Fastify options, requests that never log make no pino child; one that logs gets its reqId', async (t) => {
  const { parent, lines, children } = sinkLogger('warn')
  const app = Fastify(baseFastifyOptions(parent))
  t.after(() => app.close())
  app.get('/quiet', (request, reply) => {
    request.log.info('below the level')
    reply.send('ok')
  })
  app.get('/loud', (request, reply) => {
    request.log.warn('written')
    reply.send('ok')
  })
  await app.ready()
  const atStart = children()
  for (let i = 0; i < 20; i++) assert.equal((await app.inject('/quiet')).statusCode, 200)
  assert.equal(children(), atStart, 'no child per request')
  const res = await app.inject({ url: '/loud', headers: { 'x-request-id': 'loud-1' } })
  assert.equal(res.statusCode, 200)
  assert.equal(children(), atStart + 1)
  assert.deepEqual(lines.map((l) => [l.msg, l.reqId]), [['written', 'loud-1']])
  // The instance's own logger writes through the gateway logger, at its level.
  app.log.warn('from the app')
  app.log.info('not written')
  assert.deepEqual(lines.map((l) => l.msg), ['written', 'from the app'])
})
