import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { markdownTable, tableRows, type Sample, type Summary } from './summary.ts'

// bench/results/latest.{md,json}: the table with what it was measured on and how.

export interface Report {
  date: string
  machine: string
  pinning: string
  method: string
  versions: string
  contenders: { name: string, description: string, summary: Summary, samples: Sample[] }[]
  skipped: { name: string, reason: string }[]
  problems: string[] // failed requests, contenders that failed to start or died
}

export function machineLine (): string {
  const cpus = os.cpus()
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ')
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${os.type()} ${os.release()}, Node ${process.version}; load average ${load} at the start`
}

export function packageVersion (root: string, name: string): string {
  try {
    return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'not installed'
  }
}

export function toMarkdown (r: Report): string {
  return [
    `# Gatehouse bench, ${r.date}`,
    '',
    `- machine: ${r.machine}`,
    `- pinning: ${r.pinning}`,
    `- method: ${r.method}`,
    `- versions: ${r.versions}`,
    '',
    markdownTable(tableRows(r.contenders.map((c) => c.summary))),
    '',
    ...r.contenders.map((c) => `- ${c.name}: ${c.description}`),
    ...r.skipped.map((s) => `- not measured: ${s.name}: ${s.reason.split('\n')[0]}`),
    ...r.problems.map((p) => `- **FAILED**: ${p.split('\n')[0]}`),
    '',
  ].join('\n')
}

export function writeReport (dir: string, r: Report): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(r, null, 2) + '\n')
  writeFileSync(path.join(dir, 'latest.md'), toMarkdown(r))
}
