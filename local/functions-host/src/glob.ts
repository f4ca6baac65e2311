// The glob patterns a v4 app's package.json `main` may hold (`*`, `**`, `?`, `{a,b}`), expanded
// to the app's entry files in a stable order.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Expands the glob patterns that a v4 app's package.json `main` may hold
 * (`*`, `**`, `?`, `{a,b}`), relative to `dir`, into sorted absolute file paths.
 */
export function expandGlob(dir: string, pattern: string): string[] {
  const normalized = pattern.replace(/\\/g, '/').replace(/^\.\//, '');
  if (!/[*?{]/.test(normalized)) {
    const file = path.resolve(dir, normalized);
    try {
      return statSync(file).isFile() ? [file] : [];
    } catch {
      return [];
    }
  }
  const matcher = globToRegExp(normalized);
  const out: string[] = [];
  walk(dir, '', (rel) => {
    if (matcher.test(rel)) out.push(path.join(dir, rel));
  });
  return out.sort();
}

function walk(root: string, rel: string, visit: (rel: string) => void): void {
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) walk(root, child, visit);
    else if (entry.isFile()) visit(child);
  }
}

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) throw new Error(`Unclosed "{" in glob pattern "${pattern}"`);
      const alts = pattern.slice(i + 1, end).split(',').map((a) => globToRegExp(a).source.slice(1, -1));
      re += `(?:${alts.join('|')})`;
      i = end;
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
