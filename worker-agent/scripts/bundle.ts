// `npm run bundle -w worker-agent`: the agent as one CommonJS file with every dependency inlined,
// runnable by any Node ≥ 20 without `npm install` (copy it into a worker image).

import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_BUNDLE = join(root, 'dist', 'workforce-agent.cjs');

export async function bundle(outfile = DEFAULT_BUNDLE, entry = join(root, 'src', 'cli.ts')): Promise<string> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    conditions: ['source'],
    // ES module builds first, so unused parts of the SDKs (the ATOM admin client, its XML
    // parser) are shaken out: a smaller file, faster start-up, less memory.
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await bundle(process.argv[2]);
  console.log(`bundled ${out}`);
}
