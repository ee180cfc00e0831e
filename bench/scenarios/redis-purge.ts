import type { EntryMeta } from '../../packages/common/src/index.js';
import net from 'node:net';
import { purgeEntries, type PurgeSelection } from '../../packages/cache-server/src/admin/purge-entries.js';
import { tagsOf } from '../../packages/cache-server/src/admin/tags.js';
import { DEFAULT_POLICY_OPTIONS } from '../../packages/cache-server/src/config/policy-options.js';
import { RedisStore } from '../../packages/cache-server/src/store/redis/redis-store.js';
import type { EntrySelection, Store } from '../../packages/cache-server/src/store/store.js';
import { formatInt, formatRatio, renderTable } from '../lib/format.js';
import type { Progress } from '../lib/report.js';

/** Entries in Redis while purges are timed. */
export const PURGE_ENTRIES = 10_000;
/** Entries per tag and per prefix: a purge selects this many of PURGE_ENTRIES. */
const PER_TAG = 10;
const PER_PREFIX = 100;
const ROUNDS = 3;
const TAG_HEADERS = ['surrogate-key'];
const ORIGIN = 'http://origin.bench';
const BODY = Buffer.alloc(1024, 'x');

export interface PurgeRow {
  kind: 'tag' | 'prefix' | 'all';
  selected: number;
  /** Median ms and Redis commands (INFO commandstats, every command a script runs counted too). */
  indexed: { ms: number; commands: number };
  scan: { ms: number; commands: number };
  /** Through the indexes, deleting one entry after the other (as before deleteMany): by tag and prefix. */
  unbatched?: { ms: number; commands: number };
  /** A purge of everything: by when its background sweep had deleted the old entries (ms from the purge). */
  sweep?: { ms: number; swept: number };
}

/** Deletions timed on their own: entries per round, rounds (in turns, the median). */
const DELETIONS = 100;
const DELETION_ROUNDS = 11;

/** One way of deleting DELETIONS entries: median ms, and CPU µs per entry of this process and of redis-server. */
export interface DeletionRun {
  ms: number;
  nodeUs: number;
  redisUs: number;
}

export interface PurgeReport {
  rows: PurgeRow[];
  /** deleteMany against one delete after the other (the purge's last step alone). */
  deletions: { batched: DeletionRun; oneByOne: DeletionRun };
}

const pathOf = (i: number) => `/p${i % (PURGE_ENTRIES / PER_PREFIX)}/${i}`;
const tagOf = (i: number) => `t${i % (PURGE_ENTRIES / PER_TAG)}`;

/**
 * Purges by tag, by prefix and of everything with PURGE_ENTRIES entries in Redis, through the
 * purge indexes (store/redis/entry-index.ts) and as before them, by reading every entry (the
 * same store with its index hidden): in turns, the median of ROUNDS, the purged entries written
 * again between rounds. The store runs in this process on its own key prefix of the bench's
 * redis-server (the caches under test are idle meanwhile).
 */
