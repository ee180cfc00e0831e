/**
 * Store micro-benchmarks: `pnpm --filter cache-server exec tsx bench/store-bench.ts [options]`.
 *
 *   --entries <n>   stored entries for the start-up figures (default 100000)
 *   --quick         smaller runs (10000 entries, shorter loops), for a smoke test
 *   --no-cli        skip the start-up of the real CLI process (tsx compile time included)
 *   --json          print only the JSON (otherwise a table, then the JSON on the last line)
 *
 * Figures: lookup + hot-tier hit (async and sync paths), disk hit of 256 KiB, start-up with
 * many entries (store open, first lookup, full scan, in-process server to first HIT, CLI
 * process to first HIT), and eviction throughput. `runStoreBench` is the same, for a harness.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { EntryMeta } from '@simple-cache/common';
import { pino } from 'pino';
import { startCacheServer } from '../src/app.js';
import { DiskStore } from '../src/store/disk-store.js';
import { bodyPath, createBodyId, createLayout, hashKey, hashVariant, metaPath } from '../src/store/layout.js';
import { MemoryTier } from '../src/store/memory-tier.js';
import { serializeMetaFile } from '../src/store/meta-file.js';
import type { Store } from '../src/store/store.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PACKAGE_DIR = path.resolve(import.meta.dirname, '..');

export interface StoreBenchOptions {
  entries: number;
  /** Milliseconds each throughput loop runs. */
  loopMs: number;
  cli: boolean;
  /** Entries for the eviction runs. */
  evictionEntries: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface StoreBenchResult {
  machine: { cpus: number; cpuModel: string; node: string; platform: string };
  options: StoreBenchOptions;
  figures: Figure[];
}

export const DEFAULT_OPTIONS: StoreBenchOptions = {
  entries: 100_000,
  loopMs: 2000,
  cli: true,
  evictionEntries: 20_000,
};
export const QUICK_OPTIONS: StoreBenchOptions = { entries: 10_000, loopMs: 500, cli: true, evictionEntries: 5_000 };

const ORIGIN = 'http://origin.bench';
const keyOf = (i: number): string => `${ORIGIN}/item/${i}`;

/**
 * Writes `count` entries straight into the store's layout (meta file + body file each), as the store
 * itself would have: far faster than going through commits with their fsyncs. Every entry is
 * fresh for a day; older indexes look less recently used.
 */
export async function fillStore(dir: string, count: number, bodySize: number): Promise<void> {
  const layout = createLayout(dir);
  const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  for (const fan of hex) {
    await mkdir(path.join(layout.metaDir, fan), { recursive: true });
    await mkdir(path.join(layout.bodyDir, fan), { recursive: true });
  }
  await mkdir(layout.tmpDir, { recursive: true });
  const body = randomBytes(bodySize);
  const checksum = createHash('sha1').update(body).digest('hex');
  const now = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const key = keyOf(i);
      const meta: EntryMeta = {
        key,
        variant: '',
        vary: [],
        varyValues: {},
        status: 200,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(bodySize),
          'cache-control': 'max-age=86400',
        },
        requestTime: now - count + i - 1,
        responseTime: now - count + i,
        size: bodySize,
        bodyId: createBodyId(),
        checksum,
      };
      await writeFile(bodyPath(layout, meta.bodyId), body);
      await writeFile(metaPath(layout, hashKey(key), hashVariant(meta.variant)), serializeMetaFile(meta));
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
}

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

/** Runs `op` back to back for `ms` milliseconds (after a short warm-up); ops per second and µs per op. */
async function loop(
  ms: number,
  op: (i: number) => Promise<unknown> | unknown,
): Promise<{ perSecond: number; micros: number }> {
  for (let i = 0; i < 200; i++) await op(i);
  let count = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    // Batches keep the clock reads out of the figure for the fast paths.
    for (let j = 0; j < 100; j++) await op(count++);
  }
  const elapsed = performance.now() - start;
  return { perSecond: (count / elapsed) * 1000, micros: (elapsed * 1000) / count };
}

async function withTempDir<T>(name: string, run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `store-bench-${name}-`));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeThrough(store: Store, key: string, body: Buffer): Promise<EntryMeta> {
  const writer = store.beginWrite({
    key,
    variant: '',
    vary: [],
    varyValues: {},
    status: 200,
    headers: { 'cache-control': 'max-age=86400' },
    requestTime: Date.now(),
    responseTime: Date.now(),
    size: body.length,
  });
  writer.body.end(body);
  return writer.commit();
}

