// Requests and 5xx answers per service over the last minute, for the status page: a
// ring of 60 one-second buckets per service. Recording is a Map lookup and two
// increments (no allocation once the service is known); reading sums the buckets of the
// last 60 seconds. Stale buckets are reset when their second comes round again.

const SECONDS = 60

interface Ring {
  stamps: Float64Array // the second each bucket holds
  total: Uint32Array
  errors: Uint32Array
}

export interface WindowCounts {
  requests: number
  errors5xx: number
}

export class RequestWindow {
  readonly #rings = new Map<string, Ring>()
  readonly #now: () => number

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  record (service: string, statusCode: number): void {
    let ring = this.#rings.get(service)
    if (ring === undefined) {
      ring = { stamps: new Float64Array(SECONDS).fill(-1), total: new Uint32Array(SECONDS), errors: new Uint32Array(SECONDS) }
      this.#rings.set(service, ring)
    }
    const second = Math.floor(this.#now() / 1000)
    const i = second % SECONDS
    if (ring.stamps[i] !== second) {
      ring.stamps[i] = second
      ring.total[i] = 0
      ring.errors[i] = 0
    }
    ring.total[i]!++
    if (statusCode >= 500) ring.errors[i]!++
  }

  lastMinute (service: string): WindowCounts {
    const ring = this.#rings.get(service)
    const out = { requests: 0, errors5xx: 0 }
    if (ring === undefined) return out
    const now = Math.floor(this.#now() / 1000)
    for (let i = 0; i < SECONDS; i++) {
      if (now - ring.stamps[i]! >= SECONDS) continue
      out.requests += ring.total[i]!
      out.errors5xx += ring.errors[i]!
    }
    return out
  }

  // Forgets services that are gone (the admin API can add and remove any name).
  retain (services: Iterable<string>): void {
    const keep = new Set(services)
    for (const name of this.#rings.keys()) if (!keep.has(name)) this.#rings.delete(name)
  }
}
