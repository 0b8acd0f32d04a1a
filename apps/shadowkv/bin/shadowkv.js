#!/usr/bin/env node
// Published entry point: runs the built CLI.
import('../dist/cli.js').then((m) => m.main());
