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
//
// Pages of the node binary count too: an idle agent's RSS is mostly /usr/bin/node's file pages,
// mapped 64 KiB at a time around each page touched. Two dependencies touch large parts of it
// that `listen` has no use for; `idleCosts` below rewrites the two lines, at bundle time:
// - long (64-bit integers of the Service Bus SDK) compiles a WebAssembly module when it is
//   loaded, for a faster multiply/divide: that pages in V8's WebAssembly compiler (RSS +1.7 MiB).
//   Without it long uses its plain JavaScript arithmetic (its documented fallback; same results).
// - the SDK formats dates with Date#toString for verbose log lines, even when that log is off:
//   the local time zone's name comes from ICU's time zone and locale data embedded in the binary.
//   Its link setup does it for the next token renewal (idle RSS +1 MiB); its lock renewer does it
//   twice for every message received, on the hot path (the first one in a process loads the
//   time zone: ~1 ms before the agent sees its message). They are now formatted only when the
//   SDK's verbose log is on (the lines themselves are unchanged).

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

/** @azure/identity as one CommonJS module (node built-ins are its only requires). */
async function identityModule(): Promise<string> {
  const result = await build({
    ...common,
    stdin: { contents: "export { DefaultAzureCredential } from '@azure/identity';", resolveDir: root, loader: 'ts' },
    write: false,
    legalComments: 'eof', // the licences travel inside the embedded module
  });
  const code = result.outputFiles?.[0]?.text;
  if (!code) throw new Error('empty @azure/identity bundle');
  return code;
}

/** Resolves `@azure/identity` to a module that decompresses and compiles the embedded build on first use. */
function embeddedIdentity(code: string): Plugin {
  const packed = brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length } }).toString('base64');
  return {
    name: 'embedded-identity',
    setup(b) {
      b.onResolve({ filter: /^@azure\/identity$/ }, () => ({ path: 'embedded-identity', namespace: 'embedded' }));
      b.onLoad({ filter: /.*/, namespace: 'embedded' }, () => ({
        loader: 'js',
        contents: `
const { brotliDecompressSync } = require('node:zlib');
const { runInThisContext } = require('node:vm');
const Module = require('node:module');
const code = brotliDecompressSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString('utf8');
const wrapped = runInThisContext(Module.wrap(code), { filename: __filename + '#@azure/identity' });
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

/** One exact edit of a dependency's source at bundle time; the build fails if the text is not there once. */
interface SourceEdit {
  file: RegExp;
  find: string;
  replace: string;
}

const IDLE_EDITS: SourceEdit[] = [
  {
    // long/index.js: `wasm = new WebAssembly.Instance(new WebAssembly.Module(…), {}).exports;`
    // inside a try; `null && …` keeps the fallback (wasm === null) and lets esbuild drop the module.
    file: /[\\/]node_modules[\\/]long[\\/](umd[\\/])?index\.js$/,
    find: 'wasm = new WebAssembly.Instance(',
    replace: 'wasm = null && new WebAssembly.Instance(',
  },
  {
    // @azure/service-bus LinkEntity#_ensureTokenRenewal: the last argument of `this._logger.verbose(…)`.
    file: /[\\/]@azure[\\/]service-bus[\\/].*[\\/]linkEntity\.js$/,
    find: 'new Date(Date.now() + this._tokenTimeout).toString()',
    replace: '(this._logger.verbose.enabled ? new Date(Date.now() + this._tokenTimeout).toString() : "")',
  },
  {
    // @azure/service-bus LockRenewer#start: `… is locked until ${bMessage.lockedUntilUtc.toString()}.`
    file: /[\\/]@azure[\\/]service-bus[\\/].*[\\/]autoLockRenewer\.js$/,
    find: '${bMessage.lockedUntilUtc.toString()}',
    replace: '${logger.verbose.enabled ? bMessage.lockedUntilUtc.toString() : ""}',
  },
  {
    // the same method: `… total autolockrenew duration … is: ${totalAutoLockRenewDurationDate.toString()}`
    file: /[\\/]@azure[\\/]service-bus[\\/].*[\\/]autoLockRenewer\.js$/,
    find: '${totalAutoLockRenewDurationDate.toString()}',
    replace: '${logger.verbose.enabled ? totalAutoLockRenewDurationDate.toString() : ""}',
  },
];

/** Applies IDLE_EDITS (see the top of this file); refuses to bundle a dependency that no longer has the line. */
function idleCosts(edits: readonly SourceEdit[] = IDLE_EDITS): Plugin {
  return {
    name: 'idle-costs',
    setup(b) {
      const applied = new Set<SourceEdit>();
      b.onStart(() => applied.clear());
      // One loader per file pattern: esbuild stops at the first onLoad that returns contents.
      const byFile = new Map<string, SourceEdit[]>();
      for (const edit of edits) byFile.set(edit.file.source, [...(byFile.get(edit.file.source) ?? []), edit]);
      for (const group of byFile.values()) {
        b.onLoad({ filter: group[0]!.file }, (args) => {
          let source = readFileSync(args.path, 'utf8');
          for (const edit of group) {
            const at = source.indexOf(edit.find);
            if (at < 0 || source.indexOf(edit.find, at + 1) >= 0) {
              throw new Error(`${args.path}: expected \`${edit.find}\` exactly once (a new version of the dependency? see IDLE_EDITS in worker-agent/scripts/bundle.ts)`);
            }
            applied.add(edit);
            source = source.slice(0, at) + edit.replace + source.slice(at + edit.find.length);
          }
          return { contents: source, loader: 'js' };
        });
      }
      b.onEnd((result) => {
        if (result.errors.length > 0) return;
        const missing = edits.filter((e) => !applied.has(e));
        if (missing.length > 0) throw new Error(`no module matched ${missing.map((e) => e.file).join(', ')} (see IDLE_EDITS in worker-agent/scripts/bundle.ts)`);
      });
    },
  };
}

export async function bundle(outfile = DEFAULT_BUNDLE, entry = join(root, 'src', 'cli.ts')): Promise<string> {
  await build({
    ...common,
    entryPoints: [entry],
    outfile,
    plugins: [embeddedIdentity(await identityModule()), fixedRheaOnly(), idleCosts()],
    legalComments: 'eof',
    banner: { js: '#!/usr/bin/env node' },
  });
  chmodSync(outfile, 0o755);
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await bundle(process.argv[2]);
  console.log(`bundled ${out}`);
}
