import os from 'node:os'
import type { MachineInfo } from './report.ts'

export function machineInfo (): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    totalMemGb: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    loadAvg: os.loadavg(),
  }
}
