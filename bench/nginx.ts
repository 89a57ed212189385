import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { PREFIX } from './contenders.ts'

// nginx as a contender: a minimal generated config in the run's temp dir. One process
// (master_process off, no daemon), so its pid is the one to read CPU from and to stop.

export function nginxVersion (): string | null {
  const probe = spawnSync('nginx', ['-v'], { encoding: 'utf8', timeout: 2000 })
  return probe.error === undefined && probe.status === 0 ? probe.stderr.trim().replace(/^nginx version: nginx\//, '') : null
}

// The nginx command line for a proxy on `port` in front of backendUrl.
export function nginxCommand (dir: string, port: number, backendUrl: string): string[] {
  mkdirSync(dir, { recursive: true })
  const conf = path.join(dir, 'nginx.conf')
  writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream backend { server ${new URL(backendUrl).host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location ${PREFIX}/ {
      proxy_pass http://backend/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`)
  return ['nginx', '-p', dir, '-c', conf, '-e', path.join(dir, 'error.log')]
}
