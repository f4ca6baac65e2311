// Process entry of `workforce` (bin/workforce.js imports the build of this file).

import { run } from './main.js';
import { processIo } from './io.js';

process.exitCode = await run(process.argv.slice(2), processIo());
