/**
 * A bounded soak test of the real cache process: `pnpm soak [--duration 2m] [--concurrency 64]`.
 *
 * Starts a programmable origin in this process and the cache CLI as a child process, then runs
 * mixed traffic at high concurrency: cacheable GETs (mostly hits), conditional GETs, uncacheable
 * GETs (private, no-store), purges (PURGE when the admin endpoint answers it, else a DELETE
 * through the cache, which invalidates), over pooled and fresh connections. Every answer is
 * checked (status, and the body byte for byte). At the end it reports the cache's RSS and open
 * file descriptors after warm-up and after the run, and the hit ratio against what the mix allows,
 * and exits 1 if any check failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '@simple-cache/common';

const PACKAGE_DIR = path.resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Options: flag, else SOAK_* environment variable, else default.

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    concurrency: { type: 'string' },
    keys: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (flags.help) {
  process.stdout.write(
    [
      'pnpm soak [--duration 2m] [--warmup 10s] [--concurrency 64] [--keys 300]',
      '  --duration     load after warm-up (SOAK_DURATION, default 2m)',
      '  --warmup       load before the baseline is taken (SOAK_WARMUP, default 10s)',
      '  --concurrency  requests in flight at once (SOAK_CONCURRENCY, default 64)',
      '  --keys         distinct cacheable URLs (SOAK_KEYS, default 300)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const option = (flag: string | undefined, env: string, fallback: string) => flag ?? process.env[env] ?? fallback;
const DURATION_MS = parseDuration(option(flags.duration, 'SOAK_DURATION', '2m'));
const WARMUP_MS = parseDuration(option(flags.warmup, 'SOAK_WARMUP', '10s'));
const CONCURRENCY = Number(option(flags.concurrency, 'SOAK_CONCURRENCY', '64'));
const KEYS = Number(option(flags.keys, 'SOAK_KEYS', '300'));

/** The traffic mix, in percent. */
const MIX = { hit: 72, conditional: 6, private: 8, noStore: 6, purge: 2, fresh: 6 } as const;
type Kind = keyof typeof MIX;

// ---------------------------------------------------------------------------------------------
// The origin: deterministic bodies, so every answer can be checked byte for byte.

/** Sizes from 200 bytes to 64 KiB, and every 25th key (never the hottest) 1 MiB. */
function bodyOf(n: number): Buffer {
  const size = n % 25 === 24 ? MiB : 200 + ((n * 7919) % (64 * 1024));
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) body[i] = (n * 31 + i * 7) & 0xff;
  return body;
}
const bodies = Array.from({ length: KEYS }, (_v, n) => bodyOf(n));
const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');
const hashes = bodies.map(sha1);
const originFetches = { static: 0, private: 0, noStore: 0 };

const origin = http.createServer((req, res) => {
  const [, kind, id] = (req.url ?? '').split('/');
  const n = Number(id);
  if (kind === 'static' && req.method === 'DELETE') {
    res.writeHead(204).end();
  } else if (kind === 'static' && bodies[n]) {
    originFetches.static++;
    res.writeHead(200, {
      'cache-control': 'public, max-age=3600',
      etag: `"s${n}"`,
      'content-type': 'application/octet-stream',
      'content-length': bodies[n].length,
    });
    res.end(bodies[n]);
  } else if (kind === 'private' || kind === 'no-store') {
    originFetches[kind === 'private' ? 'private' : 'noStore']++;
    res.writeHead(200, { 'cache-control': kind === 'private' ? 'private, max-age=60' : 'no-store' });
    res.end(`${kind} ${n} ${originFetches.private + originFetches.noStore}`);
  } else {
    res.writeHead(404).end();
  }
});

// ---------------------------------------------------------------------------------------------
// The cache: the real CLI, in its own process, so its RSS and descriptors are its own.

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startCache(originUrl: string, cacheDir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--origin', originUrl, '--cache-dir', cacheDir];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args, '--log-level', 'warn'], {
    cwd: PACKAGE_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return { child, url: `http://127.0.0.1:${port}` };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the cache did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function sample(pid: number): Promise<{ rssMiB: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round((rssKiB / 1024) * 10) / 10, fds: (await readdir(`/proc/${pid}/fd`)).length };
}

// ---------------------------------------------------------------------------------------------
// The load.

interface Tally {
  requests: number;
  byKind: Record<Kind, number>;
  xCache: Record<string, number>;
  staticGets: number;
  errors: string[];
  latencies: number[];
}

const tally: Tally = {
  requests: 0,
  byKind: { hit: 0, conditional: 0, private: 0, noStore: 0, purge: 0, fresh: 0 },
  xCache: {},
  staticGets: 0,
  errors: [],
  latencies: [],
};

function pickKind(random: number): Kind {
  let at = random * 100;
  for (const [kind, weight] of Object.entries(MIX) as [Kind, number][]) {
    if ((at -= weight) < 0) return kind;
  }
  return 'hit';
}

/** Zipf-like: a few hot keys, a long tail. */
const pickKey = () => Math.floor(KEYS * Math.random() ** 2);

