// Checks that turn a confusing child-process failure into one clear sentence.
import { createServer } from 'node:net'

export interface PortUse {
  port: number
  what: string
}

function isFree (port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false)
      else reject(err)
    })
    // 127.0.0.1 also collides with a process bound to 0.0.0.0 on that port.
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)))
  })
}

export async function busyPorts (ports: PortUse[]): Promise<string[]> {
  const problems: string[] = []
  for (const { port, what } of ports) {
    if (!(await isFree(port))) {
      problems.push(`port ${port} (${what}) is already in use: is another demo still running? ` +
        `Find the process with \`lsof -iTCP:${port} -sTCP:LISTEN\` or \`ss -ltnp 'sport = :${port}'\`.`)
    }
  }
  return problems
}
