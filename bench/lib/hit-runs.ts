import { formatInt, formatMs, formatRatio } from './format.js';
import { readCpuMs, waitForIdle } from './processes.js';
import { countOriginRequests, type Target } from './servers.js';
import { measureInTurns, medianRun, runWrk, type WrkResult } from './wrk.js';

/**
 * Hit tests measured in rounds, shared by the `hits` scenario (the cache against its peers) and
 * lib/hit-variants.ts (caches differing in one setting): each wrk run also reads the server's CPU
 * time from /proc and, for a cache, how many requests reached the origin.
 */

/** A server taking part in a hit test. */
export interface HitWay {
  id: string;
  target: Target;
  /** Count the requests that reach the origin while it is measured (a cache: a hit never should). */
  countsOrigin: boolean;
}

export interface HitTestRun {
  /** The origin's base URL (its /_origin/stats counts requests per path). */
  originUrl: string;
  path: string;
  headers?: readonly string[];
  connections: number;
  durationSec: number;
  warmupSec: number;
}

/** One server's rounds of one test. */
export interface HitCell {
  /** The median round (by req/s), with p99 the median of the rounds' p99s. */
  wrk: WrkResult;
  /** Every measured round, in the order taken. */
  rounds: WrkResult[];
  /**
   * The server's CPU time (user + system, every thread) per request, in µs, the median of the
   * rounds: what a request costs whatever else runs on the machine, where req/s on a shared
   * machine is what the others left over. On a core of its own, req/s ≈ 10⁶ ÷ this.
   */
  cpuUsPerRequest: number | undefined;
  cpuRounds: (number | undefined)[];
  /** Requests that reached the origin during the measured runs; undefined when not counted. */
  originRequests: number | undefined;
}

interface Run {
  wrk: WrkResult;
  cpuUs: number | undefined;
  reachedOrigin: number;
}

/** One measured wrk run of `way`. */
async function measureOnce(way: HitWay, test: HitTestRun): Promise<Run> {
  const { target } = way;
  const before = way.countsOrigin ? await countOriginRequests(test.originUrl, test.path) : 0;
  const cpuBefore = readCpuMs(target.pids());
  const wrk = await runWrk(`${target.url}${test.path}`, test);
  const cpuAfter = readCpuMs(target.pids());
  // Its last requests, answered after wrk stopped counting, stay out of the next run.
  await waitForIdle(target.pids());
  const spent = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  const reachedOrigin = way.countsOrigin ? (await countOriginRequests(test.originUrl, test.path)) - before : 0;
  return {
    wrk,
    cpuUs: spent === undefined || wrk.requests === 0 ? undefined : (spent * 1000) / wrk.requests,
    reachedOrigin,
  };
}

async function warmUp(ways: readonly HitWay[], test: HitTestRun): Promise<void> {
  if (test.warmupSec <= 0) return;
  for (const { target } of ways) await runWrk(`${target.url}${test.path}`, { ...test, durationSec: test.warmupSec });
}

function cellOf(way: HitWay, runs: readonly Run[]): HitCell {
  const cpuRounds = runs.map((run) => run.cpuUs);
  return {
    wrk: medianRun(runs.map((run) => run.wrk)),
    rounds: runs.map((run) => run.wrk),
    cpuUsPerRequest: medianOf(cpuRounds),
    cpuRounds,
    originRequests: way.countsOrigin ? runs.reduce((sum, run) => sum + run.reachedOrigin, 0) : undefined,
  };
}

/**
 * Every way once per round, in an order that rotates each round (the machine drifts by up to
 * 25 % over a run; taking turns spreads the drift over all of them); the median round of each.
 */
export async function measureHitTest(
  ways: readonly HitWay[],
  rounds: number,
  test: HitTestRun,
): Promise<Map<string, HitCell>> {
  await warmUp(ways, test);
  const runs = new Map<string, Run[]>(ways.map((way) => [way.id, []]));
  await measureInTurns(ways, rounds, async (way) => {
    const run = await measureOnce(way, test);
    runs.get(way.id)?.push(run);
    return run.wrk;
  });
  return new Map(ways.map((way) => [way.id, cellOf(way, runs.get(way.id) ?? [])]));
}

/** One way's round against the baseline's rounds on either side of it. */
export interface Pair {
  /** CPU µs/req ÷ the mean of the two baseline rounds' (undefined without /proc). */
  cpu: number | undefined;
  /** req/s ÷ the mean of the two baseline rounds'. */
  rate: number;
}

/**
 * The others against a baseline, each run between two runs of the baseline: B o₁ B o₂ B … (one
 * B closes a round and opens the next; the others' order rotates each round). A ratio of
 * medians taken over the whole run moves with the machine's drift between the rounds (on the
 * shared 2-core machine, by more than a 5 % budget); each round's ratio to its two neighbours
 * cancels what drifts slower than three runs, and the median of those ratios is what the ratio
 * rows show, with their spread.
 */
