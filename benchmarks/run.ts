/** `npm run bench [-- scenario]`: runs the benchmark scenarios (default: all). */
const scenarios: Record<string, () => Promise<unknown>> = {
  gateway: () => import('./gateway.ts'),
  ingest: () => import('./ingest.ts'),
  rules: () => import('./rules.ts'),
};
const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(scenarios)) {
  const run = scenarios[name];
  if (!run) {
    process.stderr.write(`unknown benchmark ${name}; known: ${Object.keys(scenarios).join(', ')}\n`);
    process.exit(2);
  }
  await run();
}
