// aedes-persistence's own abstract test suite (node:test) against aedes-persistence-level over a
// group-committed LevelDB (gateway/group-commit-level.ts), each instance on a fresh directory:
// settling writes when on disk, or (SETTLE=visible) as `up`'s session store does
// (gateway/level-session-store.ts). Run by gateway/test/group-commit-level.test.ts:
// node --import tsx --test this file.
import { test } from 'node:test';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import levelPersistence from 'aedes-persistence-level';
import { groupCommit, type KeyValueStore } from '../group-commit-level.ts';
import { levelSessionStore } from '../level-session-store.ts';

const require = createRequire(import.meta.url);
const abstractPersistence = require('aedes-persistence/abstract.js') as (opts: { test: typeof test; persistence: () => unknown }) => void;
const dir = mkdtempSync(join(tmpdir(), 'floodgate-group-commit-'));
let n = 0;
const settle = process.env['SETTLE'];
abstractPersistence({ test, persistence: () => (settle === 'visible' ? levelSessionStore(join(dir, String(n++)), (err) => { throw err; }) : levelPersistence(groupCommit(new Level<string, Buffer>(join(dir, String(n++)), { valueEncoding: 'buffer' })) as KeyValueStore)) });
