#!/usr/bin/env node
// Entry point of the `shadowkv` command: the built CLI; inside the repository checkout, the launcher that bundles
// the current sources (scripts/shadowkv.mjs), so that the command never runs a stale dist/.
import { existsSync } from 'node:fs';

const launcher = new URL('../../../scripts/shadowkv.mjs', import.meta.url);
if (existsSync(new URL('../src/cli.ts', import.meta.url)) && existsSync(launcher)) await import(launcher.href);
else await (await import('../dist/cli.js')).main();
