import neostandard from 'neostandard'

// The Fastify ecosystem's style (neostandard), with TypeScript. Import direction and
// cycles are checked by dependency-cruiser (.dependency-cruiser.cjs), which also sees
// type-only imports.
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**', 'node_modules/**'] }),
  {
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['@fastify/*/**', 'fastify/**', 'opossum/**', 'prom-client/**', 'ioredis/**', 'undici/**', 'fast-jwt/**', '!undici/types'],
          message: 'Import a package by its public entry point, never its private files.',
        }],
      }],
    },
  },
]
