// Fuzzing the HTTP API through the local Functions host and the emulator: random routes,
// methods, headers, keys and bodies (random JSON, broken JSON, invalid UTF-8, huge). Every
// answer is a documented 2xx or a 4xx with problem details, never a 5xx, and the only drains
// that exist afterwards are the ones valid requests started.

import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FUNCTION_KEY, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Random, fuzzRuns, fuzzSeed } from './random.js';

const TOPIC = 'fuzz-api';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  expect((await cp.api('PUT', `topics/${TOPIC}`)).status).toBe(201);
});
afterAll(async () => {
  await cp?.close();
});

/** invalid: must be 4xx problem+json. valid: must be its documented 2xx. any: a documented 2xx or a 4xx problem. */
type Expect = 'invalid' | 'valid' | 'any';
interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  expect: Expect;
}
interface Answer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** Documented success statuses per route. */
const DOCUMENTED_2XX: Array<[RegExp, string, number[]]> = [
  [/^\/api\/topics\/[^/]+$/, 'PUT', [200, 201]],
  [/^\/api\/topics\/[^/]+\/drains$/, 'POST', [202]],
  [/^\/api\/drains$/, 'GET', [200]],
  [/^\/api\/drains\/[^/]+$/, 'GET', [200]],
  [/^\/api\/drains\/[^/]+\/cancel$/, 'POST', [202]],
  [/^\/api\/drains\/[^/]+\/workers$/, 'GET', [200]],
  [/^\/api\/topics$/, 'GET', [200]],
  [/^\/api\/dashboard(\/[a-z0-9-]+\.(html|css|js|svg))?$/, 'GET', [200]],
  [/^\/$/, 'GET', [200]], // the host's landing page, as on Azure (reached by `/api/..`)
];
// The anonymous dashboard (`/api/dashboard/{*file}`) is fuzzed with the random routes: an unknown
// file is a problem+json 404 like any other.

