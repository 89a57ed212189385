import { TITLES } from './errors.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  requestId: string
  [extension: string]: unknown
}

// RFC 9457 body. `type` points at the code's section of the public docs so clients can
// link to it; it is a stable URI, not a fetchable promise.
export function buildProblem (status: number, code: string, detail: string, requestId: string,
  extensions?: Record<string, unknown>): Problem {
  return {
    ...extensions,
    type: `https://gatehouse.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    requestId,
  }
}
