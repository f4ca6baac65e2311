// AMQP over WebSockets, as Azure serves it on 443: an HTTP upgrade at `/$servicebus/websocket`
// with the subprotocol `AMQPWSB10`, then AMQP frames in binary WebSocket messages. Served on the
// TLS listener beside AMQP over TLS: a connection that starts with `GET` is HTTP, anything else
// goes to rhea as before (`isHttp`). The HTTP side is node:http with `ws`; the AMQP side is
// rhea's own `websocket_accept`.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Container } from 'rhea';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { guardFrameSizes } from './frame-guard.js';

export const WEBSOCKET_PATH = '/$servicebus/websocket';
export const WEBSOCKET_SUBPROTOCOL = 'AMQPWSB10';

/** Whether the first bytes of a connection are an HTTP request (`GET `) rather than AMQP. */
export function isHttp(firstChunk: Buffer): boolean {
  return firstChunk.length > 0 && firstChunk[0] === 0x47; // 'G'; AMQP starts with 'A'
}

export interface WebSocketEndpointOptions {
  container: Container;
  /** rhea connection options, the same as the listener's. */
  connectionOptions: Record<string, unknown>;
  maxFrameSize: number;
  logger: Logger;
}

export class WebSocketEndpoint {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;

  constructor(private readonly options: WebSocketEndpointOptions) {
    // One WebSocket message holds what the client wrote at once (several frames, or a large
    // message's frames): bounded by the largest message Service Bus accepts (100 MB, Premium).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 100 * 1024 * 1024 + options.maxFrameSize });
    this.http = http.createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`This port serves AMQP over TLS, and AMQP over WebSockets at ${WEBSOCKET_PATH} (subprotocol ${WEBSOCKET_SUBPROTOCOL}).\n`);
    });
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.http.on('clientError', (e: Error, socket: Duplex) => {
      options.logger.debug('websocket listener: bad http request', { error: String(e) });
      socket.destroy();
    });
  }

  /** Serves a connection whose first bytes (already read, and put back) are HTTP. */
  handle(socket: Duplex): void {
    this.http.emit('connection', socket);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0]!.replace(/\/+$/, '');
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const refusal =
      path !== WEBSOCKET_PATH
        ? { status: 404, reason: `no WebSocket endpoint at ${req.url ?? ''}: use ${WEBSOCKET_PATH}` }
        : !protocols.includes(WEBSOCKET_SUBPROTOCOL)
          ? { status: 400, reason: `the WebSocket subprotocol must be ${WEBSOCKET_SUBPROTOCOL}` }
          : undefined;
    if (refusal) {
      this.options.logger.info('websocket upgrade refused', { url: req.url, ...refusal });
      socket.end(`HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${refusal.reason}\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const { container, connectionOptions, maxFrameSize, logger } = this.options;
    logger.debug('websocket connection accepted', { protocol: ws.protocol });
    ws.on('error', (e) => logger.debug('websocket error', { error: String(e) }));
    // The same guard as on raw sockets, on the bytes of the WebSocket messages.
    guardFrameSizes(
      { on: (_event, listener) => ws.on('message', (data) => listener(toBuffer(data))) },
      maxFrameSize,
      (size) => {
        logger.warn('connection dropped: frame size out of bounds', { size, maxFrameSize, transport: 'websocket' });
        ws.terminate();
      },
    );
    container.websocket_accept(ws as never, connectionOptions as never);
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return Buffer.from(data as ArrayBuffer);
}
