import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests start real servers (aedes, VictoriaMetrics, InfluxDB 1.x): give them room,
    // and keep the 2-core CI machine from running too many at once.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**'],
    allowOnly: false,
  },
});