function send(c: Case): Promise<Answer> {
  const url = new URL(cp.host.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: c.method,
        path: c.path,
        // An explicit length: without it Node sends a GET's body unframed, and the server reads it as a second request.
        headers: { ...c.headers, connection: 'close', ...(c.body && { 'content-length': String(c.body.length) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const withKey = (headers: Record<string, string> = {}): Record<string, string> => ({ 'x-functions-key': FUNCTION_KEY, ...headers });
/** Percent-encodes every byte outside the unreserved set (lone surrogates become U+FFFD). */
const enc = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');

/** A valid drain request body, then (for invalid cases) broken in one known way. */
function validDrain(r: Random, drainId: string): Record<string, unknown> {
  const body: Record<string, unknown> = { count: r.int(1, 5), drainId };
  if (r.bool()) body['mode'] = r.pick(['graceful-downscale', 'do-not-accept-new-tasks']);
  if (body['mode'] !== 'do-not-accept-new-tasks' && r.bool()) body['gracePeriod'] = r.pick(['1h', '30m', '2h']);
  if (r.bool()) body['reason'] = r.text(40) || 'fuzz';
  return body;
}

const BREAKERS: Array<[string, (r: Random, b: Record<string, unknown>) => Buffer]> = [
  ['count of a wrong type', (r, b) => json({ ...b, count: r.pick([0, -1, 1.5, '2', null, true, [], {}, 'NaN', r.text(5)]) })],
  ['no count', (_r, b) => json({ ...b, count: undefined })],
  ['unknown field', (r, b) => json({ ...b, [`x-fuzz-${r.text(8)}`]: r.json(2) })],
  ['unknown mode', (r, b) => json({ ...b, mode: `!${r.text(20)}` })],
  ['bad gracePeriod', (r, b) => json({ ...b, mode: undefined, gracePeriod: `!${r.text(10)}` })],
  ['deadline in the past', (_r, b) => json({ ...b, mode: undefined, gracePeriod: undefined, deadline: '2001-02-03T04:05:06Z' })],
  ['deadline not an instant', (r, b) => json({ ...b, mode: undefined, gracePeriod: undefined, deadline: r.pick(['tomorrow', '2099-13-45T99:99:99Z', 12345, '2099-01-01']) })],
  ['bad drainId', (r, b) => json({ ...b, drainId: r.pick(['has space', '', '../x', 'a/b', 'x'.repeat(300), {}, [], 'é', `é${r.text(5)}`, 42, true]) })],
  ['reason of a wrong type', (r, b) => json({ ...b, reason: r.pick([1, {}, [], true]) })],
  ['body not an object', (r) => json(r.pick([[], [1, 2], 'graceful-downscale', 3, null, true]))],
  ['truncated JSON', (_r, b) => {
    const text = JSON.stringify(b);
    return Buffer.from(text.slice(0, text.length - 1), 'utf8');
  }],
  ['random bytes', (r) => r.bytes(r.int(1, 2000))],
  ['invalid UTF-8 in a field name', (r, b) => {
    const text = JSON.stringify({ ...b, 'x-MARK': 1 });
    const [head, tail] = text.split('MARK') as [string, string];
    return Buffer.concat([Buffer.from(head), Buffer.from(r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), Buffer.from(tail)]);
  }],
  ['UTF-16 JSON', (_r, b) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify({ ...b, count: 'two' }), 'utf16le')])],
  ['double-encoded JSON', (_r, b) => json(JSON.stringify(b))],
  ['huge body', (r, b) => json({ ...b, [`x-fuzz-pad`]: 'x'.repeat(r.int(100_000, 3_000_000)) })],
  ['deeply nested', (r) => Buffer.from(`${'['.repeat(r.int(1000, 100_000))}`)],
  ['empty body', () => Buffer.alloc(0)],
];

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', '', '\u00e9/\u00e9'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'FUZZ', 'PROPFIND'];
const ROUTES = (r: Random): string[] => [
  `/api/topics/${enc(r.text(20))}`,
  `/api/topics/${enc(r.text(20))}/drains`,
  `/api/topics/${TOPIC}/drains`,
  `/api/drains`,
  `/api/drains?topic=${enc(r.text(10))}&status=${enc(r.pick(['running', 'completed', 'sleeping', r.text(8)]))}`,
  `/api/drains/${enc(r.text(30))}`,
  `/api/drains/${enc(r.text(30))}/cancel`,
  `/api/drains/${enc(r.text(30))}/workers`,
  `/api/topics`,
  `/api/${enc(r.text(15))}`,
  `/api/dashboard/${enc(r.text(20))}`,
  `/api/${r.pick(['topics', 'drains'])}/${r.pick(['..', '%2e%2e', '%00', '%ff', '%', '//', '.'])}/${r.pick(['drains', 'cancel', ''])}`,
  `/api/drains/${'x'.repeat(r.int(300, 4000))}`,
];

function makeCase(r: Random, n: number): Case {
  const kind = r.int(0, 99);
  if (kind < 4) {
    // A valid drain, so that the check afterwards has something to find (and valid requests still work).
    return { label: 'valid drain', method: 'POST', path: `/api/topics/${TOPIC}/drains`, headers: withKey({ 'content-type': 'application/json' }), body: json(validDrain(r, `fuzz-valid-${n}`)), expect: 'valid' };
  }
  if (kind < 50) {
    const [name, breaker] = r.pick(BREAKERS);
    return {
      label: `POST drain: ${name}`,
      method: 'POST',
      path: `/api/topics/${TOPIC}/drains`,
      headers: withKey({ 'content-type': r.bool(0.8) ? 'application/json' : r.pick(CONTENT_TYPES) }),
      body: breaker(r, validDrain(r, `fuzz-invalid-${n}`)),
      expect: 'invalid',
    };
  }
  if (kind < 62) {
    // The right route and a valid body, but no key or a wrong one (every route needs the key).
    const key = r.pick<Record<string, string>>([{}, { 'x-functions-key': '' }, { 'x-functions-key': r.text(20).replace(/[^\x21-\x7e]/g, 'k') || 'k' }, { 'x-functions-key': `${FUNCTION_KEY}x` }, { 'x-function-key': FUNCTION_KEY }]);
    const [method, path] = r.pick([['POST', `/api/topics/${TOPIC}/drains`], ['PUT', `/api/topics/${TOPIC}-nokey`], ['GET', '/api/drains'], ['GET', '/api/drains/x'], ['POST', '/api/drains/x/cancel']] as const);
    const query = r.bool(0.3) ? `?code=${enc(r.text(10))}` : '';
    return { label: `${method} without a valid key`, method, path: path + query, headers: { 'content-type': 'application/json', ...key }, body: json(validDrain(r, `fuzz-nokey-${n}`)), expect: 'invalid' };
  }
  if (kind < 70) {
    // A known route with a method it does not take.
    const [path, allowed] = r.pick([[`/api/topics/${TOPIC}/drains`, 'POST'], ['/api/drains', 'GET'], ['/api/drains/x', 'GET'], ['/api/drains/x/cancel', 'POST'], [`/api/topics/${TOPIC}`, 'PUT']] as const);
    const method = r.pick(METHODS.filter((m) => m !== allowed && m !== 'HEAD' && !(allowed === 'GET' && m === 'HEAD')));
    return { label: `${method} on ${allowed}-only route`, method, path, headers: withKey(), body: json(r.json()), expect: 'invalid' };
  }
  // Anything: random method, route, headers and body; answered with a documented 2xx or a 4xx problem.
  const headers = withKey();
  if (r.bool(0.7)) headers['content-type'] = r.pick(CONTENT_TYPES).replace(/[^\t\x20-\x7e]/g, '?');
  if (r.bool(0.2)) headers['content-encoding'] = r.pick(['gzip', 'br', 'identity', 'x-fuzz']);
  if (r.bool(0.2)) headers['accept'] = r.pick(['text/html', '*/*', 'application/xml', 'application/problem+json']);
  if (r.bool(0.1)) headers['x-ms-client-principal-name'] = r.text(30).replace(/[^\x20-\x7e]/g, '?');
  const method = r.pick(METHODS);
  const body = method === 'GET' || method === 'HEAD' ? undefined : r.bool(0.7) ? json(r.json(4)) : r.bytes(r.size(3000));
  return { label: `random ${method}`, method, path: r.pick(ROUTES(r)), headers, ...(body && { body }), expect: 'any' };
}

function check(c: Case, a: Answer): string | undefined {
  const problemJson = (a.contentType ?? '').includes('application/problem+json');
  if (a.status >= 500) return `answered ${a.status}`;
  if (a.status >= 200 && a.status < 300) {
    if (c.expect === 'invalid') return `answered ${a.status} to an invalid request`;
    // As the host routes it: dot segments resolved (WHATWG URL), each segment percent-decoded (so
    // %2F is a slash), empty segments and a trailing slash skipped.
    const pathOnly = new URL(c.path, 'http://host').pathname.replace(/%2f/gi, '/').replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
    const documented = DOCUMENTED_2XX.find(([re, m]) => re.test(pathOnly) && m === c.method);
    if (!documented || !documented[2].includes(a.status)) return `answered an undocumented ${a.status}`;
    return undefined;
  }
  if (a.status >= 400 && a.status < 500) {
    if (c.expect === 'valid') return `answered ${a.status} to a valid request: ${a.body.toString().slice(0, 200)}`;
    if (c.method === 'HEAD') return undefined; // no body to carry the problem
    // Node's HTTP parser refuses methods it does not know (400, empty body) before the host sees them.
    if (c.method === 'FUZZ' && a.status === 400 && a.body.length === 0) return undefined;
    if (!problemJson) return `answered ${a.status} with content-type ${a.contentType ?? '(none)'}: ${JSON.stringify(a.body.toString().slice(0, 80))}`;
    let problem: { status?: unknown; detail?: unknown };
    try {
      problem = JSON.parse(a.body.toString()) as typeof problem;
    } catch {
      return `answered ${a.status} problem+json that is not JSON`;
    }
    if (problem.status !== a.status || typeof problem.detail !== 'string') return `answered a problem without status/detail: ${a.body.toString().slice(0, 120)}`;
    if (/\bat .*\.[jt]s:\d+/.test(a.body.toString())) return 'answered with a stack trace';
    return undefined;
  }
  return `answered ${a.status}`;
}

const DEFAULT_RUNS = 800;

it('answers every request with a documented 2xx or a 4xx problem, and starts drains only for valid ones', { timeout: 60_000 + fuzzRuns(DEFAULT_RUNS) * 100 }, async () => {
  const seed = fuzzSeed('HTTP API');
  const runs = fuzzRuns(DEFAULT_RUNS);
  const failures = new Map<string, string[]>();
  const started = new Set<string>();
  let invalid = 0;
  for (let i = 0; i < runs; i++) {
    const r = Random.forCase(seed, i);
    const c = makeCase(r, i);
    const answer = await send(c);
    if (c.expect === 'invalid') invalid++;
    const wrong = check(c, answer);
    if (wrong) {
      const key = `${c.label}: ${wrong.replace(/\d{3,}/g, 'N').slice(0, 60)}`;
      failures.set(key, [...(failures.get(key) ?? []), `case ${i} (${c.method} ${c.path.slice(0, 80)} ${JSON.stringify(c.body?.toString('latin1').slice(0, 300))}): ${wrong}`]);
    }
    if (answer.status === 202 && c.method === 'POST' && /\/drains$/.test(c.path.split('?')[0]!)) {
      started.add((JSON.parse(answer.body.toString()) as { drainId: string }).drainId);
    }
  }
  const report = [...failures].map(([k, v]) => `${k} ×${v.length}\n    e.g. ${v[0]}`).join('\n');
  console.log(`[fuzz] HTTP API: ${runs} requests (${invalid} invalid by construction), ${started.size} drains started by valid requests`);
  expect(report, `seed ${seed}`).toBe('');

  // Nothing but the valid requests started a drain: the API's list and the orchestration store agree.
  const listed = await cp.api('GET', 'drains');
  expect(listed.status).toBe(200);
  const listedIds = (listed.body as { drains: Array<{ drainId: string }> }).drains.map((d) => d.drainId);
  expect(listedIds.sort(), `seed ${seed}`).toEqual([...started].sort());
  const instances = cp.host.durable.store.listInstances().map((i) => i.id);
  const drainIds = new Set(instances.filter((id) => !id.startsWith('@'))); // entity ids, if any, start with @
  expect([...drainIds].sort(), `seed ${seed}`).toEqual([...started].sort());
  for (const id of drainIds) expect(id, `seed ${seed}`).toMatch(/^fuzz-valid-\d+$|^[0-9a-f-]{36}$/);
});
