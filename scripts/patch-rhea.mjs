#!/usr/bin/env node
// Fixes a bug in rhea 3.0.5 (the AMQP library under @azure/service-bus and our emulator) after
// every install: its disposition writer folds the second of two consecutive settlements into
// the first, whatever their outcomes. A receiver that completes message 1 and abandons message 2
// in the same tick sends "accepted, deliveries 1..2", and the broker, Azure's as well as ours,
// completes message 2: a poison message that never reaches its dead-letter queue, or a control
// message that is lost instead of going back for another node. rhea means to batch only
// `accepted` outcomes; the fix makes its comparison apply to the second delivery too.
//
// Runs as the root `postinstall`, so the tests, the local system and the agent's single-file
// bundle all use the fixed rhea. Idempotent; fails loudly if rhea changed shape.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUGGY = '(first !== last && !message.are_outcomes_equivalent(last.state, delivery.state))';
const FIXED = '(delivery !== first && !message.are_outcomes_equivalent(last.state, delivery.state))';

/** Whether a copy of rhea's session.js still has the bug. */
export function hasMergeBug(source) {
  return source.includes(BUGGY);
}

/** Every copy of rhea's session.js in the install tree (the hoisted one and any nested ones). */
export function findRheaSessions(root) {
  const found = [];
  const visit = (modules) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
      const dir = join(modules, entry.name);
      if (entry.name.startsWith('@')) {
        visit(dir);
        continue;
      }
      if (entry.isSymbolicLink()) continue; // workspace links: their node_modules are visited below
      const session = join(dir, 'lib', 'session.js');
      if (entry.name === 'rhea' && existsSync(session)) found.push(session);
      visit(join(dir, 'node_modules'));
    }
  };
  visit(join(root, 'node_modules'));
  const { workspaces = [] } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const workspace of workspaces) visit(join(root, workspace, 'node_modules'));
  return found;
}

/** 'fixed' | 'patched' for each copy; throws when a copy has neither the buggy nor the fixed line. */
export function patchRhea(root) {
  const results = [];
  for (const file of findRheaSessions(root)) {
    const source = readFileSync(file, 'utf8');
    if (source.includes(FIXED)) {
      results.push({ file, state: 'fixed' });
    } else if (hasMergeBug(source)) {
      writeFileSync(file, source.replace(BUGGY, FIXED));
      results.push({ file, state: 'patched' });
    } else {
      throw new Error(`${file}: rhea's disposition writer changed; check whether its merge bug is fixed upstream and update scripts/patch-rhea.mjs`);
    }
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  try {
    const results = patchRhea(root);
    if (results.length === 0) console.warn('patch-rhea: no rhea found under node_modules (nothing to fix)');
    for (const r of results) console.log(`patch-rhea: ${relative(root, r.file)} ${r.state === 'patched' ? 'patched' : 'already fixed'}`);
  } catch (err) {
    console.error(`patch-rhea: ${err.message}`);
    process.exit(1);
  }
}
