import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { download } from '../lib/download.js';
import { HIT_BODIES, REDIS_LARGE } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRate, formatRatio, formatSize, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import { findFreePort, spawnServer, type Server } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, startCache, type Target } from '../lib/servers.js';
import { ensureCommand, readVersion } from '../lib/tools.js';
import { describeDeletions, measurePurges, PURGE_ENTRIES, renderPurges } from './redis-purge.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';
import { FOLLOW_ROUNDS, measureFollow, type FollowResult } from './redis-follow.js';

/** The caches compared: the disk store (the default) and the Redis store, with and without the memory tier. */
interface Variant {
  id: string;
  label: string;
  /** CACHE_… options of this cache; undefined: the lab's shared disk-store cache. */
  env?: (redisUrl: string) => Record<string, string>;
}

const VARIANTS: Variant[] = [
  { id: 'disk', label: 'simple-cache, disk store' },
  { id: 'redis', label: 'simple-cache, Redis store', env: (url) => ({ CACHE_STORE: url }) },
  {
    id: 'redis-no-tier',
    label: 'simple-cache, Redis store, --memory-size 0',
    env: (url) => ({ CACHE_STORE: url, CACHE_MEMORY_SIZE: '0' }),
  },
];

interface Cell {
  variant: string;
  body: string;
  wrk: WrkResult;
  originRequests: number;
}

/**
 * Hit throughput through the Redis store against the disk store: the same origin, the same
 * stored bodies, wrk with keep-alive connections. redis-server runs on the server core beside
 * the cache (its work is part of every hit); variants take turns for each body, as in `hits`.
 * With the memory tier (the default) bodies up to 64 KiB come from memory on both stores and
 * only the metadata comes from Redis; without it every body is read from Redis too.
 */
