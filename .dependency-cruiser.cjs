// `npm run lint` part two: the layers point one way (docs/architecture.md "Layers").
// tsPreCompilationDeps makes type-only imports count: a cycle through types is still a
// cycle for whoever reads the code.
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'No import cycles, type-only ones included.', from: {}, to: { circular: true } },
    { name: 'lib-is-a-leaf', severity: 'error', comment: 'lib/ holds the shared contracts and imports nothing else of ours.', from: { path: '^lib/' }, to: { path: '^(apps|plugins|services|bench|scripts|test)/' } },
    { name: 'plugins-never-import-apps', severity: 'error', comment: 'apps/ composes plugins; a plugin never reaches back into an app.', from: { path: '^plugins/' }, to: { path: '^(apps|services|bench|scripts|test)/' } },
    { name: 'product-never-imports-measurement', severity: 'error', comment: 'bench/, scripts/ and test/ use the product, never the other way round.', from: { path: '^(apps|plugins|lib|services)/' }, to: { path: '^(bench|scripts|test)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
}
