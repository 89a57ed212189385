import neostandard from 'neostandard'

// The Fastify ecosystem's style (neostandard), with TypeScript. Import direction and
// cycles are checked by dependency-cruiser (.dependency-cruiser.cjs), which also sees
// type-only imports.
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**', 'node_modules/**'] }),
  {
    rules: {
      // `${VAR}` in strings is the config syntax this product expands; tests and
      // messages spell it on purpose.
      'no-template-curly-in-string': 'off',
      // `void promise` marks a promise left to run on purpose (its errors handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['@fastify/*/**', 'fastify/**', 'opossum/**', 'prom-client/**', 'ioredis/**', 'undici/**', 'fast-jwt/**', '!undici/types'],
          message: 'Import a package by its public entry point, never its private files.',
        }],
      }],
    },
  },
]
