// @workforce/worker-agent: the node agent as a library (the CLI is `workforce-agent`).
export { Agent, type AgentDeps, type AgentStatus, runningAgent } from './agent/agent.js';
export type { BusMessage, ControlBus, PeekedMessage } from './agent/bus.js';
export { OWNER_PROPERTY } from './agent/bus.js';
export * from './commands/config.js';
export { CRASH_POINTS, type CrashPoint } from './agent/crash-points.js';
export { Drainer, type Outcome } from './agent/drain.js';
export { AgentError, type AgentErrorCode } from './common/errors.js';
export { createLogger, type Logger, silentLogger } from './common/log.js';
export { main } from './commands/main.js';
export * from './agent/node-state.js';
export * from './pid-files/index.js';
export { ServiceBusControlBus } from './agent/servicebus.js';
export { exitLike, runWrapped } from './wrapper/wrapper.js';
export * from './contract/index.js';
