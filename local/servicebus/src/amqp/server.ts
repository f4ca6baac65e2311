// The AMQP listeners, one rhea container for all of them; attaching one more (the AMQPS
// listener) is a single `listen({ port, host, tls })` call. A TLS listener also serves AMQP over
// WebSockets (websocket.ts): its connections are told apart by their first bytes. Around each
// accepted AMQP socket, at the socket level only: frames gathered into one write per tick, a
// prompt answer to segments that get none, and a guard against frames larger than we offered.
import net from 'node:net';
import tls from 'node:tls';
import rhea, { type Connection, type Container } from 'rhea';
import { offerServiceBusMechanisms, type ServerMechanisms } from '../auth/sasl.js';
import type { Logger } from '../log.js';
import { guardFrameSizes } from './frame-guard.js';
import { isHttp, WebSocketEndpoint } from './websocket.js';

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
    offerServiceBusMechanisms(this.container.sasl_server_mechanisms as ServerMechanisms);
    // A protocol error on one connection must never reach the default 'error' handler,
    // which would throw and stop the process.
    this.container.on('error', (e: unknown) => logger.debug('amqp error', { error: String(e) }));
  }

  /** Starts a listener; resolves with the bound port (useful with port 0). */
  listen(options: ListenOptions): Promise<number> {
    const maxFrameSize = this.connectionOptions.maxFrameSize;
    const connectionOptions = {
      ...this.connectionOptions.rhea,
      max_frame_size: maxFrameSize,
      // Idle timeout we ask of the client; the SDK sends empty frames well within this.
      idle_time_out: 120_000,
    };
    const acceptAmqp = (socket: net.Socket) => {
      // What rhea's `container.listen` does with each socket.
      (this.container.create_connection(connectionOptions as never) as Connection & { accept(s: net.Socket): void }).accept(socket);
      const writes = coalesceWrites(socket);
      acknowledgePromptly(socket, writes);
      guardFrameSizes(socket, maxFrameSize, (size) => {
        this.logger.warn('connection dropped: frame size out of bounds', { size, maxFrameSize });
        socket.destroy();
      });
    };
    const webSockets = options.tls ? new WebSocketEndpoint({ container: this.container, connectionOptions, maxFrameSize, logger: this.logger }) : undefined;
    const server = options.tls ? tls.createServer({ key: options.tls.key, cert: options.tls.cert }) : net.createServer();
    server.on(options.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      if (!webSockets) return acceptAmqp(socket);
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        if (isHttp(first)) webSockets.handle(socket);
        else acceptAmqp(socket);
        socket.resume();
      });
    });
    server.listen({ port: options.port, host: options.host });
    if (options.tls) {
      // TLS handshake failures (plain TCP clients, bad certificates) are per-socket problems.
      server.on('tlsClientError', (e: Error) => this.logger.debug('tls client error', { error: String(e) }));
    }
    this.servers.add(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
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

/**
 * rhea writes each frame with its own `socket.write`. Gathering the frames of one processing
 * round (a transfer and a disposition, say) and writing them as one buffer sends them as one
 * segment, and TCP_NODELAY sends it at once: neither Nagle's algorithm nor the peer's delayed
 * ACK then holds a frame back (which cost ~10-40 ms per message). One plain write is also
 * cheaper than corking the socket and writing a vector. What is gathered goes out at the end of
 * the tick. `open` says whether the AMQP connection is open, as far as our own frames tell: we
 * have sent our `open` and not yet our `close`.
 */
function coalesceWrites(socket: net.Socket): Written {
  socket.setNoDelay(true);
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const end = socket.end.bind(socket) as (...args: unknown[]) => net.Socket;
  let pending: Buffer[] = [];
  const flush = () => {
    const chunks = pending;
    if (chunks.length === 0) return;
    pending = [];
    if (!socket.destroyed) write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  };
  const written: Written = { count: 0, open: false };
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    written.count++;
    if (Buffer.isBuffer(chunk)) {
      const performative = amqpPerformative(chunk);
      if (performative === OPEN) written.open = true;
      else if (performative === CLOSE) written.open = false;
    }
    if (!Buffer.isBuffer(chunk) || rest.length > 0) {
      // Not what rhea writes: keep the order, and let the socket handle it.
      flush();
      return write(chunk, ...rest);
    }
    if (pending.length === 0) process.nextTick(flush);
    pending.push(chunk);
    return true;
  }) as typeof socket.write;
  socket.end = ((...args: unknown[]) => {
    flush();
    return end(...args);
  }) as typeof socket.end;
  return written;
}

interface Written {
  /** Writes so far (rhea writes one frame per write). */
  count: number;
  /** Our `open` went out and our `close` has not. */
  open: boolean;
}

const OPEN = 0x10;
const CLOSE = 0x18;

/** The descriptor code of an AMQP frame's performative (`0x00 0x53 code` after the 8-byte header), else -1. */
function amqpPerformative(frame: Buffer): number {
  return frame.length > 10 && frame[5] === 0 && frame[8] === 0x00 && frame[9] === 0x53 ? frame[10]! : -1;
}

/** An empty AMQP frame (a heartbeat). */
const EMPTY_FRAME = Buffer.from([0, 0, 0, 8, 2, 0, 0, 0]);

/**
 * The SDK's sockets use Nagle's algorithm: a client frame waits until the previous segment is
 * acknowledged. When a segment from the client gets no answer (a flow frame, say), TCP delays
 * its ACK by up to 40 ms, and the client's next message waits as long. Answering such a segment
 * with an empty frame carries the ACK at once.
 */
function acknowledgePromptly(socket: net.Socket, written: Written): void {
  // Before rhea's listener: what rhea writes while it reads the segment counts as an answer.
  socket.prependListener('data', () => {
    const before = written.count;
    setImmediate(() => {
      if (written.count === before && written.open && socket.writable) socket.write(EMPTY_FRAME);
    });
  });
}
