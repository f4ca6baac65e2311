// Entry point of the `workforce-agent` binary and of the single-file bundle.
import { main } from './commands/main.js';

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`workforce-agent: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
