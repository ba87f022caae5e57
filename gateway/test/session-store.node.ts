// aedes-persistence's own abstract test suite (node:test) against the indexed memory store.
// Run by gateway/test/session-store.test.ts: node --import tsx --test this file.
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { indexedMemoryPersistence } from '../session-store.ts';

const require = createRequire(import.meta.url);
const abstractPersistence = require('aedes-persistence/abstract.js') as (opts: { test: typeof test; persistence: () => unknown }) => void;
abstractPersistence({ test, persistence: () => indexedMemoryPersistence() });
