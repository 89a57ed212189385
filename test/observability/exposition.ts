export * from '../helpers/metrics.ts'
