// `npm test`'s second reporter, beside spec: after the totals, how many tests skipped and
// why, one line per reason. A run without redis-server still exits 0, so this is where it
// says that the Redis tests did not run.
import type { TestEvent } from 'node:test/reporters'

export default async function * skipSummary (source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const reasons = new Map<string, number>()
  for await (const event of source) {
    if (event.type !== 'test:pass' || event.data.skip === undefined || event.data.skip === false) continue
    const why = event.data.skip === true ? '(no reason given)' : event.data.skip
    reasons.set(why, (reasons.get(why) ?? 0) + 1)
  }
  if (reasons.size === 0) return
  const total = [...reasons.values()].reduce((a, b) => a + b, 0)
  yield `\nskipped ${total}:\n`
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) yield `  ${String(n).padStart(3)}  ${why}\n`
}
