/**
 * The console as one script and one stylesheet, bundled by esbuild from its TypeScript sources
 * (src/) and the npm packages they import (leaflet, leaflet.markercluster). Built in memory once
 * per process, the first time the alerts service starts: `npm ci` is the only install step, and
 * nothing is fetched from a CDN at run time.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export interface ConsoleBundle {
  js: string;
  css: string;
  /** A strong validator for both files (they change together). */
  etag: string;
}

let pending: Promise<ConsoleBundle> | undefined;

export function bundleConsole(): Promise<ConsoleBundle> {
  pending ??= build({
    entryPoints: [fileURLToPath(new URL('./src/main.ts', import.meta.url))],
    bundle: true,
    write: false,
    outdir: 'console-out',
    format: 'iife',
    target: ['es2020', 'chrome100', 'safari15'],
    minify: true,
    legalComments: 'eof', // the libraries' licence headers stay in the bundle
    loader: { '.png': 'dataurl', '.svg': 'dataurl' },
    logLevel: 'silent',
  }).then((r) => {
    const js = r.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
    const css = r.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '';
    return { js, css, etag: `"${createHash('sha256').update(js).update(css).digest('base64url').slice(0, 22)}"` };
  });
  pending.catch(() => (pending = undefined)); // a failed build is tried again by the next start
  return pending;
}
