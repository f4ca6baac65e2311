#!/usr/bin/env -S node --jitless --no-expose-wasm
// Thin launcher so the bin exists (and is executable) before the TypeScript build runs.
import '../dist/cli.js';
