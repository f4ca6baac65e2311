// A TCP proxy between a client and the Service Bus emulator that reads the client's AMQP frames
// and can cut every connection (both sockets destroyed, as test/chaos/proxy.ts does) just before
// it forwards a frame a test picks: the link drops at an exact step of the protocol, every run.
import net from 'node:net';

/** AMQP 1.0 performatives by descriptor code (the SASL frames are named too, to pass them by). */
const PERFORMATIVES: Record<number, string> = {
  0x10: 'open',
  0x11: 'begin',
  0x12: 'attach',
  0x13: 'flow',
  0x14: 'transfer',
  0x15: 'disposition',
  0x16: 'detach',
  0x17: 'end',
  0x18: 'close',
  0x41: 'sasl-init',
  0x43: 'sasl-response',
};

export interface ClientFrame {
  /** `header` for a protocol header, `empty` for a heartbeat, else the performative. */
  performative: string;
  /** The whole frame as latin1 text: names, addresses and application properties are readable in it. */
  text: string;
  /** The proxied connection it came on (0, 1, … in the order they were accepted). */
  connection: number;
}

/** Splits one direction of an AMQP stream into frames (protocol headers included). */
class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const header = this.pending.length >= 8 && this.pending.toString('latin1', 0, 4) === 'AMQP';
      const size = header ? 8 : this.pending.length >= 8 ? this.pending.readUInt32BE(0) : Infinity;
      if (this.pending.length < size) return frames;
      frames.push(this.pending.subarray(0, size));
      this.pending = this.pending.subarray(size);
    }
  }
}

function describe(frame: Buffer, connection: number): ClientFrame {
  const text = frame.toString('latin1');
  if (text.startsWith('AMQP')) return { performative: 'header', text, connection };
  const body = frame[4]! * 4;
  const described = frame.length > body + 2 && frame[body] === 0x00 && frame[body + 1] === 0x53;
  const performative = described ? (PERFORMATIVES[frame[body + 2]!] ?? `0x${frame[body + 2]!.toString(16)}`) : 'empty';
  return { performative, text, connection };
}

export class AmqpCutProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private connections = 0;
  private cutBefore: ((frame: ClientFrame) => boolean) | undefined;
  private onCut: (() => void) | undefined;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** The connection string of `connectionString` (the emulator's) pointed at this proxy. */
  via(connectionString: string): string {
    return connectionString.replace(/(Endpoint=sb:\/\/[^:;/]+:)\d+/, `$1${this.port}`);
  }

  /**
   * Cuts every connection, once, just before the first client frame `match` picks is forwarded
   * (the server never sees it). Resolves when the cut happened.
   */
  cutBeforeFrame(match: (frame: ClientFrame) => boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      this.cutBefore = match;
      this.onCut = resolve;
    });
  }

  private cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  private accept(client: net.Socket): void {
    const connection = this.connections++;
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
    upstream.pipe(client);
    const reader = new FrameReader();
    client.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (this.cutBefore?.(describe(frame, connection))) {
          const done = this.onCut;
          this.cutBefore = undefined;
          this.onCut = undefined;
          this.cut();
          done?.();
          return;
        }
        upstream.write(frame);
      }
    });
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
