// The steady load in a process of its own (`node scripts/cluster/load-process.ts URL RATE
// CONCURRENCY`), so the latencies it records are the cluster's, not the event-loop lag
// of the script that kills and starts processes meanwhile. On the IPC message 'stop' it
// sends back every sample and exits.
import { SteadyLoad } from './load.ts'

const [url, rate, concurrency] = process.argv.slice(2)
const load = new SteadyLoad(url!, Number(rate), Number(concurrency))
load.start()
process.send!('started')
process.on('message', (msg) => {
  if (msg !== 'stop') return
  void load.stop().then(() => process.send!({ samples: load.samples }, () => process.exit(0)))
})
// The script gone (its IPC channel closed): nothing left to report to.
process.on('disconnect', () => process.exit(0))
