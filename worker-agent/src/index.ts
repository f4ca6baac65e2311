// @workforce/worker-agent: the node agent as a library (the CLI is `workforce-agent`).
export { Agent, type AgentDeps, type AgentStatus, runningAgent } from './agent.js';
export type { BusMessage, ControlBus, PeekedMessage } from './bus.js';
export { OWNER_PROPERTY } from './bus.js';
export * from './config.js';
export { CRASH_POINTS, type CrashPoint } from './crash-points.js';
export { Drainer, type Outcome } from './drain.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export { createLogger, type Logger, silentLogger } from './log.js';
export { main } from './main.js';
export * from './node-state.js';
export * from './pid-files/index.js';
export { ServiceBusControlBus } from './servicebus.js';
export { exitLike, runWrapped } from './wrapper.js';
export * from './contract/index.js';
