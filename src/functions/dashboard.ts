// GET /api/dashboard: the operators' live page (src/dashboard/: plain HTML, CSS and JS, no build).
//
// authLevel anonymous, on purpose: the page and its assets hold no data. The page calls the
// function-key API (/api/drains) itself with the key it finds in its URL (`?code=<key>`, as Azure
// links to functions) or that the operator types in (kept in the browser's localStorage).

import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { problem, problemResponse } from '../http/problem-response.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const FILE = /^[a-z0-9-]+\.(html|css|js|svg)$/;

/** src/dashboard, from the sources (src/functions) or the build (dist/src/functions). */
function assetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', 'dashboard'), path.join(here, '..', '..', '..', 'src', 'dashboard')];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}
const DIR = assetsDir();

const notFound = (file: string): HttpResponseInit =>
  problemResponse(problem('NotFound', 404, 'Not found', `the dashboard has no file ${JSON.stringify(file.slice(0, 100))}; open /api/dashboard`));

export async function dashboard(request: HttpRequest): Promise<HttpResponseInit> {
  // The page's links (`dashboard/app.js`) are relative to /api/dashboard; opened as
  // /api/dashboard/ they ask for dashboard/dashboard/app.js, which is served too. Nothing else is.
  const asked = request.params.file ?? '';
  const parts = asked.split('/').filter(Boolean);
  if (parts.length === 2 && parts[0] === 'dashboard') parts.shift();
  const file = parts.length === 0 ? 'index.html' : parts.length === 1 ? parts[0]! : '';
  if (!FILE.test(file)) return notFound(asked);
  try {
    const body = await readFile(path.join(DIR, file));
    return {
      status: 200,
      body,
      headers: {
        'content-type': TYPES[path.extname(file)]!,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // The page only talks to this app; no framing by other sites.
        'content-security-policy': "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
      },
    };
  } catch {
    return notFound(file);
  }
}

app.http('dashboard', { route: 'dashboard/{*file}', methods: ['GET'], authLevel: 'anonymous', handler: dashboard });
