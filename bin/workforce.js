#!/usr/bin/env node
// Thin launcher so the bin exists (and is executable) before the TypeScript build runs.
import '../dist/src/cli/cli.js';
