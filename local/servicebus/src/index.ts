export type * from './broker/catalogue.js';
export { startEmulator, DEVELOPMENT_KEY, DEVELOPMENT_KEY_NAME } from './emulator.js';
export type { EmulatorOptions, EmulatorState, RunningEmulator, SasKey } from './emulator.js';
export { EmulatorError, isEmulatorError, toEmulatorError } from './errors.js';
export type { EmulatorErrorCode } from './errors.js';
export type { Logger, LogLevel } from './log.js';
export { jsonLogger, silentLogger } from './log.js';
export { emulatorCliPath, spawnEmulator } from './child-process.js';
export type { EmulatorChildProcess, EmulatorReadyLine, SpawnEmulatorOptions } from './child-process.js';