export async function measureHitTestAgainst(
  baseline: HitWay,
  others: readonly HitWay[],
  rounds: number,
  test: HitTestRun,
  together = false,
): Promise<{ cells: Map<string, HitCell>; pairs: Map<string, Pair[]>; together: Map<string, (number | undefined)[]> }> {
  await warmUp([baseline, ...others], test);
  const baseRuns: Run[] = [await measureOnce(baseline, test)];
  const runs = new Map<string, Run[]>(others.map((way) => [way.id, []]));
  const pairs = new Map<string, Pair[]>(others.map((way) => [way.id, []]));
  const alongside = new Map<string, (number | undefined)[]>(others.map((way) => [way.id, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < others.length; i++) {
      const way = others[(i + round) % others.length] as HitWay;
      const run = await measureOnce(way, test);
      const before = baseRuns.at(-1) as Run;
      const after = await measureOnce(baseline, test);
      baseRuns.push(after);
      runs.get(way.id)?.push(run);
      const baseCpu =
        before.cpuUs === undefined || after.cpuUs === undefined ? undefined : (before.cpuUs + after.cpuUs) / 2;
      pairs.get(way.id)?.push({
        cpu: run.cpuUs === undefined || baseCpu === undefined ? undefined : run.cpuUs / baseCpu,
        rate: run.wrk.requestsPerSec / ((before.wrk.requestsPerSec + after.wrk.requestsPerSec) / 2),
      });
      if (together) alongside.get(way.id)?.push(await measureTogether(baseline, way, test));
    }
  }
  const cells = new Map(others.map((way) => [way.id, cellOf(way, runs.get(way.id) ?? [])]));
  cells.set(baseline.id, cellOf(baseline, baseRuns));
  return { cells, pairs, together: alongside };
}

/**
 * `way`'s CPU µs/req ÷ the baseline's, both measured over the same seconds: wrk against each at
 * once, half the connections each, both caches on the server core. Whatever else the machine
 * runs then weighs on both alike, which a ratio of runs taken in turns cannot promise on a shared
 * machine; the price is another regime (two caches taking turns on one core evict each other's
 * CPU caches, which makes a cost that lives in cache misses look larger, not smaller).
 */
async function measureTogether(baseline: HitWay, way: HitWay, test: HitTestRun): Promise<number | undefined> {
  const half = { ...test, connections: Math.max(1, Math.floor(test.connections / 2)) };
  const [base, run] = await Promise.all([measureOnce(baseline, half), measureOnce(way, half)]);
  return base.cpuUs === undefined || run.cpuUs === undefined ? undefined : run.cpuUs / base.cpuUs;
}

/** A row's columns for one test: req/s, p99, CPU µs/req. */
export function hitColumns(cell: HitCell | undefined): string[] {
  return [formatInt(cell?.wrk.requestsPerSec), formatMs(cell?.wrk.p99Ms), formatMicros(cell?.cpuUsPerRequest)];
}

/** A ratio row's columns for one test (mine ÷ theirs), from the medians. */
export function hitRatioColumns(mine: HitCell | undefined, theirs: HitCell | undefined): string[] {
  return [
    formatRatio(mine?.wrk.requestsPerSec, theirs?.wrk.requestsPerSec),
    formatRatio(mine?.wrk.p99Ms, theirs?.wrk.p99Ms),
    formatRatio(mine?.cpuUsPerRequest, theirs?.cpuUsPerRequest),
  ];
}

/**
 * A ratio row's columns from rounds taken side by side (the same round of measureHitTest: the
 * two ran one after the other): the median of the per-round ratios, for req/s and CPU µs/req
 * (p99 is left to the median row). A burst from another process lands on one server's round
 * and moves a ratio of medians by 5–10 % on the shared machine; it moves one per-round ratio,
 * which the median then drops.
 */
export function pairedRatioColumns(mine: HitCell | undefined, theirs: HitCell | undefined): string[] {
  const perRound = (a: readonly (number | undefined)[], b: readonly (number | undefined)[]) =>
    medianOf(a.map((value, i) => (value === undefined || b[i] === undefined ? undefined : value / (b[i] as number))));
  const rate = perRound(
    mine?.rounds.map((run) => run.requestsPerSec) ?? [],
    theirs?.rounds.map((run) => run.requestsPerSec) ?? [],
  );
  const cpu = perRound(mine?.cpuRounds ?? [], theirs?.cpuRounds ?? []);
  return [formatRatio(rate, 1), '', formatRatio(cpu, 1)];
}

/** The notes on a cell: every round, then errors and requests that reached the origin, if any. */
export function hitCellNotes(name: string, cell: HitCell): string[] {
  const rates = cell.rounds.map((run) => formatInt(run.requestsPerSec)).join(' / ');
  const costs = cell.cpuRounds.map((us) => formatMicros(us)).join(' / ');
  const notes = [`${name}: rounds ${rates} req/s; ${costs} CPU µs/req`];
  if (cell.wrk.errors > 0) notes.push(`${name}: ${formatInt(cell.wrk.errors)} errors (socket or non-2xx).`);
  if (cell.originRequests) notes.push(`${name}: ${cell.originRequests} requests reached the origin.`);
  return notes;
}

export function formatMicros(us: number | undefined): string {
  return us === undefined ? '—' : us.toFixed(1);
}

export function medianOf(values: readonly (number | undefined)[]): number | undefined {
  return quantileOf(values, 0.5);
}

/** The value at `q` (0–1) of the known values, the nearest rank below (the median of an even count: the upper middle one, as before). */
export function quantileOf(values: readonly (number | undefined)[], q: number): number | undefined {
  const known = values.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  return known.length === 0 ? undefined : known[Math.min(known.length - 1, Math.floor(known.length * q))];
}
