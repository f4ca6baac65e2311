// Used by two-slot-file.test.ts: rewrites a record in a loop and prints each generation once
// its write returned, until killed. Records of up to 300 KB (sizes vary, so slots grow and
// shrink) take long enough to write that a kill often lands inside a write.
import { TwoSlotFile } from '../../src/two-slot-file.js';

const file = new TwoSlotFile(process.argv[2]!, 'rec');
for (let n = 1; ; n++) {
  file.write(JSON.stringify({ n, pad: 'x'.repeat((n * 7919) % 300_000) }));
  process.stdout.write(`${n}\n`);
  if (n % 64 === 0) await new Promise((r) => setImmediate(r)); // let stdout drain
}
