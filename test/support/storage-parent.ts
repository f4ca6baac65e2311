// A process that starts Azurite (scripts/local-storage.ts) in the folder it is given, prints its
// pid and connection string, and waits to be killed: to test that Azurite ends with its parent.
import { startLocalStorage } from '../../scripts/local-storage.js';

const storage = await startLocalStorage({ location: process.argv[2]! });
process.stdout.write(`${JSON.stringify({ pid: storage.pid, connectionString: storage.connectionString })}\n`);
setInterval(() => {}, 60_000);