export async function measurePurges(redisUrl: string, progress: Progress): Promise<PurgeReport> {
  const store = await RedisStore.open({
    url: redisUrl,
    maxSize: 1024 ** 3,
    policy: DEFAULT_POLICY_OPTIONS,
    prefix: 'bench-purge:v1:',
    entryTags: (entry) => tagsOf(entry.headers, TAG_HEADERS),
  });
  const port = Number(new URL(redisUrl).port);
  try {
    await write(store, range(0, PURGE_ENTRIES));
    // Before the indexes, and still for a store without one: every entry is read.
    const scanning = { entries: () => store.entries(), delete: (key: string) => store.delete(key) } as Store;
    // The indexes, without batched deletion: one delete script and its answer after the other.
    const unbatched = {
      entries: () => store.entries(),
      select: (selection: EntrySelection) => store.select(selection),
      delete: (key: string, variant?: string) => store.delete(key, variant),
    } as Partial<Store> as Store;
    const timed = async (through: Store, selection: PurgeSelection) => {
      const before = await commandsServed(port);
      const started = performance.now();
      const { purged } = await purgeEntries(through, selection, {
        soft: false,
        now: Date.now(),
        policy: DEFAULT_POLICY_OPTIONS,
        tagHeaders: TAG_HEADERS,
      });
      const ms = performance.now() - started;
      return { purged, ms, commands: (await commandsServed(port)) - before - 1 };
    };
    const rows: PurgeRow[] = [];
    const cases: { kind: 'tag' | 'prefix'; selection: PurgeSelection; members: number[] }[] = [
      {
        kind: 'tag',
        selection: { kind: 'tag', tags: [tagOf(7)] },
        members: range(0, PURGE_ENTRIES).filter((i) => tagOf(i) === tagOf(7)),
      },
      {
        kind: 'prefix',
        selection: { kind: 'prefix', prefix: `${ORIGIN}/p7/` },
        members: range(0, PURGE_ENTRIES).filter((i) => pathOf(i).startsWith('/p7/')),
      },
    ];
    for (const { kind, selection, members } of cases) {
      const runs = {
        indexed: [] as { ms: number; commands: number }[],
        scan: [] as { ms: number; commands: number }[],
        unbatched: [] as { ms: number; commands: number }[],
      };
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const [name, through] of [
          ['indexed', store],
          ['scan', scanning],
          ['unbatched', unbatched],
        ] as const) {
          const run = await timed(through, selection);
          if (run.purged !== members.length)
            throw new Error(`purge by ${kind} (${name}) purged ${run.purged}, not ${members.length}`);
          runs[name].push(run);
          await write(store, members);
        }
      }
      const row: PurgeRow = {
        kind,
        selected: members.length,
        indexed: median(runs.indexed),
        scan: median(runs.scan),
        unbatched: median(runs.unbatched),
      };
      rows.push(row);
      progress(
        `redis purge by ${kind} (${members.length} of ${formatInt(PURGE_ENTRIES)}): ` +
          `${row.indexed.ms.toFixed(1)} ms indexed (${row.unbatched!.ms.toFixed(1)} ms one delete at a time), ` +
          `${row.scan.ms.toFixed(0)} ms scanning`,
      );
    }
    // Everything: once each way (each empties the store), the store filled again in between.
    const scanAll = await timed(scanning, { kind: 'all' });
    await write(store, range(0, PURGE_ENTRIES));
    const indexedAll = await timed(store, { kind: 'all' });
    const sweepStarted = performance.now();
    const swept = await store.sweeping;
    const sweep = { ms: performance.now() - sweepStarted + indexedAll.ms, swept };
    rows.push({ kind: 'all', selected: PURGE_ENTRIES, indexed: indexedAll, scan: scanAll, sweep });
    progress(
      `redis purge all (${formatInt(PURGE_ENTRIES)}): ${indexedAll.ms.toFixed(1)} ms (new generation; ` +
        `${formatInt(swept)} swept by ${sweep.ms.toFixed(0)} ms), ${scanAll.ms.toFixed(0)} ms one by one`,
    );
    const deletions = await measureDeletions(store, port);
    progress(describeDeletions(deletions));
    return { rows, deletions };
  } finally {
    await store.close();
  }
}

/**
 * The purge's deletions alone: DELETIONS entries deleted by deleteMany (batched) and by one
 * delete after the other, in turns, the median of DELETION_ROUNDS, the entries written again
 * before each run; CPU of this process (process.cpuUsage) and of redis-server (INFO cpu).
 */
