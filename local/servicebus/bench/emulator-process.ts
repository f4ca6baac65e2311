// The emulator under benchmark, in its own process (so that it has a core of its own and the
// clients' work is not counted against it). Prints one JSON line when ready; SIGTERM stops it.
// Usage: tsx bench/emulator-process.ts [dataDir]
import { startEmulator } from '../src/index.js';

const dataDir = process.argv[2];
const emulator = await startEmulator({ port: 0, armPort: false, amqpsPort: false, ...(dataDir ? { dataDir } : {}) });
emulator.catalogue.putQueue('bench-throughput');
emulator.catalogue.putQueue('bench-latency');
process.stdout.write(`${JSON.stringify({ connectionString: emulator.connectionString })}\n`);
process.on('SIGTERM', () => {
  void emulator.close().then(() => process.exit(0));
});
