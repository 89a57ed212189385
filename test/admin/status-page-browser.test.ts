// The status page in a real browser: Debian's chromium, headless, driven by
// playwright-core (no browser download), with JavaScript off. It logs in through HTTP
// Basic as a person would at the browser's prompt, and sees a breaker open on its own
// (the page's meta refresh, not the test, reloads it). Skips where chromium is absent.
// GATEHOUSE_STATUS_SCREENSHOT=<file> also writes a screenshot (docs/status-page.png is one).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { createUpstream } from '../helpers/upstream.ts'
import { baseConfig, createGateway } from '../helpers/gateway.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`
const TOKEN = 'status-browser-token'
// Quiet, offline, throwaway: nothing phones home, nothing is kept.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

test('chromium with JavaScript off logs in with Basic, then sees a breaker open as the page refreshes itself', { skip, timeout: 60_000 }, async (t) => {
  let failing = false
  const orders = await createUpstream(t, (_req, res) => {
    res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' })
    res.end('{}')
  })
  const users = await createUpstream(t)
  const gw = await createGateway(t, baseConfig([
    { name: 'users', prefix: '/api/users', upstreams: [users.origin], rateLimit: { max: 100, window: '1m' } },
    { name: 'orders', prefix: '/api/orders', upstreams: [orders.origin], retries: 0, circuitBreaker: { volumeThreshold: 4, resetTimeout: '30s' } },
    { name: 'catalog', prefix: '/api/catalog', upstreams: [orders.origin], healthCheck: { path: '/health', interval: '5s' } },
  ], { admin: { token: TOKEN }, rateLimit: { store: 'memory', default: { max: 100, window: '1m' } } }), { listen: true })
  for (let i = 0; i < 5; i++) await fetch(`${gw.url}/api/users/${i}`)

  const profile = await mkdtemp(join(tmpdir(), 'gatehouse-chromium-'))
  // One hook, in this order: a browser still running writes into its profile while the
  // profile is being removed (ENOTEMPTY), and a failed hook would leave it running.
  const opened: Array<{ close: () => Promise<void> }> = []
  t.after(async () => {
    for (const b of opened) await b.close().catch(() => {})
    await rm(profile, { recursive: true, force: true, maxRetries: 5 })
  })
  const launch = async (httpCredentials?: { username: string, password: string }) => {
    const context = await launchContext(httpCredentials)
    opened.push(context)
    return context
  }
  const launchContext = (httpCredentials?: { username: string, password: string }) => chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    javaScriptEnabled: false,
    httpCredentials,
    viewport: { width: 1280, height: 720 },
  })

  // No credentials: the browser gets the Basic challenge (headless, nobody answers the
  // prompt, so the navigation fails once the 401 is in).
  const anonymous = await launch()
  const blank = anonymous.pages()[0] ?? await anonymous.newPage()
  const challenged = blank.waitForEvent('response')
  await blank.goto(`${gw.adminUrl}/status`).catch(() => null)
  const refused = await challenged
  assert.equal(refused.status(), 401)
  assert.equal(refused.headers()['www-authenticate'], 'Basic realm="gatehouse"')
  await anonymous.close()

  const browser = await launch({ username: 'ops', password: TOKEN })
  const page = browser.pages()[0] ?? await browser.newPage()
  const res = await page.goto(`${gw.adminUrl}/status`)
  assert.equal(res?.status(), 200)
  const breaker = page.locator(`tr[data-upstream="orders ${orders.origin}"] td.circuit`)
  assert.equal(await breaker.textContent(), 'closed')
  assert.equal(await page.locator('tr[data-service="users"] td.num').first().textContent(), '5')
  assert.match(await page.locator('#egress').textContent() ?? '', /egress: not configured/)

  // A real failing upstream: 503s until the breaker opens.
  failing = true
  for (let i = 0; i < 4; i++) assert.equal((await fetch(`${gw.url}/api/orders/${i}`)).status, 503)
  assert.equal((await fetch(`${gw.url}/api/orders/x`)).headers.get('retry-after') !== null, true)

  // The page reloads itself (meta refresh); the open breaker and its countdown appear.
  await page.waitForSelector(`tr[data-upstream="orders ${orders.origin}"] td.circuit .bad`, { timeout: 20_000 })
  assert.equal(await breaker.textContent(), 'open')
  const halfOpen = Number((await page.locator(`tr[data-upstream="orders ${orders.origin}"] td.half-open`).textContent())?.replace('s', ''))
  assert.ok(halfOpen > 0 && halfOpen <= 30, String(halfOpen))

  const shot = process.env.GATEHOUSE_STATUS_SCREENSHOT
  if (shot !== undefined && shot !== '') await page.screenshot({ path: shot, fullPage: true })
})
