// Bounded poll, for state that has no event to wait on: time-driven state (expiry,
// health-check intervals, reconnect backoff) or state only the gateway sees. Anything
// with an event (a log line, a reload, a socket close) waits for that event instead.
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
