// `npm test [-- <files or globs>] [-- --test-<flag>=<value>]`: the suite with a Redis of its
// own. Starts a throwaway redis-server (free port, temp dir, no persistence) unless
// GATEHOUSE_TEST_REDIS_URL names a Redis to use instead, hands the URL to every test file
// through that variable, runs `node --test`, and stops the redis by its pid however the
// run ends (done, failed, Ctrl-C, SIGTERM). Without a redis-server binary the Redis tests
// skip (one line here, a count in the summary) and the rest run; GATEHOUSE_TEST_REQUIRE_REDIS=1
// (CI) makes that an error instead.
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import {
  REDIS_INSTALL_HINT, RedisServerMissing, redisServerBinary, startRedisServer, type RedisServer,
} from '../test/helpers/redis-server.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const SKIP_SUMMARY = fileURLToPath(new URL('./test/skip-summary.ts', import.meta.url))
const TEST_FLAGS = ['--test', '--test-concurrency=2', '--test-timeout=60000']
const ALL_TESTS = ['test/**/*.test.ts']
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

function say (line: string) {
  process.stderr.write(`npm test: ${line}\n`)
}

const args = process.argv.slice(2)
// Flags must be written --flag=value: anything else is a file or glob.
const flags = args.filter((a) => a.startsWith('-'))
const files = args.filter((a) => !a.startsWith('-'))
const reporters = flags.some((f) => f.startsWith('--test-reporter'))
  ? []
  : ['--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${SKIP_SUMMARY}`, '--test-reporter-destination=stdout']

let redis: RedisServer | null = null
let tests: ChildProcess | null = null
let stopping: NodeJS.Signals | null = null

// A signal while redis starts stops the run before the tests; during the tests it is
// passed on (a second one kills them), and redis is stopped once they have exited.
for (const signal of SIGNALS) {
  process.on(signal, () => {
    if (tests === null) {
      stopping ??= signal
      return
    }
    if (stopping !== null) tests.kill('SIGKILL')
    else tests.kill(signal)
    stopping ??= signal
  })
}
// Whatever else ends this process (a throw here), the redis does not outlive it.
process.on('exit', () => redis?.stopNow())

const signalCode = (signal: NodeJS.Signals) => 128 + constants.signals[signal]

async function finish (code: number): Promise<never> {
  await redis?.stop()
  process.exit(code)
}

const env: NodeJS.ProcessEnv = { ...process.env }
delete env.GATEHOUSE_TEST_REDIS_SKIP
if (env.GATEHOUSE_TEST_REDIS_URL) {
  say(`the Redis tests use GATEHOUSE_TEST_REDIS_URL=${env.GATEHOUSE_TEST_REDIS_URL} (keys under gatehouse:test*, removed after each test)`)
} else {
  const bin = redisServerBinary()
  try {
    redis = await startRedisServer(bin)
    env.GATEHOUSE_TEST_REDIS_URL = redis.url
    say(`a throwaway redis-server for this run: pid ${redis.pid} on ${redis.url}`)
  } catch (err) {
    if (!(err instanceof RedisServerMissing)) {
      say(`could not start ${bin}: ${(err as Error).message}`)
      await finish(1)
    }
    const missing = `${bin} not found; ${REDIS_INSTALL_HINT}, or set GATEHOUSE_TEST_REDIS_URL to a Redis to use`
    if (env.GATEHOUSE_TEST_REQUIRE_REDIS === '1') {
      say(`GATEHOUSE_TEST_REQUIRE_REDIS=1 and ${missing}`)
      await finish(1)
    }
    say(`SKIPPING EVERY TEST THAT NEEDS REDIS: ${missing}`)
    env.GATEHOUSE_TEST_REDIS_SKIP = `needs Redis: ${missing}`
  }
}
if (stopping !== null) await finish(signalCode(stopping))

tests = spawn(process.execPath, [...TEST_FLAGS, ...reporters, ...flags, ...(files.length > 0 ? files : ALL_TESTS)],
  { cwd: root, env, stdio: 'inherit' })
const code = await new Promise<number>((resolve) => {
  tests!.once('error', (err) => { say(`could not run node --test: ${err.message}`); resolve(1) })
  tests!.once('exit', (c, signal) => resolve(c ?? signalCode(signal ?? 'SIGTERM')))
})
await finish(stopping !== null && code === 0 ? signalCode(stopping) : code)