export async function runRedis(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const found = ensureCommand('redis-server', 'redis-server');
  if (!found.ok) throw new Error(found.reason);
  const { connections, durationSec, warmupSec } = lab.options;
  const origin = await lab.origin();
  const redis = await startRedis(lab);
  const targets = new Map<string, Target>();
  for (const variant of VARIANTS) {
    const target = variant.env
      ? await startRedisCache(lab, `cache-${variant.id}`, origin.url, variant.env(redis.url))
      : await lab.cache();
    targets.set(variant.id, { ...target, label: variant.label });
  }
  for (const target of targets.values()) for (const body of HIT_BODIES) await primeCache(target, body.path);

  const cells: Cell[] = [];
  for (const body of HIT_BODIES) {
    for (const variant of VARIANTS) {
      const url = `${targets.get(variant.id)!.url}${body.path}`;
      if (warmupSec > 0) await runWrk(url, { connections, durationSec: warmupSec });
      const before = await countOriginRequests(origin.url, body.path);
      const wrk = await runWrk(url, { connections, durationSec });
      const originRequests = (await countOriginRequests(origin.url, body.path)) - before;
      cells.push({ variant: variant.id, body: body.label, wrk, originRequests });
      progress(`redis ${body.label.padEnd(8)} ${variant.label.padEnd(42)} ${formatInt(wrk.requestsPerSec)} req/s`);
    }
  }

  const large = await measureLargeHits(targets, progress);
  const largeRate = (variant: string) => large.find((row) => row.variant === variant)?.bytesPerSec;
  const find = (variant: string, body: string) => cells.find((c) => c.variant === variant && c.body === body)?.wrk;
  const headers = [
    'server',
    ...HIT_BODIES.flatMap((body) => [`${body.label} req/s`, 'p99']),
    `${REDIS_LARGE.label} hit`,
  ];
  const rows = VARIANTS.map((variant) => [
    variant.label,
    ...HIT_BODIES.flatMap((body) => {
      const wrk = find(variant.id, body.label);
      return [formatInt(wrk?.requestsPerSec), formatMs(wrk?.p99Ms)];
    }),
    LARGE_VARIANTS.includes(variant.id) ? formatRate(largeRate(variant.id)) : '',
  ]);
  for (const variant of VARIANTS.filter((v) => v.env)) {
    rows.push([
      `${variant.label} ÷ disk store`,
      ...HIT_BODIES.flatMap((body) => {
        const mine = find(variant.id, body.label);
        const disk = find('disk', body.label);
        return [formatRatio(mine?.requestsPerSec, disk?.requestsPerSec), formatRatio(mine?.p99Ms, disk?.p99Ms)];
      }),
      LARGE_VARIANTS.includes(variant.id) ? formatRatio(largeRate(variant.id), largeRate('disk')) : '',
    ]);
  }
  const outage = await measureOutage(targets.get('redis')!, redis.server, connections, progress);
  const follow = await measureFollow(
    async (slowOrigin) =>
      Promise.all(
        ['a', 'b'].map(
          async (node) =>
            (await startRedisCache(lab, `cache-follow-${node}`, slowOrigin, { CACHE_STORE: redis.url })).url,
        ),
      ) as Promise<[string, string]>,
    progress,
  );
  const purges = await measurePurges(redis.url, progress);

  const version = readVersion('redis-server', ['--version'], /v=\S+/) ?? 'redis-server';
  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s after a ${warmupSec}s warm-up; bodies already stored; ` +
      `${version} on the server core with the cache, nothing saved to disk.`,
    `${REDIS_LARGE.label} hit: curl on the load generator's core, the median of ${LARGE_ROUNDS} downloads of a stored ` +
      'body (never held in the memory tier: it streams from the disk or from Redis).',
    `Redis hung: redis-server stopped (SIGSTOP) for ${OUTAGE_SEC} s while wrk asked the Redis-store cache for the ` +
      `stored 1 KiB body: ${formatInt(outage.during.requestsPerSec)} req/s (p99 ${formatMs(outage.during.p99Ms)}, ` +
      `${formatInt(outage.during.errors)} errors) against ${formatInt(outage.before.requestsPerSec)} req/s ` +
      `(p99 ${formatMs(outage.before.p99Ms)}) just before; ${formatInt(outage.after.requestsPerSec)} req/s in the ` +
      `${OUTAGE_SEC} s after SIGCONT.`,
    describeFollow(follow),
    `Purges (the table below): ${formatInt(PURGE_ENTRIES)} entries of 1 KiB in Redis, each with a tag of its own ` +
      'group of 10 and a path in a group of 100; the purges of one tag and of one prefix, through the tag and ' +
      'prefix indexes and as before them (reading every entry: the same store with its index hidden), in turns, ' +
      'the median of 3 (ms of the purge call in one node, and the Redis commands it cost, those run by scripts ' +
      'included); everything: once each way, the new generation timed to its answer, with by when its background sweep had deleted the old entries.',
    describeDeletions(purges.deletions),
  ];
  for (const cell of cells) {
    const label = VARIANTS.find((v) => v.id === cell.variant)?.label ?? cell.variant;
    if (cell.wrk.errors > 0) notes.push(`${label}, ${cell.body}: ${formatInt(cell.wrk.errors)} errors.`);
    if (cell.originRequests > 0)
      notes.push(`${label}, ${cell.body}: ${cell.originRequests} requests reached the origin.`);
  }
  return {
    title: `Hits through the Redis store against the disk store (${connections} connections)`,
    table: `${renderTable(headers, rows)}\n\n${renderPurges(purges.rows)}`,
    notes,
    data: { connections, durationSec, warmupSec, redis: version, cells, large, outage, follow, purges },
  };
}

/** redis-server on a free loopback port, saving nothing, stopped at cleanup. */
async function startRedis(lab: Lab): Promise<{ server: Server; url: string }> {
  const dir = await lab.dir('redis');
  const port = await findFreePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  const server = spawnServer('redis', 'redis-server', args, { cwd: dir, logPath: lab.logPath('redis') });
  const deadline = performance.now() + 30_000;
  while (!(await answersPing(port))) {
    if (server.hasExited()) throw new Error(`redis-server exited before serving:\n${await server.logTail()}`);
    if (performance.now() > deadline)
      throw new Error(`redis-server did not answer within 30 s:\n${await server.logTail()}`);
    await sleep(20);
  }
  return { server, url: `redis://127.0.0.1:${port}/0` };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
}

