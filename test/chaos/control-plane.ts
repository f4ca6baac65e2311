// The Function app in the local Functions host (in this process), reaching the emulator through
// its own proxy; restartable on the same durable data directory.
import { silentLogger, startHost, type Host } from '@workforce/functions-host';
import { FUNCTION_KEY, sourceAppDir } from '../support/control-plane.js';
import { viaProxy } from './fleet.js';
import type { ChaosProxy } from './proxy.js';

export class ChaosControlPlane {
  private host: Host | undefined;
  private readonly appDir = sourceAppDir();
  restarts = 0;

  constructor(
    private readonly dataDir: string,
    private readonly proxy: ChaosProxy,
    private readonly connectionString: () => string,
    /** More app settings: the fleet inventory's storage account (AzureWebJobsStorage) in runs that keep one. */
    private readonly settings: Record<string, string> = {},
  ) {}

  async start(): Promise<void> {
    this.host = await startHost({
      appDir: this.appDir,
      port: 0,
      dataDir: this.dataDir,
      settings: {
        ServiceBusConnection: viaProxy(this.connectionString(), this.proxy.port),
        FUNCTIONS_HOST_FUNCTION_KEY: FUNCTION_KEY,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=source`.trim(),
        ...this.settings,
      },
      ...(process.env.CHAOS_LOGS ? {} : { logger: silentLogger() }),
    });
  }

  async restart(): Promise<void> {
    const old = this.host;
    this.host = undefined;
    await old?.close();
    this.restarts++;
    await this.start();
  }

  /**
   * One API call; retried while the host is restarting or unreachable, or answers 503 (the API's
   * "briefly unavailable, retry after Retry-After": a POST caught by a host restart), up to
   * `timeoutMs`.
   */
  async api(method: string, route: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; body: any }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (!this.host) throw new Error('host restarting');
        const res = await fetch(`${this.host.url}/api/${route}`, {
          method,
          headers: { 'content-type': 'application/json', 'x-functions-key': FUNCTION_KEY },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.status === 503 && Date.now() < until) {
          const retryAfterMs = Math.min(Number(res.headers.get('retry-after') ?? '1') * 1000 || 1000, 5_000);
          await new Promise((r) => setTimeout(r, retryAfterMs));
          continue;
        }
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async close(): Promise<void> {
    await this.host?.close().catch(() => {});
  }
}
