#!/usr/bin/env node
// The floodgate CLI. Sources are TypeScript, run through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv.slice(2));
