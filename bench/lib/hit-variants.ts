import { HIT_BODIES } from './fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from './format.js';
import type { Lab } from './lab.js';
import { readCpuMs } from './processes.js';
import type { Progress } from './report.js';
import { countOriginRequests, primeCache, startCache, type Target } from './servers.js';
import { runWrk, type WrkResult } from './wrk.js';

/** One way of starting the cache: the environment (CACHE_… options) is the only difference. */
export interface Variant<Id extends string> {
  id: Id;
  /** Its row in the table. */
  label: string;
  env: Record<string, string>;
}

export interface VariantCell<Id extends string> {
  variant: Id;
  body: string;
  wrk: WrkResult;
  rounds: WrkResult[];
  /**
   * The cache's CPU time (user + system, every thread) per request, in µs, the median of the
   * rounds: what a request costs whatever else runs on the machine, where req/s on a shared
   * machine is what the others left over. On a core of its own, req/s ≈ 10⁶ ÷ this.
   */
  cpuUsPerRequest: number | undefined;
  cpuRounds: (number | undefined)[];
  originRequests: number;
}

type Body = (typeof HIT_BODIES)[number];

/**
 * Hit throughput of caches that differ in one setting: each variant gets its own cache, started
 * alike for this scenario (the lab's shared cache has served other scenarios already: a different
 * heap and JIT state), the same stored bodies, and wrk with keep-alive connections; the caches are
 * measured in turns round after round (the machine drifts during a run) and the median round of
 * each is reported, with the cache's CPU time per request. The rounds themselves go into the
 * notes, so that a ratio can be read against the run's noise.
 */
export async function measureHitVariants<Id extends string>(
  lab: Lab,
  progress: Progress,
  scenario: string,
  variants: readonly Variant<Id>[],
  bodies: readonly Body[] = HIT_BODIES,
): Promise<VariantCell<Id>[]> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const origin = await lab.origin();
  const targets: [Id, Target][] = [];
  for (const variant of variants) {
    const name = `${scenario}-${variant.id}`;
    const target = await startCache({
      origin: origin.url,
      cacheDir: await lab.dir(name),
      logPath: lab.logPath(name),
      logLevel: lab.options.logLevel,
      maxSize: 1024 ** 3,
      maxObjectSize: 256 * 1024 ** 2,
      env: variant.env,
    });
    targets.push([variant.id, target]);
  }
  for (const [, target] of targets) for (const body of bodies) await primeCache(target, body.path);

  const cells: VariantCell<Id>[] = [];
  for (const body of bodies) {
    const runs = new Map<Id, WrkResult[]>(variants.map((variant) => [variant.id, []]));
    const cpu = new Map<Id, (number | undefined)[]>(variants.map((variant) => [variant.id, []]));
    const reached = new Map<Id, number>();
    for (const [, target] of targets) {
      if (warmupSec > 0) await runWrk(`${target.url}${body.path}`, { connections, durationSec: warmupSec });
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const [id, target] = targets[(i + round) % targets.length] as [Id, Target];
        const before = await countOriginRequests(origin.url, body.path);
        const cpuBefore = readCpuMs(target.pids());
        const wrk = await runWrk(`${target.url}${body.path}`, { connections, durationSec });
        const cpuAfter = readCpuMs(target.pids());
        runs.get(id)?.push(wrk);
        const spent = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
        cpu.get(id)?.push(spent === undefined || wrk.requests === 0 ? undefined : (spent * 1000) / wrk.requests);
        reached.set(id, (reached.get(id) ?? 0) + (await countOriginRequests(origin.url, body.path)) - before);
      }
    }
    for (const variant of variants) {
      const measured = runs.get(variant.id) ?? [];
      const wrk = median(measured);
      const cpuRounds = cpu.get(variant.id) ?? [];
      cells.push({
        variant: variant.id,
        body: body.label,
        wrk,
        rounds: measured,
        cpuUsPerRequest: medianOf(cpuRounds),
        cpuRounds,
        originRequests: reached.get(variant.id) ?? 0,
      });
      progress(`${scenario} ${body.label.padEnd(8)} ${variant.id.padEnd(8)} ${formatInt(wrk.requestsPerSec)} req/s`);
    }
  }
  return cells;
}

/**
 * The table (a row per variant: req/s, p99 and CPU µs per request for each body), then one ratio
 * row per `[a, b]` pair (a ÷ b), and the notes: how it was measured, every round, errors,
 * requests that reached the origin.
 */
export function renderHitVariants<Id extends string>(
  lab: Lab,
  variants: readonly Variant<Id>[],
  cells: readonly VariantCell<Id>[],
  ratios: readonly [Id, Id][],
  bodies: readonly Body[] = HIT_BODIES,
): { table: string; notes: string[] } {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const cellOf = (id: Id, body: string) => cells.find((c) => c.variant === id && c.body === body);
  const label = new Map(variants.map((variant) => [variant.id, variant.label]));
  const headers = ['server', ...bodies.flatMap((body) => [`${body.label} req/s`, 'p99', 'CPU µs/req'])];
  const rows = variants.map((variant) => [
    variant.label,
    ...bodies.flatMap((body) => {
      const c = cellOf(variant.id, body.label);
      return [formatInt(c?.wrk.requestsPerSec), formatMs(c?.wrk.p99Ms), formatMicros(c?.cpuUsPerRequest)];
    }),
  ]);
  for (const [a, b] of ratios) {
    rows.push([
      `${label.get(a)} ÷ ${label.get(b)}`,
      ...bodies.flatMap((body) => {
        const mine = cellOf(a, body.label);
        const theirs = cellOf(b, body.label);
        return [
          formatRatio(mine?.wrk.requestsPerSec, theirs?.wrk.requestsPerSec),
          formatRatio(mine?.wrk.p99Ms, theirs?.wrk.p99Ms),
          formatRatio(mine?.cpuUsPerRequest, theirs?.cpuUsPerRequest),
        ];
      }),
    ]);
  }
  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per cache taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored. CPU µs/req: the cache process’s CPU time (user + system, from /proc) ' +
      'per request served, median of the rounds; unlike req/s it hardly depends on what else the machine runs. ' +
      'Ratios: req/s higher is better, p99 and CPU lower is better. The rounds show the noise a ratio has to be read against:',
    ...cells.map((c) => {
      const rates = c.rounds.map((run) => formatInt(run.requestsPerSec)).join(' / ');
      const costs = c.cpuRounds.map((us) => formatMicros(us)).join(' / ');
      return `${label.get(c.variant)}, ${c.body}: rounds ${rates} req/s; ${costs} CPU µs/req`;
    }),
  ];
  for (const c of cells) {
    const name = `${label.get(c.variant)}, ${c.body}`;
    if (c.wrk.errors > 0) notes.push(`${name}: ${formatInt(c.wrk.errors)} errors.`);
    if (c.originRequests > 0) notes.push(`${name}: ${c.originRequests} requests reached the origin.`);
  }
  return { table: renderTable(headers, rows), notes };
}

export function formatMicros(us: number | undefined): string {
  return us === undefined ? '—' : us.toFixed(1);
}

export function medianOf(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  return known.length === 0 ? undefined : known[Math.floor(known.length / 2)];
}

function median(runs: readonly WrkResult[]): WrkResult {
  if (runs.length === 0) throw new Error('no measured run');
  const byRate = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  return byRate[Math.floor(byRate.length / 2)] as WrkResult;
}
