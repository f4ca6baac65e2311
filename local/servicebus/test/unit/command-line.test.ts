import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/command-line.js';

const defaults = { keys: [{ name: 'RootManageSharedAccessKey', key: 'SAS_KEY_VALUE' }] };
const parse = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(argv, env, defaults);
const config = (argv: string[], env: Record<string, string> = {}) => {
  const r = parse(argv, env);
  if (r.help) throw new Error('unexpected help');
  return r.config;
};

describe('command line and environment', () => {
  it('has documented defaults', () => {
    expect(config([])).toEqual({
      port: 5672,
      host: '127.0.0.1',
      dataDir: undefined,
      autoCreate: false,
      keys: defaults.keys,
      logLevel: 'info',
      configFile: undefined,
      entraFile: undefined,
      armPort: undefined,
      amqpsPort: undefined,
      certFile: undefined,
      keyFile: undefined,
      allowInsecureRemote: false,
    });
    expect(Object.isFrozen(config([]))).toBe(true);
  });

  it('reads flags (both --flag value and --flag=value), flags over environment', () => {
    const c = config(
      ['--port=0', '--data', '/tmp/x', '--auto-create', '--sas-key', 'a=b', '--sas-key=c=d', '--arm-port', 'off', '--amqps-port', '6000', '--log-level', 'debug'],
      { SERVICEBUS_EMULATOR_PORT: '7000', SERVICEBUS_EMULATOR_HOST: '0.0.0.0' },
    );
    expect(c).toMatchObject({
      port: 0,
      host: '0.0.0.0',
      dataDir: '/tmp/x',
      autoCreate: true,
      keys: [{ name: 'a', key: 'b' }, { name: 'c', key: 'd' }],
      armPort: false,
      amqpsPort: 6000,
      logLevel: 'debug',
    });
    expect(config([], { SERVICEBUS_EMULATOR_PORT: '7000', SERVICEBUS_EMULATOR_DATA: '/d' })).toMatchObject({ port: 7000, dataDir: '/d' });
  });

  it('gives exact messages that name the flag or variable', () => {
    expect(() => parse(['--port', 'x'])).toThrow("--port: expected a port number from 0 to 65535, got 'x'.");
    expect(() => parse([], { SERVICEBUS_EMULATOR_PORT: '70000' })).toThrow(
      "SERVICEBUS_EMULATOR_PORT: expected a port number from 0 to 65535, got '70000'.",
    );
    expect(() => parse(['--nope'])).toThrow("Unknown option '--nope'. Run servicebus-emulator --help for the list.");
    expect(() => parse(['--data'])).toThrow('--data needs a value.');
    expect(() => parse(['--sas-key', 'novalue'])).toThrow("--sas-key: expected NAME=KEY without spaces or ';', got 'novalue'.");
    expect(() => parse(['--log-level', 'loud'])).toThrow("--log-level: expected one of debug, info, warn, error, got 'loud'.");
    expect(() => parse(['--arm-port', 'on'])).toThrow("--arm-port (or 'off'): expected a port number from 0 to 65535, got 'on'.");
    expect(() => parse(['--cert', 'c.pem'])).toThrow('--cert and --key go together');
    expect(() => parse(['--auto-create=yes'])).toThrow("--auto-create takes no value (got '--auto-create=yes').");
    expect(() => parse(['--host', '10.0.0.5', '--arm-port', 'off'])).toThrow(
      "--host: '10.0.0.5' is not a loopback address, and the development SAS key 'SAS_KEY_VALUE' is public: give your own with --sas-key NAME=KEY (or add --allow-insecure-remote to expose them anyway).",
    );
    expect(config(['--host', '10.0.0.5', '--allow-insecure-remote'])).toMatchObject({ host: '10.0.0.5', allowInsecureRemote: true });
    // With Entra ID settings the ARM endpoint validates tokens and roles: off loopback it may stay on.
    expect(() => parse(['--host', '10.0.0.5', '--sas-key', 'ops=secret'])).toThrow('the ARM endpoint accepts any bearer token: turn it off with --arm-port off, or validate tokens with --entra FILE');
    expect(config(['--host', '10.0.0.5', '--sas-key', 'ops=secret', '--entra', 'entra.json'])).toMatchObject({ host: '10.0.0.5', entraFile: 'entra.json', allowInsecureRemote: false });
  });

  it('answers --help', () => {
    expect(parse(['--help'])).toEqual({ help: true });
    expect(parse(['-h', '--port', 'x'])).toEqual({ help: true });
  });
});
