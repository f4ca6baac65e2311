// The library API of the local Functions host: `startHost` and its types, the clocks, the app
// configuration, errors, loggers, and the schedule, route and Durable building blocks the tests use.
export { startHost, type Host, type HostOptions, type HostState, type FunctionInfo } from './host.js';
export { ManualClock, RealClock, type Clock } from './clock.js';
export { KEY_SETTINGS, loadAppConfig, type AppConfig, type HostKeys } from './config.js';
export { HostError } from './errors.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';
export { parseSchedule, ScheduleError, type Schedule } from './triggers/ncrontab.js';
export { compileRoute, matchRoute } from './triggers/route.js';
export { DurableEngine } from './durable/engine.js';
export { DurableStore } from './durable/store.js';
