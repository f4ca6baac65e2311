// `workforce --version`: the root package's version, read from its package.json (the same file
// whether the CLI runs from src/ or from the build in dist/).

import { readFileSync } from 'node:fs';

export function versionLine(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'workforce') return `workforce ${pkg.version} (node ${process.version})\n`;
    } catch {
      // no package.json here: look one level up
    }
  }
  return `workforce (version unknown: package.json not found; node ${process.version})\n`;
}
