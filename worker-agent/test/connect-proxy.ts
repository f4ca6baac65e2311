// A small HTTP CONNECT proxy (node:http's `connect` event), as corporate egress proxies work: it
// opens a TCP tunnel to the host:port the client names, and records each request. It allows
// only the targets it is given, so a client that bypassed it, or asked for another host, shows.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export class ConnectProxy {
  /** `host:port` of every CONNECT request, allowed or not, in order. */
  readonly requests: string[] = [];
  private readonly server = http.createServer((_req, res) => res.writeHead(405).end('CONNECT only\n'));
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly allowed: ReadonlySet<string>) {
    this.server.on('connect', (req: http.IncomingMessage, client: Duplex, head: Buffer) => this.tunnel(req, client, head));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private tunnel(req: http.IncomingMessage, client: Duplex, head: Buffer): void {
    const target = req.url ?? '';
    this.requests.push(target);
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    if (!this.allowed.has(target)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
    const upstream = net.connect(port, host.replace(/^\[(.*)\]$/, '$1'), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
