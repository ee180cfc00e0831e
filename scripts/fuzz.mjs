#!/usr/bin/env node
// `pnpm fuzz`: the long run of the fuzzers that `pnpm test` runs briefly with a fixed seed.
//   fuzz-http, fuzz-http-redis: property-based request sequences and origin faults, disk and Redis
//              store (FUZZ_RUNS scenarios, at most FUZZ_TIME seconds each, seed FUZZ_SEED, or
//              FUZZ_SEED + FUZZ_PATH to replay a counterexample)
//   fuzz:      malformed requests on raw sockets (FUZZ_COUNT inputs, seed FUZZ_SEED)
// A new seed each run unless FUZZ_SEED is set; it is printed first, and a failure prints the seed
// and path that replay its shrunk counterexample. Extra arguments name test files
// (e.g. `fuzz-http.test` to run only that one).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const env = {
  ...process.env,
  FUZZ_SEED: process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31)),
  FUZZ_RUNS: process.env.FUZZ_RUNS ?? '3000',
  FUZZ_TIME: process.env.FUZZ_TIME ?? '600',
  FUZZ_COUNT: process.env.FUZZ_COUNT ?? '20000',
};
const files = process.argv.slice(2);
console.log(
  `fuzz: FUZZ_SEED=${env.FUZZ_SEED} FUZZ_RUNS=${env.FUZZ_RUNS} FUZZ_TIME=${env.FUZZ_TIME}s FUZZ_COUNT=${env.FUZZ_COUNT}`,
);
const result = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    path.join(root, 'node_modules/jest/bin/jest.js'),
    '--selectProjects',
    'cache-server',
    '--testPathPatterns',
    ...(files.length > 0 ? files.map((file) => `test/${file}`) : ['test/fuzz']),
    // The fuzz files bound themselves (FUZZ_TIME); jest's own limit must not cut them short.
    '--testTimeout',
    String((Number(env.FUZZ_TIME) + 300) * 1_000),
  ],
  { cwd: root, env, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
