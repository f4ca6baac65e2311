// A TCP proxy between one client (an agent, or the Functions host) and the emulator. It can
// stall every connection (bytes are held, not dropped, as a frozen process or a congested link
// would) and cut them (both sockets destroyed). The target port can change: the emulator comes
// back from a restart on a new port, and clients reconnect through the same proxy port.
import net from 'node:net';

export class ChaosProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private stalledUntil = 0;
  private resumeTimer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(
    readonly name: string,
    private targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  retarget(port: number): void {
    this.targetPort = port;
  }

  /** Holds all traffic (both directions, existing and new connections) for `ms`. */
  stall(ms: number): void {
    this.stalledUntil = Math.max(this.stalledUntil, Date.now() + ms);
    for (const [a, b] of this.pairs) {
      a.pause();
      b.pause();
    }
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => this.resume(), this.stalledUntil - Date.now());
  }

  /** Destroys every open connection; the clients see a reset and reconnect. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Ends a stall now. */
  unstall(): void {
    clearTimeout(this.resumeTimer);
    this.stalledUntil = 0;
    this.resume();
  }

  private resume(): void {
    for (const [a, b] of this.pairs) {
      a.resume();
      b.resume();
    }
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
    if (Date.now() < this.stalledUntil) {
      client.pause();
      upstream.pause();
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.resumeTimer);
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
