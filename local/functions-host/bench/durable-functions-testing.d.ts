// The library's in-process orchestrator wrapper (not part of its typed public surface).
declare module 'durable-functions/lib/src/util/testingUtils.js' {
  export function createOrchestrator(fn: unknown): (trigger: unknown, context: unknown) => Promise<unknown>;
}
