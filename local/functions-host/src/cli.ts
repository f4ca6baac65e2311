// `functions-host`: parse the arguments, load the app's settings, start the host, print its
// functions, URLs and keys, and close it cleanly on SIGINT or SIGTERM. Bad arguments exit 2,
// a start-up failure (no app, port in use) exits 1 with the reason.
import { startHost } from './host.js';
import { loadAppConfig } from './config.js';
import { parseArgs, type Args } from './args.js';

const USAGE = `Usage: functions-host [--app DIR] [--port PORT] [--hostname ADDR] [--data-dir DIR]

Runs an Azure Functions v4 Node.js app locally: HTTP, timer and Service Bus triggers,
Durable Functions (orchestrations, activities, the durabletask HTTP API).

  --app DIR        the Functions app folder (host.json, package.json "main"); default: .
  --port PORT      HTTP port; default: local.settings.json Host.LocalHttpPort, else 7071
  --hostname ADDR  address to listen on; default 127.0.0.1
  --data-dir DIR   durable state and timer status; default DIR/.data/functions-host
  --help           this text`;

async function main(): Promise<void> {
  let args: Args | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`functions-host: ${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let port = args.port;
  try {
    port ??= loadAppConfig(args.app).localHttpPort ?? 7071;
    const host = await startHost({ appDir: args.app, port, hostname: args.hostname, dataDir: args.dataDir });
    process.stdout.write(`\nFunctions:\n`);
    for (const f of host.functions) {
      process.stdout.write(`  ${f.name}: [${f.trigger}]${f.route ? ` ${f.methods?.join(',')} ${host.url}${f.route} (${f.authLevel})` : ''}\n`);
    }
    process.stdout.write(`\nMaster key: ${host.keys.master}\nFunction key: ${host.keys.function}\n`);
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`\n${signal}: stopping the host\n`);
      void host.close().then(() => process.exit(0));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`functions-host: ${e.message}\n`);
    process.exit(1);
  }
}

void main();
