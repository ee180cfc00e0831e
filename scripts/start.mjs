#!/usr/bin/env node
// A package's `pnpm start` (run from its folder, with the condition that makes the workspace
// packages resolve to their dist/): compiles first if a source changed since the last build, then
// runs the package's dist/cli.js in this same process, so signals and the exit code are the
// server's own and node starts once.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildIfStale } from './build.mjs';

if (!buildIfStale()) process.exit(1);
await import(pathToFileURL(path.resolve('dist/cli.js')).href);
