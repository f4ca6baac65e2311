import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { patchRhea } from '../../scripts/patch-rhea.mjs';

const LINE = "if ((first !== last && !message.are_outcomes_equivalent(last.state, delivery.state)) || last.settled !== delivery.settled) {";

describe('scripts/patch-rhea.mjs (postinstall)', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  const tree = (copies: Record<string, string>): string => {
    const root = mkdtempSync(join(tmpdir(), 'patch-rhea-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), JSON.stringify({ workspaces: ['local/servicebus', 'worker-agent'] }));
    for (const [dir, source] of Object.entries(copies)) {
      mkdirSync(join(root, dir, 'lib'), { recursive: true });
      writeFileSync(join(root, dir, 'lib', 'session.js'), source);
    }
    return root;
  };

  it('fixes every copy (hoisted, nested, in a workspace), once', () => {
    const root = tree({
      'node_modules/rhea': LINE,
      'node_modules/@azure/core-amqp/node_modules/rhea': LINE,
      'local/servicebus/node_modules/rhea': LINE,
    });
    const first = patchRhea(root);
    expect(first.map((r) => r.state)).toEqual(['patched', 'patched', 'patched']);
    const fixed = readFileSync(join(root, 'node_modules/rhea/lib/session.js'), 'utf8');
    expect(fixed).toContain('(delivery !== first && !message.are_outcomes_equivalent(last.state, delivery.state))');
    expect(fixed).not.toContain('first !== last');
    expect(patchRhea(root).map((r) => r.state)).toEqual(['fixed', 'fixed', 'fixed']);
  });

  it('fails, naming the file, when rhea changed shape', () => {
    const root = tree({ 'node_modules/rhea': 'function write_dispositions() { /* rewritten */ }' });
    expect(() => patchRhea(root)).toThrow(/node_modules\/rhea\/lib\/session\.js: rhea's disposition writer changed/);
  });

  it('is installed: the rhea this repository runs is fixed', () => {
    const source = readFileSync(join(import.meta.dirname, '../../node_modules/rhea/lib/session.js'), 'utf8');
    expect(source).toContain('(delivery !== first && !message.are_outcomes_equivalent');
  });
});