async function benchHotTier(options: StoreBenchOptions): Promise<Figure[]> {
  return withTempDir('hot', async (dir) => {
    const disk = await DiskStore.open({ dir, maxSize: 1024 * MiB });
    const tier = new MemoryTier(disk, { maxSize: 64 * MiB, maxObjectSize: 64 * KiB });
    try {
      const count = 1000;
      const body = randomBytes(4 * KiB);
      for (let i = 0; i < count; i++) await writeThrough(tier, keyOf(i), body);
      const asyncPath = await loop(options.loopMs, async (i) => {
        const [entry] = await tier.lookup(keyOf(i % count));
        tier.markUsed(entry!);
        return drain(await tier.openBody(entry!));
      });
      const syncPath = await loop(options.loopMs, (i) => {
        const [entry] = tier.lookupSync(keyOf(i % count)) ?? [];
        tier.markUsed(entry!);
        return tier.getBody(entry!)?.length;
      });
      return [
        {
          name: 'hot-tier hit, 4 KiB: lookup + openBody + read',
          value: asyncPath.perSecond,
          unit: 'ops/s',
          note: `${asyncPath.micros.toFixed(1)} µs/op`,
        },
        {
          name: 'hot-tier hit, 4 KiB: lookupSync + getBody',
          value: syncPath.perSecond,
          unit: 'ops/s',
          note: `${syncPath.micros.toFixed(2)} µs/op`,
        },
      ];
    } finally {
      await tier.close();
    }
  });
}

async function benchDiskHit(options: StoreBenchOptions): Promise<Figure[]> {
  return withTempDir('disk', async (dir) => {
    const store = await DiskStore.open({ dir, maxSize: 1024 * MiB });
    try {
      const count = 200;
      const size = 256 * KiB;
      for (let i = 0; i < count; i++) await writeThrough(store, keyOf(i), randomBytes(size));
      const result = await loop(options.loopMs, async (i) => {
        const [entry] = await store.lookup(keyOf(i % count));
        return drain(await store.openBody(entry!));
      });
      return [
        {
          name: 'disk hit, 256 KiB: lookup + openBody + read',
          value: result.perSecond,
          unit: 'ops/s',
          note: `${result.micros.toFixed(0)} µs/op, ${((result.perSecond * size) / MiB).toFixed(0)} MiB/s (page cache warm)`,
        },
      ];
    } finally {
      await store.close();
    }
  });
}

function getStatus(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-cache'])));
      })
      .on('error', reject);
  });
}

/**
 * Spawns the real CLI (through tsx, as `pnpm start` does): ms until it logs that it listens and,
 * when `key` is given, until its answer for that key (which must be a HIT) has arrived.
 */
