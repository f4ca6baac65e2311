// How a Service Bus client reaches the namespace: AMQP on 5671 (the SDK's default), or AMQP over
// WebSockets (`wss://<host>:443/$servicebus/websocket`) for networks where only 443 leaves,
// optionally through an HTTP CONNECT proxy. Used by the agent and by `workforce send`.
// `ws` and `https-proxy-agent` (websocket-modules.ts) are loaded only when WebSockets are asked for.

import type { WebSocketOptions } from '@azure/service-bus';

export interface BusTransport {
  /** AMQP over WebSockets instead of AMQP on 5671. */
  readonly webSockets: boolean;
  /** HTTP CONNECT proxy of the WebSocket connection (`http://host:port`); only with webSockets. */
  readonly proxy?: string;
}

export const AMQP_TRANSPORT: BusTransport = Object.freeze({ webSockets: false });

/**
 * The proxy URL, checked: `http://` or `https://`, a host, no path. Throws an Error naming
 * `source` (the variable or flag it came from).
 */
export function parseProxyUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${source} must be a URL such as http://proxy.example:3128, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${source} must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  if (url.pathname !== '/' || url.search || url.hash) throw new Error(`${source} must name only the proxy (scheme, host, port), got ${JSON.stringify(text)}`);
  return url.href;
}

/**
 * Whether `host` is listed in a NO_PROXY value: comma- or space-separated names, each matching
 * the host and its subdomains (`example.com`, `.example.com`), a port suffix ignored, `*` for all.
 */
export function bypassesProxy(host: string, noProxy: string | undefined): boolean {
  const h = host.toLowerCase().replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return (noProxy ?? '')
    .split(/[\s,]+/)
    .map((e) => e.trim().toLowerCase().replace(/:\d+$/, '').replace(/^\*?\./, ''))
    .filter((e) => e !== '')
    .some((e) => e === '*' || h === e || h.endsWith(`.${e}`));
}

/** The host a connection string or namespace names (`Endpoint=sb://host[:port]/`). */
export function busHost(connectionStringOrNamespace: string): string {
  const endpoint = /(?:^|;)\s*Endpoint\s*=\s*sb:\/\/([^;/]+)/i.exec(connectionStringOrNamespace);
  return (endpoint ? endpoint[1]! : connectionStringOrNamespace.replace(/^[a-z]+:\/\//i, '').split('/')[0]!).trim();
}

/** `webSocketOptions` for `new ServiceBusClient(...)`, or undefined for plain AMQP. */
export async function webSocketOptions(transport: BusTransport): Promise<WebSocketOptions | undefined> {
  if (!transport.webSockets) return undefined;
  const { WebSocket, HttpsProxyAgent } = await import('./websocket-modules.js');
  if (transport.proxy === undefined) return { webSocket: WebSocket };
  // The SDK hands these to the `ws` constructor, which opens the connection through the agent.
  return { webSocket: WebSocket, webSocketConstructorOptions: { agent: new HttpsProxyAgent(transport.proxy) } };
}
