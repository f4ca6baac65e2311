// The Node example worker (examples/node/worker.ts) as one ES module with the worker library
// inlined, runnable with `node` and no install: what the demo, the tests and a quick try run.

import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_EXAMPLE_BUNDLE = join(root, 'dist', 'example-worker.mjs');

export async function bundleExampleWorker(outfile = DEFAULT_EXAMPLE_BUNDLE): Promise<string> {
  await build({
    entryPoints: [join(root, 'examples', 'node', 'worker.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    conditions: ['source'],
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`bundled ${await bundleExampleWorker(process.argv[2])}`);
}