function timeCli(dir: string, key?: number): Promise<{ listeningMs: number; hitMs?: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', '0', '--host', '127.0.0.1', '--origin', ORIGIN, '--cache-dir', dir],
      { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CACHE_LOG_LEVEL: 'info' } },
    );
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!match) return;
      const listeningMs = performance.now() - start;
      child.stdout.off('data', onData);
      child.stdout.resume();
      const done = (result: { listeningMs: number; hitMs?: number } | Error) => {
        child.removeAllListeners('exit');
        child.kill('SIGTERM');
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      if (key === undefined) return done({ listeningMs });
      getStatus(`${match[1]}/item/${key}`).then(
        (status) =>
          done(status === 'HIT' ? { listeningMs, hitMs: performance.now() - start } : new Error(`got ${status}`)),
        (err: Error) => done(err),
      );
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the CLI exited with ${code}`)));
  });
}

async function benchStartup(options: StoreBenchOptions): Promise<Figure[]> {
  return withTempDir('startup', async (dir) => {
    const n = options.entries;
    const fillStart = performance.now();
    await fillStore(dir, n, 1 * KiB);
    const fillMs = performance.now() - fillStart;
    const probe = Math.floor(n / 2);

    const start = performance.now();
    const store = await DiskStore.open({ dir, maxSize: 1024 * MiB });
    const openMs = performance.now() - start;
    const [found] = await store.lookup(keyOf(probe));
    const lookupMs = performance.now() - start;
    if (found === undefined) throw new Error('the probe entry was not found');
    await store.ready();
    const scanMs = performance.now() - start;
    const rssMiB = process.memoryUsage().rss / MiB;
    const indexed = store.stats().entries;
    await store.close();

    const serverStart = performance.now();
    const server = await startCacheServer(
      { origin: ORIGIN, cacheDir: dir, logLevel: 'silent' },
      { logger: pino({ level: 'silent' }) },
    );
    const status = await getStatus(`${server.url}/item/${probe}`);
    const serverMs = performance.now() - serverStart;
    await server.close();
    if (status !== 'HIT') throw new Error(`expected a HIT, got ${status}`);

    const figures: Figure[] = [
      { name: `start-up, ${n} entries: DiskStore.open resolves`, value: openMs, unit: 'ms' },
      {
        name: `start-up, ${n} entries: first lookup answered`,
        value: lookupMs,
        unit: 'ms',
        note: 'meta file read on demand',
      },
      {
        name: `start-up, ${n} entries: in-process server, first HIT`,
        value: serverMs,
        unit: 'ms',
        note: 'buildCacheServer + listen + one request',
      },
      {
        name: `start-up, ${n} entries: background scan complete`,
        value: scanMs,
        unit: 'ms',
        note: `${indexed} indexed, RSS ${rssMiB.toFixed(0)} MiB`,
      },
    ];
    if (options.cli) {
      const empty = await withTempDir('empty', (emptyDir) => timeCli(emptyDir));
      const filled = await timeCli(dir, probe);
      figures.push(
        {
          name: 'start-up, empty store: CLI process listening',
          value: empty.listeningMs,
          unit: 'ms',
          note: 'spawn → "Server listening": node + tsx + modules',
        },
        {
          name: `start-up, ${n} entries: CLI process listening`,
          value: filled.listeningMs,
          unit: 'ms',
        },
        {
          name: `start-up, ${n} entries: CLI process, first HIT`,
          value: filled.hitMs ?? Number.NaN,
          unit: 'ms',
          note: 'spawn → listening → a stored key answered',
        },
      );
    }
    figures.push({ name: `(writing ${n} entries into the layout directly)`, value: fillMs, unit: 'ms' });
    return figures;
  });
}

async function benchEviction(options: StoreBenchOptions): Promise<Figure[]> {
  return withTempDir('evict', async (dir) => {
    const n = options.evictionEntries;
    await fillStore(dir, n, 1 * KiB);
    const store = await DiskStore.open({ dir, maxSize: n * KiB });
    try {
      await store.ready();
      // One commit that needs half the store: evicts n/2 entries, least recently used first.
      const bulkStart = performance.now();
      await writeThrough(store, `${ORIGIN}/big`, randomBytes((n / 2) * KiB));
      const bulkMs = performance.now() - bulkStart;
      const bulk = store.stats().evictions;

      // Steady state: a full store, each 1 KiB commit evicting one 1 KiB entry.
      await store.delete(`${ORIGIN}/big`);
      for (let i = 0; store.stats().size + KiB <= n * KiB; i++)
        await writeThrough(store, `${ORIGIN}/fill/${i}`, randomBytes(KiB));
      const before = store.stats().evictions;
      const commits = Math.min(2000, n / 5);
      const steadyStart = performance.now();
      const body = randomBytes(KiB);
      await Promise.all(Array.from({ length: commits }, (_, i) => writeThrough(store, `${ORIGIN}/new/${i}`, body)));
      const steadyMs = performance.now() - steadyStart;
      const steady = store.stats().evictions - before;
      return [
        {
          name: `eviction, bulk: one commit evicting ${bulk} entries`,
          value: (bulk / bulkMs) * 1000,
          unit: 'entries/s',
          note: `${bulkMs.toFixed(0)} ms`,
        },
        {
          name: `eviction, steady: ${commits} concurrent 1 KiB commits into a full store`,
          value: (commits / steadyMs) * 1000,
          unit: 'commits/s',
          note: `${steady} evictions, fsync per commit`,
        },
      ];
    } finally {
      await store.close();
    }
  });
}

export async function runStoreBench(
  options: StoreBenchOptions = DEFAULT_OPTIONS,
  progress: (m: string) => void = () => undefined,
): Promise<StoreBenchResult> {
  const figures: Figure[] = [];
  progress('hot tier');
  figures.push(...(await benchHotTier(options)));
  progress('disk hit');
  figures.push(...(await benchDiskHit(options)));
  progress(`start-up with ${options.entries} entries`);
  figures.push(...(await benchStartup(options)));
  progress('eviction');
  figures.push(...(await benchEviction(options)));
  const cpu = os.cpus()[0];
  return {
    machine: {
      cpus: os.cpus().length,
      cpuModel: cpu?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${os.release()}`,
    },
    options,
    figures,
  };
}

export function renderTable(result: StoreBenchResult): string {
  const rows = result.figures.map((f) => [f.name, formatValue(f), f.note ?? '']);
  const widths = [0, 1, 2].map((c) =>
    Math.max(...rows.map((r) => r[c]!.length), ['figure', 'value', 'note'][c]!.length),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const { machine } = result;
  return [
    `store micro-benchmarks — ${machine.cpuModel}, ${machine.cpus} cores, node ${machine.node}`,
    '',
    line(['figure', 'value', 'note']),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

function formatValue(figure: Figure): string {
  const digits = figure.value >= 100 ? 0 : 1;
  return `${figure.value.toLocaleString('en-US', { maximumFractionDigits: digits })} ${figure.unit}`;
}

function parseArgs(argv: string[]): { options: StoreBenchOptions; json: boolean } {
  const options = { ...(argv.includes('--quick') ? QUICK_OPTIONS : DEFAULT_OPTIONS) };
  const entries = argv.indexOf('--entries');
  if (entries !== -1) {
    const n = Number(argv[entries + 1]);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error('--entries needs a positive integer');
    options.entries = n;
  }
  if (argv.includes('--no-cli')) options.cli = false;
  return { options, json: argv.includes('--json') };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { options, json } = parseArgs(process.argv.slice(2));
  const result = await runStoreBench(options, (m) => process.stderr.write(`· ${m}\n`));
  if (!json) process.stdout.write(`${renderTable(result)}\n\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
