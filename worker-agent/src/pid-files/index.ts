export * from './format.js';
export * from './store.js';
export * from './verify.js';
export * from './registry.js';
