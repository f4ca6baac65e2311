// `npm run bundle -w worker-agent`: the agent as one CommonJS file with every dependency inlined,
// runnable by any Node ≥ 20 without `npm install` (copy it into a worker image).
//
// Memory: V8 keeps the whole source of a script in the heap, and parses all of it (a pre-parse
// of every function) when the file is loaded, in malloc'd memory the process keeps. So code an
// agent does not run should not be in the script it loads:
// - @azure/identity (and MSAL, jsonwebtoken, the proxy agents: about half of the dependencies) is
//   needed only with --namespace. It is bundled on its own and embedded brotli-compressed as a
//   string inside a function that runs only when a credential is created; with a connection
//   string it is never decompressed or parsed (idle `listen`: RSS −5 MiB).
// - `ws` and `https-proxy-agent` (src/transport/websocket-modules.ts, 70 kB) are needed only
//   with --websockets: embedded the same way.
//
// Dependencies are bundled as they are published: no edits of their source (each bundle-time
// edit once saved an idle agent 0.7 MiB or less, measured in 2026-12, and each was one more
// thing to check on every upgrade), but for `FormData` in @azure/identity (IDENTITY_DEFINES). The one patched dependency is rhea, fixed at install (root
// README, "A patched dependency"); the bundle refuses an unfixed copy.

import { type BuildOptions, type Plugin, build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_BUNDLE = join(root, 'dist', 'workforce-agent.cjs');

const common: BuildOptions = {
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
  logLevel: 'warning',
};

/** One CommonJS module of `contents` (an entry's exports); node built-ins are its only requires. */
async function moduleCode(what: string, contents: string, define?: Record<string, string>): Promise<string> {
  const result = await build({
    ...common,
    ...(define && { define }),
    stdin: { contents, resolveDir: root, loader: 'ts' },
    write: false,
    legalComments: 'eof', // the licences travel inside the embedded module
  });
  const code = result.outputFiles?.[0]?.text;
  if (!code) throw new Error(`empty ${what} bundle`);
  return code;
}

/**
 * The HTTP pipeline of @azure/identity asks `body instanceof FormData` of every request. Node's
 * `FormData` global loads undici, whose HTTP parser is WebAssembly, which the agent's `--jitless`
 * leaves out: the first token request killed the agent (ReferenceError: WebAssembly is not
 * defined, Node 20). No token request sends form data (they are GETs or url-encoded strings),
 * so in that module the global reads as absent; the one exception to "bundled as published".
 */
const IDENTITY_DEFINES = { FormData: 'undefined' };
const IDENTITY_ENTRY = "export { DefaultAzureCredential } from '@azure/identity';";

/**
 * The @azure/identity module with IDENTITY_DEFINES, and the check that they are still needed
 * and did their work: an upgrade that stops asking for `FormData` fails the build (take the
 * define out), and so does one whose built code still asks for it.
 */
async function identityCode(): Promise<string> {
  const asks = (code: string) => (code.match(/instanceof FormData\b/g) ?? []).length;
  if (asks(await moduleCode('@azure/identity', IDENTITY_ENTRY)) === 0) {
    throw new Error('@azure/identity no longer asks `instanceof FormData`: remove IDENTITY_DEFINES from scripts/bundle.ts');
  }
  const code = await moduleCode('@azure/identity', IDENTITY_ENTRY, IDENTITY_DEFINES);
  if (asks(code) > 0 || /\bFormData\b(?!["'`])/.test(code.replace(/(["'`])(?:\\.|(?!\1).)*\1/g, ''))) {
    throw new Error('the @azure/identity module still reads the FormData global: it would kill a --jitless agent');
  }
  return code;
}

/** Resolves `filter` to a module that decompresses and compiles the embedded `code` on first use. */
function embedded(name: string, filter: RegExp, code: string): Plugin {
  const packed = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length } }).toString('base64');
  const namespace = `embedded-${name}`;
  return {
    name: namespace,
    setup(b) {
      b.onResolve({ filter }, () => ({ path: namespace, namespace }));
      b.onLoad({ filter: /.*/, namespace }, () => ({
        loader: 'js',
        contents: `
const { brotliDecompressSync } = require('node:zlib');
const { runInThisContext } = require('node:vm');
const Module = require('node:module');
const code = brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString('utf8');
const wrapped = runInThisContext(Module.wrap(code), { filename: __filename + '#${name}' });
const m = { exports: {} };
wrapped.call(m.exports, m.exports, require, m, __filename, __dirname);
module.exports = m.exports;
`,
      }));
    },
  };
}

/** A line that rhea's session.js has only once the repository's rhea patch is applied. */
const RHEA_FIXED_LINE = '(delivery !== first && !message.are_outcomes_equivalent(last.state, delivery.state))';

/**
 * Refuses to bundle a rhea whose disposition writer still folds different outcomes together
 * (the agent could then complete a control message it meant to give back): `npm install` at
 * the repository root applies patches/rhea+<version>.patch (patch-package).
 */
function fixedRheaOnly(): Plugin {
  return {
    name: 'fixed-rhea-only',
    setup(b) {
      b.onLoad({ filter: /[\\/]rhea[\\/]lib[\\/]session\.js$/ }, (args) => {
        if (!readFileSync(args.path, 'utf8').includes(RHEA_FIXED_LINE)) {
          throw new Error(`${args.path} lacks the fix of rhea's disposition merge bug: run \`npm install\` at the repository root (its postinstall applies patches/rhea+<version>.patch)`);
        }
        return undefined; // esbuild loads it as usual
      });
    },
  };
}

export async function bundle(outfile = DEFAULT_BUNDLE, entry = join(root, 'src', 'cli.ts')): Promise<string> {
  await build({
    ...common,
    entryPoints: [entry],
    outfile,
    plugins: [
      embedded('@azure/identity', /^@azure\/identity$/, await identityCode()),
      embedded('websocket-modules', /[\\/]websocket-modules\.js$/, await moduleCode('websocket-modules', "export * from './src/transport/websocket-modules.ts';")),
      fixedRheaOnly(),
    ],
    legalComments: 'eof',
    // The agent runs without V8's JIT (README, "Why --jitless"): no executable memory allocated
    // at run time in a process that often runs as root, and the optimising compiler's code
    // never paged in (`--no-expose-wasm`: what --jitless implies anyway, said so V8 does not warn on
    // every start). `env -S` splits the line (coreutils ≥ 8.30; BusyBox: run `node --jitless …`).
    banner: { js: '#!/usr/bin/env -S node --jitless --no-expose-wasm' },
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await bundle(process.argv[2]);
  console.log(`bundled ${out}`);
}