async function startRedisCache(lab: Lab, name: string, origin: string, env: Record<string, string>): Promise<Target> {
  return startCache({
    origin,
    cacheDir: await lab.dir(name),
    logPath: lab.logPath(name),
    logLevel: lab.options.logLevel,
    maxSize: lab.cacheMaxSize,
    maxObjectSize: lab.cacheMaxObjectSize,
    env,
  });
}

const LARGE_ROUNDS = 3;
/** The large body is never held in the memory tier, so the variant without one would measure the same. */
const LARGE_VARIANTS = ['disk', 'redis'];
const OUTAGE_SEC = 3;

interface LargeRow {
  variant: string;
  bytesPerSec: number;
}

/** The large body through the disk store and the Redis store: stored first, then downloaded in turns. */
async function measureLargeHits(targets: Map<string, Target>, progress: Progress): Promise<LargeRow[]> {
  const measured = LARGE_VARIANTS.map((variant) => ({
    variant,
    target: targets.get(variant)!,
    rates: [] as number[],
  }));
  for (const { target } of measured) await primeCache(target, REDIS_LARGE.path);
  for (let round = 0; round < LARGE_ROUNDS; round += 1) {
    for (const { target, rates } of measured) {
      const transfer = await download(`${target.url}${REDIS_LARGE.path}`);
      if (transfer.status !== 200 || transfer.bytes !== REDIS_LARGE.size || transfer.xCache !== 'HIT') {
        throw new Error(
          `${target.label} ${REDIS_LARGE.path}: ${transfer.status} ${transfer.xCache}, ${transfer.bytes} bytes`,
        );
      }
      rates.push(transfer.bytesPerSec);
      progress(`redis ${REDIS_LARGE.label.padEnd(8)} ${target.label.padEnd(42)} ${formatRate(transfer.bytesPerSec)}`);
    }
  }
  return measured.map(({ variant, rates }) => ({ variant, bytesPerSec: median(rates) }));
}

interface Outage {
  before: WrkResult;
  during: WrkResult;
  after: WrkResult;
}

/**
 * What clients see while Redis hangs (a stopped process keeps its connections open, so nothing
 * fails: replies just never come): wrk on a stored entry before, during a SIGSTOP of
 * redis-server, and after SIGCONT.
 */
async function measureOutage(target: Target, redis: Server, connections: number, progress: Progress): Promise<Outage> {
  const url = `${target.url}${HIT_BODIES[0].path}`;
  const before = await runWrk(url, { connections, durationSec: OUTAGE_SEC });
  process.kill(redis.pid, 'SIGSTOP');
  let during: WrkResult;
  try {
    during = await runWrk(url, { connections, durationSec: OUTAGE_SEC });
  } finally {
    process.kill(redis.pid, 'SIGCONT');
  }
  const after = await runWrk(url, { connections, durationSec: OUTAGE_SEC });
  progress(
    `redis SIGSTOP: ${formatInt(before.requestsPerSec)} → ${formatInt(during.requestsPerSec)} → ${formatInt(after.requestsPerSec)} req/s`,
  );
  return { before, during, after };
}

/** The note on issue 16.8: a second node asking for a body the first is still downloading. */
function describeFollow(follow: FollowResult): string {
  const { median } = follow;
  return (
    `Second node mid-download: node A misses a ${formatSize(follow.sizeBytes)} body that the origin sends at ` +
    `${formatRate(follow.rateBytesPerSec)}; once it has sent ${formatSize(follow.askedAfterBytes)}, node B (same ` +
    `Redis) asks for it: B's first byte after ${formatMs(median.ttfbMs)}, its last after ${formatMs(median.totalMs)}, ` +
    `A's client's last byte ${formatMs(median.holderDoneMs)} after B asked (X-Cache ${median.xCache ?? '?'}; ` +
    `median of ${FOLLOW_ROUNDS}, one origin request each).`
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
