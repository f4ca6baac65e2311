// The AMQP listeners. One rhea container serves every listener; attaching one more (the AMQPS
// listener) is a single `listen({ port, host, tls })` call.
import net from 'node:net';
import tls from 'node:tls';
import rhea, { type Container } from 'rhea';
import type { Logger } from '../log.js';

export interface ListenOptions {
  port: number;
  host: string;
  /** PEM key and certificate: the listener speaks AMQPS. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ConnectionOptions {
  /** Largest frame we accept; larger messages arrive in several frames. */
  maxFrameSize: number;
  /** Extra rhea connection options (link defaults such as `autosettle`). */
  rhea?: Record<string, unknown>;
}

export class AmqpServer {
  readonly container: Container;
  private readonly servers = new Set<net.Server>();
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly logger: Logger,
    private readonly connectionOptions: ConnectionOptions,
  ) {
    this.container = rhea.create_container({ id: 'servicebus-emulator' });
    this.container.sasl_server_mechanisms.enable_anonymous();
    // A protocol error on one connection must never reach the default 'error' handler,
    // which would throw and stop the process.
    this.container.on('error', (e: unknown) => logger.debug('amqp error', { error: String(e) }));
  }

  /** Starts a listener; resolves with the bound port (useful with port 0). */
  listen(options: ListenOptions): Promise<number> {
    const accept = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.setNoDelay(true); // small frames (dispositions, flows) must not wait for Nagle
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const connection = this.container.create_connection({
        ...this.connectionOptions.rhea,
        max_frame_size: this.connectionOptions.maxFrameSize,
        // Idle timeout we ask of the client; the SDK sends empty frames well within this.
        idle_time_out: 120_000,
      } as never);
      try {
        (connection as unknown as { accept(s: net.Socket): void }).accept(socket);
      } catch (e) {
        this.logger.warn('connection rejected', { error: String(e) });
        socket.destroy();
      }
    };
    const server = options.tls
      ? tls.createServer({ key: options.tls.key, cert: options.tls.cert }, accept)
      : net.createServer(accept);
    if (options.tls) {
      // TLS handshake failures (plain TCP clients, bad certificates) are per-socket problems.
      server.on('tlsClientError', (e) => this.logger.debug('tls client error', { error: String(e) }));
    }
    this.servers.add(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.logger.error('listener error', { error: String(e) }));
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops every listener and drops every open connection. */
  async close(): Promise<void> {
    const closing = [...this.servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.servers.clear();
    await Promise.all(closing);
  }
}
