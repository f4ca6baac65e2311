// What AMQP over WebSockets needs beyond the SDK, in one module: the agent's bundle embeds it
// compressed (scripts/bundle.ts), so an agent without --websockets never parses it.
export { WebSocket } from 'ws';
export { HttpsProxyAgent } from 'https-proxy-agent';
