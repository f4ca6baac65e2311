// postinstall: links `workforce` into node_modules/.bin, where `npx workforce` runs it at once.
// The root package.json declares no "bin" on purpose: for a bin the project itself declares,
// npx (npm 10+) first installs the whole project into its cache (14 s on a fresh clone), and npm
// never links a project's own bins into its node_modules/.bin.

import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const binDir = path.join(root, 'node_modules', '.bin');
const link = path.join(binDir, 'workforce');
mkdirSync(binDir, { recursive: true });
rmSync(link, { force: true });
symlinkSync(path.relative(binDir, path.join(root, 'bin', 'workforce.js')), link);
