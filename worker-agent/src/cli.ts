// Entry point of the `workforce-agent` binary and of the single-file bundle.
import { isoString } from './log.js';
import { main } from './main.js';

// Date#toISOString without the local time zone lookup (see isoString): the agent, its reports
// and its state file stamp every record with it, and the native one costs an idle agent ~1 MiB
// of RSS. Same strings, same errors; installed for this process only, like the method it
// replaces (writable, configurable, not enumerable).
Object.defineProperty(Date.prototype, 'toISOString', {
  value: function toISOString(this: Date): string {
    return isoString(this);
  },
  writable: true,
  configurable: true,
  enumerable: false,
});

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`workforce-agent: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
