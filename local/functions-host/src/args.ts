// The functions-host command line (`--app`, `--port`, `--hostname`, `--data-dir`, `--help`)
// parsed into `Args`; a bad or unknown argument is a `BadArguments` error naming it.
import { HostError } from './errors.js';

export interface Args {
  app: string;
  port?: number;
  hostname?: string;
  dataDir?: string;
}

export function parseArgs(argv: readonly string[]): Args | 'help' {
  const args: Args = { app: '.' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new HostError('BadArguments', `${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        return 'help';
      case '--app':
        args.app = value();
        break;
      case '--port': {
        const v = value();
        const port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535) throw new HostError('BadArguments', `--port must be a number from 0 to 65535, got "${v}"`);
        args.port = port;
        break;
      }
      case '--hostname':
        args.hostname = value();
        break;
      case '--data-dir':
        args.dataDir = value();
        break;
      default:
        throw new HostError('BadArguments', `Unknown argument "${arg}"`);
    }
  }
  return args;
}