function send(
  base: string,
  agent: http.Agent | false,
  method: string,
  target: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${target}`, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end();
  });
}

async function oneRequest(base: string, agent: http.Agent, purgeMethod: string): Promise<void> {
  const kind = pickKind(Math.random());
  const n = pickKey();
  const check = (ok: boolean, what: string) => {
    if (!ok && tally.errors.length < 50) tally.errors.push(`${kind} /static/${n}: ${what}`);
  };
  const started = performance.now();
  try {
    if (kind === 'purge') {
      const reply = await send(base, agent, purgeMethod, `/static/${n}`);
      check(reply.status >= 200 && reply.status < 300, `purge answered ${reply.status}`);
    } else if (kind === 'private' || kind === 'noStore') {
      const word = kind === 'private' ? 'private' : 'no-store';
      const reply = await send(base, agent, 'GET', `/${word}/${n}`);
      check(reply.status === 200, `status ${reply.status}`);
      check(reply.body.toString().startsWith(`${word} ${n} `), 'wrong body');
      // Never shared: an uncacheable response must never come from the cache.
      check(reply.headers['x-cache'] === 'MISS', `X-Cache ${reply.headers['x-cache']}`);
    } else {
      const headers = kind === 'conditional' ? { 'if-none-match': `"s${n}"` } : {};
      const reply = await send(base, kind === 'fresh' ? false : agent, 'GET', `/static/${n}`, headers);
      const xCache = String(reply.headers['x-cache']);
      tally.xCache[xCache] = (tally.xCache[xCache] ?? 0) + 1;
      tally.staticGets++;
      if (reply.status === 304) check(kind === 'conditional', '304 to an unconditional request');
      else {
        check(reply.status === 200, `status ${reply.status}`);
        check(sha1(reply.body) === hashes[n], `body differs from the origin's (${reply.body.length} bytes)`);
      }
    }
  } catch (error) {
    check(false, (error as Error).message);
  }
  tally.requests++;
  tally.byKind[kind]++;
  if (tally.latencies.length < 200_000) tally.latencies.push(performance.now() - started);
}

async function runLoad(base: string, until: number, purgeMethod: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const worker = async () => {
    while (Date.now() < until) await oneRequest(base, agent, purgeMethod);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`;
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'simple-cache-soak-'));
  const { child, url } = await startCache(originUrl, cacheDir);
  const pid = child.pid as number;
  try {
    // PURGE when the admin endpoint takes it (loopback may purge without a token), else DELETE.
    const probe = await send(url, false, 'PURGE', '/static/0').catch(() => ({ status: 0 }));
    const purgeMethod = probe.status >= 200 && probe.status < 300 ? 'PURGE' : 'DELETE';
    process.stdout.write(
      `soak: ${DURATION_MS / 1000}s after a ${WARMUP_MS / 1000}s warm-up, ${CONCURRENCY} in flight, ` +
        `${KEYS} keys, purge by ${purgeMethod}, cache pid ${pid}\n`,
    );

    await runLoad(url, Date.now() + WARMUP_MS, purgeMethod);
    const start = await sample(pid);
    const before = {
      requests: tally.requests,
      staticGets: tally.staticGets,
      hits: tally.xCache.HIT ?? 0,
      purges: tally.byKind.purge,
      fetches: originFetches.static,
    };
    const samples = [start];
    const sampler = setInterval(() => void sample(pid).then((s) => samples.push(s)), 5_000);
    const loadStarted = Date.now();
    await runLoad(url, loadStarted + DURATION_MS, purgeMethod);
    const seconds = (Date.now() - loadStarted) / 1000;
    clearInterval(sampler);
    const afterLoad = await sample(pid);
    // Idle: every client connection closed. Descriptors come back down as the cache closes them.
    const deadline = Date.now() + 10_000;
    let end = await sample(pid);
    while (end.fds > start.fds && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      end = await sample(pid);
    }

    const staticGets = tally.staticGets - before.staticGets;
    const fetches = originFetches.static - before.fetches;
    const purges = tally.byKind.purge - before.purges;
    const offload = 1 - fetches / staticGets;
    // At worst each key is fetched once more, and every purge empties a key that is fetched again.
    const expectedOffload = 1 - (KEYS + purges) / staticGets;
    const hits = (tally.xCache.HIT ?? 0) - before.hits;
    const sorted = tally.latencies.sort((a, b) => a - b);
    const pct = (p: number) => Math.round((sorted[Math.floor((sorted.length - 1) * p)] ?? 0) * 10) / 10;
    const peak = Math.max(...samples.map((s) => s.rssMiB), afterLoad.rssMiB);
    // Growth that levels off is the heap and the memory tier warming up; a leak keeps climbing.
    const midRun = samples[Math.floor(samples.length / 2)] ?? start;

    const checks: [string, boolean][] = [
      ['zero errors', tally.errors.length === 0],
      ['RSS bounded (end ≤ 1.5 × after warm-up + 64 MiB)', end.rssMiB <= start.rssMiB * 1.5 + 64],
      ['RSS flat over the second half (end ≤ 1.1 × mid-run + 16 MiB)', end.rssMiB <= midRun.rssMiB * 1.1 + 16],
      ['no descriptor leak (idle end ≤ after warm-up + 8)', end.fds <= start.fds + 8],
      ['origin offload at least what the mix allows', offload >= expectedOffload - 0.01],
    ];
    const report = {
      requests: tally.requests,
      requestsPerSecond: Math.round((tally.requests - before.requests) / seconds),
      byKind: tally.byKind,
      xCache: tally.xCache,
      latencyMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1) },
      rssMiB: {
        afterWarmup: start.rssMiB,
        midRun: midRun.rssMiB,
        peak,
        afterLoad: afterLoad.rssMiB,
        idleEnd: end.rssMiB,
      },
      rssSamplesMiB: samples.map((s) => Math.round(s.rssMiB)).join(' '),
      fds: { afterWarmup: start.fds, afterLoad: afterLoad.fds, idleEnd: end.fds },
      hitRatio: Math.round((hits / staticGets) * 1000) / 1000,
      originOffload: Math.round(offload * 1000) / 1000,
      expectedOffloadAtLeast: Math.round(expectedOffload * 1000) / 1000,
      originFetches,
      errors: tally.errors,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    for (const [what, ok] of checks) process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
    process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    origin.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
