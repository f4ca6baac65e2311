import { describe, expect, it } from 'vitest';
import { LISTEN_FLAGS, RUN_FLAGS, parseFlags, parseListenConfig, parseRunConfig } from '../../src/commands/config.js';

const base = {
  WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE: 'ns.servicebus.windows.net',
  WORKFORCE_CONTROL_TOPIC_NAME: 'eu-west',
  HOME: '/home/u',
};

function listen(env: Record<string, string | undefined>, args: string[] = []) {
  return parseListenConfig(env, parseFlags(args, LISTEN_FLAGS).values);
}

describe('listen configuration', () => {
  it('reads the seed names and documents its defaults', () => {
    const config = listen({ ...base, JOBQ_PID_DIR: '/run/jobq', WORKFORCE_NODE_ID: 'node-7' });
    expect(config).toMatchObject({
      bus: { kind: 'credential', namespace: 'ns.servicebus.windows.net' },
      topic: 'eu-west',
      subscription: 'shutdown',
      reportsQueue: 'workforce-reports',
      pidDir: '/run/jobq',
      nodeId: 'node-7',
      stateDir: '/home/u/.local/state/workforce-agent/eu-west',
      intakeFlag: '/run/intake/eu-west.intake-stopped',
      legacySignals: true,
      outbox: { ttlMs: 86_400_000, max: 500 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the presence heartbeat as a duration, 30 s by default, and names a bad one', () => {
    expect(listen({ ...base }).heartbeatMs).toBe(30_000);
    expect(listen({ ...base, WORKFORCE_HEARTBEAT: '500ms' }).heartbeatMs).toBe(500);
    expect(listen({ ...base, WORKFORCE_HEARTBEAT: '45' }).heartbeatMs).toBe(45_000);
    expect(listen({ ...base, WORKFORCE_HEARTBEAT: '1h' }).heartbeatMs).toBe(3_600_000);
    expect(listen({ ...base, WORKFORCE_HEARTBEAT: '10s' }, ['--heartbeat', '2m']).heartbeatMs).toBe(120_000);
    for (const bad of ['0', '50ms', '2h', 'soon', '-1s']) {
      expect(() => listen({ ...base, WORKFORCE_HEARTBEAT: bad })).toThrow(/WORKFORCE_HEARTBEAT \(--heartbeat\) must be a duration/);
    }
  });

  it('bounds the reports outbox as configured', () => {
    expect(listen({ ...base, WORKFORCE_OUTBOX_TTL_MS: '60000' }, ['--outbox-max', '20']).outbox).toEqual({ ttlMs: 60_000, max: 20 });
  });

  it('prefers WORKFORCE_PID_DIR over JOBQ_PID_DIR, and flags over both', () => {
    expect(listen({ ...base, JOBQ_PID_DIR: '/a', WORKFORCE_PID_DIR: '/b' }).pidDir).toBe('/b');
    expect(listen({ ...base, JOBQ_PID_DIR: '/a' }, ['--pid-dir', '/c']).pidDir).toBe('/c');
    expect(listen({ ...base }, ['--pid-dir=/d', '--topic', 'other']).topic).toBe('other');
  });

  it('takes a connection string instead of a namespace, and a managed identity client id', () => {
    const cs = 'Endpoint=sb://localhost:5672/;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true';
    expect(listen({ WORKFORCE_CONTROL_TOPIC_NAME: 't', WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: cs }).bus).toEqual({ kind: 'connection-string', connectionString: cs });
    expect(listen({ ...base, AZURE_CLIENT_ID: 'abc' }).bus).toEqual({ kind: 'credential', namespace: 'ns.servicebus.windows.net', clientId: 'abc' });
    expect(listen({ ...base, WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE: 'sb://ns.servicebus.windows.net/' }).bus).toMatchObject({ namespace: 'ns.servicebus.windows.net' });
  });

  it('uses AMQP unless asked for WebSockets, and then a proxy from --proxy or HTTPS_PROXY unless NO_PROXY lists the host', () => {
    const proxy = 'http://proxy.corp:3128';
    expect(listen({ ...base, HTTPS_PROXY: proxy }).transport).toEqual({ webSockets: false });
    expect(listen({ ...base, WORKFORCE_WEBSOCKETS: '1' }).transport).toEqual({ webSockets: true });
    expect(listen({ ...base }, ['--websockets']).transport).toEqual({ webSockets: true });
    expect(listen({ ...base, WORKFORCE_WEBSOCKETS: 'true', HTTPS_PROXY: proxy }).transport).toEqual({ webSockets: true, proxy: 'http://proxy.corp:3128/' });
    expect(listen({ ...base, WORKFORCE_WEBSOCKETS: 'on', https_proxy: proxy }).transport).toEqual({ webSockets: true, proxy: 'http://proxy.corp:3128/' });
    for (const noProxy of ['servicebus.windows.net', '.windows.net', 'ns.servicebus.windows.net:443', 'localhost, *']) {
      expect(listen({ ...base, WORKFORCE_WEBSOCKETS: '1', HTTPS_PROXY: proxy, NO_PROXY: noProxy }).transport).toEqual({ webSockets: true });
    }
    expect(listen({ ...base, WORKFORCE_WEBSOCKETS: '1', HTTPS_PROXY: proxy, NO_PROXY: 'other.servicebus.windows.net,windows.com' }).transport.proxy).toBe('http://proxy.corp:3128/');
    // An explicit --proxy is used whatever NO_PROXY says.
    expect(listen({ ...base, WORKFORCE_WEBSOCKETS: '1', NO_PROXY: '*' }, ['--proxy', proxy]).transport.proxy).toBe('http://proxy.corp:3128/');
  });

  it('names a bad WebSockets or proxy setting', () => {
    expect(() => listen({ ...base, WORKFORCE_WEBSOCKETS: 'maybe' })).toThrow('WORKFORCE_WEBSOCKETS (--websockets) must be true or false, got "maybe"');
    expect(() => listen({ ...base }, ['--proxy', 'http://p:1'])).toThrow('--proxy applies to AMQP over WebSockets only: add WORKFORCE_WEBSOCKETS (--websockets)');
    expect(() => listen({ ...base, WORKFORCE_WEBSOCKETS: '1', HTTPS_PROXY: 'proxy.corp' })).toThrow('HTTPS_PROXY or https_proxy (--proxy) must be a URL such as http://proxy.example:3128, got "proxy.corp"');
    expect(() => listen({ ...base, WORKFORCE_WEBSOCKETS: '1' }, ['--proxy', 'socks5://p:1080'])).toThrow('must be an http:// or https:// URL, got "socks5://p:1080"');
    expect(() => listen({ ...base, WORKFORCE_WEBSOCKETS: '1' }, ['--proxy', 'http://p:1/path'])).toThrow('must name only the proxy (scheme, host, port)');
  });

  it('turns the legacy convention off by variable or flag', () => {
    expect(listen({ ...base, WORKFORCE_LEGACY_SIGNALS: 'false' }).legacySignals).toBe(false);
    expect(listen(base, ['--no-legacy-signals']).legacySignals).toBe(false);
    expect(listen({ ...base, WORKFORCE_LEGACY_SIGNALS: 'false' }, ['--legacy-signals']).legacySignals).toBe(true);
  });

  it.each([
    [{ ...base, WORKFORCE_CONTROL_TOPIC_NAME: undefined }, [], /WORKFORCE_CONTROL_TOPIC_NAME \(--topic\) is required/],
    [{ WORKFORCE_CONTROL_TOPIC_NAME: 't' }, [], /WORKFORCE_BACK_CHANNEL_FULLY_QUALIFIED_NAMESPACE \(--namespace\) or WORKFORCE_BACK_CHANNEL_CONNECTION_STRING \(--connection-string\) is required/],
    [{ WORKFORCE_CONTROL_TOPIC_NAME: 't', WORKFORCE_BACK_CHANNEL_CONNECTION_STRING: 'nope' }, [], /WORKFORCE_BACK_CHANNEL_CONNECTION_STRING \(--connection-string\) must contain Endpoint=sb:/],
    [{ ...base, WORKFORCE_CONTROL_TOPIC_NAME: 'bad topic' }, [], /WORKFORCE_CONTROL_TOPIC_NAME \(--topic\).*not a valid Service Bus entity name/],
    [{ ...base, WORKFORCE_LEGACY_SIGNALS: 'maybe' }, [], /WORKFORCE_LEGACY_SIGNALS \(--legacy-signals\) must be true or false/],
    [{ ...base, WORKFORCE_AGENT_CRASH_AT: 'sometime' }, [], /WORKFORCE_AGENT_CRASH_AT \(--crash-at\) must be one of/],
    [{ ...base, WORKFORCE_RELEASE_BACKOFF_MAX_MS: '-1' }, [], /WORKFORCE_RELEASE_BACKOFF_MAX_MS.*integer ≥ 1/],
    [{ ...base, WORKFORCE_NODE_ID: 'a b' }, [], /WORKFORCE_NODE_ID \(--node-id\)/],
    [{ ...base, WORKFORCE_OUTBOX_TTL_MS: '10' }, [], /WORKFORCE_OUTBOX_TTL_MS \(--outbox-ttl-ms\) must be an integer ≥ 1000/],
    [{ ...base, WORKFORCE_OUTBOX_MAX: '0' }, [], /WORKFORCE_OUTBOX_MAX \(--outbox-max\) must be an integer ≥ 1/],
    [base, ['--frobnicate'], /unknown option --frobnicate/],
    [base, ['--topic'], /--topic needs a value/],
    [base, ['--topic='], /--topic must not be empty/],
  ])('names the bad or missing setting (%#)', (env, args, message) => {
    expect(() => listen(env, args)).toThrow(message);
  });
});

describe('run configuration', () => {
  function run(env: Record<string, string | undefined>, args: string[]) {
    const { values, rest } = parseFlags(args, RUN_FLAGS, true);
    return parseRunConfig(env, values, rest);
  }

  it('splits options from the command at -- or at the first non-option', () => {
    expect(run({ WORKFORCE_PID_DIR: '/p' }, ['--topic', 't', '--', 'python', '-m', 'w', '--x']).command).toEqual(['python', '-m', 'w', '--x']);
    const config = run({ WORKFORCE_CONTROL_TOPIC_NAME: 't', JOBQ_PID_DIR: '/p' }, ['--intake-signal', 'usr1', 'sleep', '--help']);
    expect(config).toMatchObject({ command: ['sleep', '--help'], topic: 't', pidDir: '/p', gracefulSignal: 'SIGTERM', intakeSignal: 'SIGUSR1', resumeSignal: null, intakeFlag: '/intake/t.intake-stopped' });
    expect(run({ WORKFORCE_RESUME_SIGNAL: 'cont' }, ['--topic', 't', '--', 'x']).resumeSignal).toBe('SIGCONT');
  });

  it('rejects what it cannot honour', () => {
    expect(() => run({}, ['--topic', 't'])).toThrow(/run needs a command/);
    expect(() => run({}, ['--', 'x'])).toThrow(/WORKFORCE_CONTROL_TOPIC_NAME \(--topic\) is required/);
    expect(() => run({}, ['--topic', 't', '--graceful-signal', 'SIGKILL', '--', 'x'])).toThrow(/not a signal a process can handle/);
    expect(() => run({}, ['--topic', 't', '--graceful-signal', 'USR1', '--intake-signal', 'SIGUSR1', '--', 'x'])).toThrow(/cannot mean both/);
    expect(() => run({}, ['--topic', 't', '--intake-signal', 'USR1', '--resume-signal', 'SIGUSR1', '--', 'x'])).toThrow(/--resume-signal\): SIGUSR1 cannot mean both resume and do-not-accept-new-tasks/);
    expect(() => run({}, ['--topic', 't', '--resume-signal', 'SIGSTOP', '--', 'x'])).toThrow(/not a signal a process can handle/);
    expect(() => run({}, ['--topic', 't', '--worker-id', 'a/b', '--', 'x'])).toThrow(/--worker-id/);
  });
});
