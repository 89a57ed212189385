import type { ContenderSummary } from './report.ts'

// A two-panel horizontal bar chart (req/s, CPU µs/req per proxy) as a plain SVG string,
// no dependencies. Gatehouse bars in one colour, the baseline in another. The backend
// alone ("direct") is several times faster than any proxy and would squash the scale, so
// it is a footnote, not a bar.

export interface ChartOptions {
  title: string
  subtitle?: string
  baseline: string
}

const WIDTH = 760
const LABEL_W = 150
const VALUE_W = 150
const BAR_AREA = WIDTH - LABEL_W - VALUE_W - 20
const ROW_H = 26
const BAR_H = 18
const PANEL_GAP = 36

export function escapeXml (text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!)
}

interface Bar {
  label: string
  value: number | null
  text: string
  colour: string
}

function colourOf (name: string, baseline: string): string {
  if (name === baseline) return '#555555'
  if (name.startsWith('gatehouse')) return '#2b6cb0'
  return '#a0aec0'
}

function panel (title: string, bars: Bar[], top: number): { svg: string, height: number } {
  const max = Math.max(0, ...bars.map((b) => b.value ?? 0))
  const parts = [`<text x="10" y="${top + 14}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`]
  bars.forEach((b, i) => {
    const y = top + 24 + i * ROW_H
    const w = b.value === null || max === 0 ? 0 : Math.max(1, Math.round((b.value / max) * BAR_AREA))
    parts.push(
      `<text x="${LABEL_W - 8}" y="${y + BAR_H - 4}" font-size="12" text-anchor="end">${escapeXml(b.label)}</text>`,
      `<rect x="${LABEL_W}" y="${y}" width="${w}" height="${BAR_H}" fill="${b.colour}"/>`,
      `<text x="${LABEL_W + w + 6}" y="${y + BAR_H - 4}" font-size="12">${escapeXml(b.text)}</text>`,
    )
  })
  return { svg: parts.join('\n'), height: 24 + bars.length * ROW_H }
}

export function renderChart (all: ContenderSummary[], opts: ChartOptions): string {
  const summaries = all.filter((s) => s.cpuOf === 'gateway')
  const direct = all.find((s) => s.cpuOf === 'backend')
  const ratio = (r: number | null) => r === null ? '' : ` (${r.toFixed(2)}x)`
  const rpsBars: Bar[] = summaries.map((s) => ({
    label: s.name,
    value: s.rps,
    // The ratio the targets are judged on: head to head when it ran.
    text: `${Math.round(s.rps).toLocaleString('en-US')}${ratio(s.paired?.rpsRatio ?? s.rpsRatio)}`,
    colour: colourOf(s.name, opts.baseline),
  }))
  const cpuBars: Bar[] = summaries.map((s) => ({
    label: s.name,
    value: s.cpuUsPerReq,
    text: s.cpuUsPerReq === null ? 'n/a' : `${s.cpuUsPerReq.toFixed(1)} µs${ratio(s.paired?.cpuRatio ?? s.cpuRatio)}`,
    colour: colourOf(s.name, opts.baseline),
  }))
  let y = 10
  const header = [`<text x="10" y="${y + 16}" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`]
  y += 24
  if (opts.subtitle !== undefined) {
    header.push(`<text x="10" y="${y + 12}" font-size="11" fill="#555555">${escapeXml(opts.subtitle)}</text>`)
    y += 18
  }
  y += 10
  const first = panel('Requests per second (higher is better)', rpsBars, y)
  y += first.height + PANEL_GAP
  const second = panel('Proxy CPU per request, µs (lower is better)', cpuBars, y)
  y += second.height + 10
  const footer: string[] = []
  const how = summaries.some((s) => s.paired !== null)
    ? `Ratios vs ${opts.baseline}, head to head on one core (bars: the rounds' medians).`
    : `Ratios vs ${opts.baseline}.`
  const lines = direct === undefined
    ? [how]
    : [`Backend alone (${direct.name}): ${Math.round(direct.rps).toLocaleString('en-US')} req/s, ${direct.cpuUsPerReq === null ? 'n/a' : direct.cpuUsPerReq.toFixed(1)} µs/req. ${how}`]
  for (const line of lines) {
    footer.push(`<text x="10" y="${y + 12}" font-size="11" fill="#555555">${escapeXml(line)}</text>`)
    y += 22
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    ...header,
    first.svg,
    second.svg,
    ...footer,
    '</svg>',
    '',
  ].join('\n')
}