async function measureDeletions(store: RedisStore, port: number): Promise<PurgeReport['deletions']> {
  const runs = { batched: [] as DeletionRun[], oneByOne: [] as DeletionRun[] };
  const members = range(PURGE_ENTRIES, PURGE_ENTRIES + DELETIONS);
  for (let round = 0; round < DELETION_ROUNDS; round += 1) {
    for (const mode of ['batched', 'oneByOne'] as const) {
      await write(store, members);
      const victims = (await Promise.all(members.map((n) => store.lookup(`${ORIGIN}${pathOf(n)}`)))).flat();
      const [cpu, redisBefore, started] = [process.cpuUsage(), await redisCpuUs(port), performance.now()];
      if (mode === 'batched') await store.deleteMany(victims);
      else for (const entry of victims) await store.delete(entry.key, entry.variant);
      const ms = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const redisUs = (await redisCpuUs(port)) - redisBefore;
      runs[mode].push({ ms, nodeUs: (used.user + used.system) / DELETIONS, redisUs: redisUs / DELETIONS });
    }
  }
  const middle = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const summary = (of: DeletionRun[]): DeletionRun => ({
    ms: middle(of.map((run) => run.ms)),
    nodeUs: middle(of.map((run) => run.nodeUs)),
    redisUs: middle(of.map((run) => run.redisUs)),
  });
  return { batched: summary(runs.batched), oneByOne: summary(runs.oneByOne) };
}

export function describeDeletions({ batched, oneByOne }: PurgeReport['deletions']): string {
  const run = (figures: DeletionRun) =>
    `${figures.ms.toFixed(1)} ms, CPU ${figures.nodeUs.toFixed(0)} µs (node) + ${figures.redisUs.toFixed(0)} µs (Redis) per entry`;
  return (
    `A purge's deletions alone (${DELETIONS} entries of 1 KiB, in turns, the median of ${DELETION_ROUNDS}): ` +
    `batched (deleteMany) ${run(batched)}; one after the other ${run(oneByOne)} ` +
    `(${formatRatio(batched.ms, oneByOne.ms)} the time).`
  );
}

export function renderPurges(rows: readonly PurgeRow[]): string {
  const cell = (run: { ms: number; commands: number }) => `${run.ms.toFixed(1)} ms, ${formatInt(run.commands)} cmds`;
  return renderTable(
    [
      'purge',
      `selects (of ${formatInt(PURGE_ENTRIES)})`,
      'indexes / generation (after)',
      'reading every entry (before)',
      'after ÷ before',
      'indexes, one delete at a time',
    ],
    rows.map((row) => [
      row.kind === 'all' ? 'everything' : `by ${row.kind}`,
      formatInt(row.selected),
      cell(row.indexed) + (row.sweep ? ` (all swept by ${row.sweep.ms.toFixed(0)} ms)` : ''),
      cell(row.scan),
      formatRatio(row.indexed.ms, row.scan.ms),
      row.unbatched ? `${cell(row.unbatched)} (${formatRatio(row.indexed.ms, row.unbatched.ms)})` : '–',
    ]),
  );
}
async function write(store: RedisStore, indexes: readonly number[]): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < indexes.length; i += 200) {
    await Promise.all(
      indexes.slice(i, i + 200).map(async (n) => {
        const meta: Omit<EntryMeta, 'bodyId' | 'checksum'> = {
          key: `${ORIGIN}${pathOf(n)}`,
          variant: '',
          vary: [],
          varyValues: {},
          status: 200,
          headers: { 'cache-control': 'max-age=3600', 'surrogate-key': `${tagOf(n)} all` },
          requestTime: now - 1,
          responseTime: now,
          size: BODY.length,
        };
        const writer = store.beginWrite(meta);
        writer.body.end(BODY);
        await writer.commit();
      }),
    );
  }
}

/** Redis commands served so far (INFO commandstats, summed), asked on a connection of its own. */
async function commandsServed(port: number): Promise<number> {
  const info = await askInfo(port, 'commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

/** CPU redis-server has used so far (INFO cpu: user + system), in µs. */
async function redisCpuUs(port: number): Promise<number> {
  const info = await askInfo(port, 'cpu');
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

/** One INFO section, asked on a connection of its own. */
async function askInfo(port: number, section: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`INFO ${section}\r\n`));
    let text = '';
    socket.on('data', (data) => {
      text += data.toString();
      const header = /^\$(\d+)\r\n/.exec(text);
      if (header && Buffer.byteLength(text) >= header[0].length + Number(header[1])) {
        socket.end();
        resolve(text);
      }
    });
    socket.once('error', reject);
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function median<T extends { ms: number }>(runs: T[]): T {
  return [...runs].sort((a, b) => a.ms - b.ms)[Math.floor(runs.length / 2)]!;
}
