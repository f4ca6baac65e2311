// The patched dependency: rhea is pinned (npm `overrides`) to the version patches/ was written
// for, and `postinstall` (patch-package --error-on-fail) applies the patch, failing the install
// if it no longer fits. This guard fails the tests too if the installed rhea is not the pinned,
// patched one (another version slipped in, or the install ran with --ignore-scripts).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const json = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;

/** The patches for rhea: one file, named after the exact version it fits. */
function rheaPatch(): { version: string; text: string } {
  const files = readdirSync(join(root, 'patches')).filter((f) => f.startsWith('rhea+'));
  expect(files).toHaveLength(1);
  const version = /^rhea\+(.+)\.patch$/.exec(files[0]!)![1]!;
  return { version, text: readFileSync(join(root, 'patches', files[0]!), 'utf8') };
}

/** Each file a patch changes, with the lines it adds. */
function addedLines(patch: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let file = '';
  for (const line of patch.split('\n')) {
    const header = /^\+\+\+ b\/node_modules\/rhea\/(.+)$/.exec(line);
    if (header) out.set((file = header[1]!), []);
    else if (line.startsWith('+') && !line.startsWith('+++') && line.trim() !== '+') out.get(file)!.push(line.slice(1));
  }
  return out;
}

describe('rhea, pinned and patched', () => {
  it('is pinned to the version of its patch, the only rhea installed', () => {
    const { version } = rheaPatch();
    expect((json('package.json').overrides as Record<string, string>).rhea).toBe(version);
    expect(json('node_modules/rhea/package.json').version).toBe(version);
    const lock = json('package-lock.json').packages as Record<string, { version?: string }>;
    const copies = Object.entries(lock).filter(([path]) => /(^|\/)node_modules\/rhea$/.test(path));
    expect(copies.map(([path, p]) => [path, p.version])).toEqual([['node_modules/rhea', version]]);
  });

  it('is installed with every line the patch adds', () => {
    const files = addedLines(rheaPatch().text);
    expect(files.size).toBeGreaterThan(0);
    for (const [file, lines] of files) {
      const source = readFileSync(join(root, 'node_modules/rhea', file), 'utf8');
      for (const line of lines) expect(source, `${file}: ${line.trim()}`).toContain(line);
    }
  });

  it('applies it after every install: postinstall runs patch-package, failing on a patch that does not fit', () => {
    const { scripts, dependencies } = json('package.json') as { scripts: Record<string, string>; dependencies: Record<string, string> };
    // First: a patch that does not fit fails the install before anything else runs.
    expect(scripts.postinstall?.split(' && ')[0]).toBe('patch-package --error-on-fail --error-on-warn');
    // A dependency, not a dev one: the Function app's own install (production) needs the fix too.
    expect(dependencies['patch-package']).toBeDefined();
  });

  it('fails the install, naming rhea, when rhea no longer fits its patch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patch-rhea-'));
    try {
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'changed-rhea', version: '0.0.0', private: true }));
      cpSync(join(root, 'patches'), join(dir, 'patches'), { recursive: true });
      cpSync(join(root, 'node_modules/rhea'), join(dir, 'node_modules/rhea'), { recursive: true });
      // A rhea whose disposition writer was rewritten: the patch no longer applies, nor is it applied.
      const session = join(dir, 'node_modules/rhea/lib/session.js');
      const [line] = addedLines(rheaPatch().text).get('lib/session.js')!;
      writeFileSync(session, readFileSync(session, 'utf8').replace(line!, '        if (rewritten(first, last, delivery)) {'));
      const run = spawnSync(join(root, 'node_modules/.bin/patch-package'), ['--error-on-fail', '--error-on-warn'], { cwd: dir, encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stdout + run.stderr).toMatch(/Failed to apply patch for package rhea/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
