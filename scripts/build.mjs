#!/usr/bin/env node
// Compiles the servers (common, main-server, cache-server) to packages/*/dist, which `pnpm start`
// runs with plain node: `tsc -b tsconfig.build.json` (project references, emit only: type-checking
// is `pnpm typecheck`'s job, as it was with tsx), then copies the files the compiled code reads
// beside itself (the dashboard). Runs at `pnpm install` (the root "prepare" script) and as
// `pnpm build`; `pnpm start`, the demo and the bench call buildIfStale(), which costs a stat per
// source file (a few ms) unless a source changed since the last build.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The servers' live heap is small (~12 MB) and under load V8 sets the next collection limit
 * barely above it, so full mark-compacts ran back to back: about 40 % of the CPU of a large miss
 * (issue 6). A limit 3x the live heap instead of ~2x removes them for a few MB of memory. It
 * must be on node's command line (node refuses it in NODE_OPTIONS); the package.json start
 * scripts carry it too.
 */
export const HEAP_GROWING = '--heap-growing-percent=200';

/**
 * How a package's compiled entry is run, from its folder (`pnpm start` runs scripts/start.mjs,
 * which adds the staleness check). The condition makes `@simple-cache/common` (and `main-server`)
 * resolve to dist/index.js; without it their package.json "exports" give the TypeScript sources,
 * which is what tsx, ts-jest and tsc want, with no configuration at all.
 */
export const RUN_COMPILED = ['--conditions=simple-cache-compiled', HEAP_GROWING, 'dist/cli.js'];

const ROOT = path.resolve(import.meta.dirname, '..');
const PACKAGES = ['common', 'main-server', 'cache-server'];
/** Files the compiled code reads relative to its own folder: [package, folder under src/]. */
const ASSETS = [['cache-server', 'admin/dashboard']];
/** Written into each dist/ when a build succeeds; its mtime is the moment that build started. */
const STAMP = '.build-stamp';
/** Inputs outside src/: the build configurations and the package manifests (exports). */
const CONFIGS = ['tsconfig.base.json', 'tsconfig.build.base.json', 'tsconfig.build.json'];

const packageDir = (name) => path.join(ROOT, 'packages', name);

function mtimeMs(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The newest mtime under `dir`, folders included (they change when a file is added, removed or renamed). */
function newestUnder(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** True when some input is newer than the last successful build (or there is none). */
function isStale() {
  const shared = Math.max(...CONFIGS.map((file) => mtimeMs(path.join(ROOT, file)) ?? Infinity));
  return PACKAGES.some((name) => {
    const dir = packageDir(name);
    const built = mtimeMs(path.join(dir, 'dist', STAMP));
    if (built === undefined) return true;
    const inputs = [shared, newestUnder(path.join(dir, 'src'))];
    for (const file of ['package.json', 'tsconfig.build.json']) inputs.push(mtimeMs(path.join(dir, file)) ?? Infinity);
    return Math.max(...inputs) > built;
  });
}

/** Compiles and copies the assets; false (tsc's errors printed) if tsc failed. */
export function build() {
  const startedAt = new Date();
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) return false;
  for (const [name, folder] of ASSETS) {
    const target = path.join(packageDir(name), 'dist', folder);
    rmSync(target, { recursive: true, force: true });
    cpSync(path.join(packageDir(name), 'src', folder), target, { recursive: true });
  }
  for (const name of PACKAGES) {
    const stamp = path.join(packageDir(name), 'dist', STAMP);
    writeFileSync(stamp, `${startedAt.toISOString()}\n`);
    // A source saved while tsc ran is newer than the stamp, so the next buildIfStale() builds again.
    utimesSync(stamp, startedAt, startedAt);
  }
  return true;
}

/** Builds only if isStale(), saying so on stderr; false if that build failed. */
export function buildIfStale() {
  if (!isStale()) return true;
  process.stderr.write('simple-cache: sources changed since the last build: compiling…\n');
  return build();
}

if (import.meta.filename === process.argv[1] && !build()) process.exit(1);
