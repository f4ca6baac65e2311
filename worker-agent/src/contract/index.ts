// `@workforce/worker-agent/contract`: the control-message and report contract shared by the
// agent and the control plane. Pure TypeScript: no I/O, no Azure imports.

export * from './result.js';
export * from './drain-id.js';
export * from './control-message.js';
export * from './command.js';
export * from './report.js';
export * from './presence.js';
export * from './refusal.js';
