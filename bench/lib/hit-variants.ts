import { HIT_BODIES } from './fixtures.js';
import { formatInt, renderTable } from './format.js';
import {
  hitCellNotes,
  hitColumns,
  hitRatioColumns,
  measureHitTestAgainst,
  medianOf,
  quantileOf,
  type HitCell,
  type HitWay,
  type Pair,
} from './hit-runs.js';
import type { Lab } from './lab.js';
import type { Progress } from './report.js';
import { primeCache, startCache } from './servers.js';

/** One way of starting the cache: the environment (CACHE_… options) is the only difference. */
export interface Variant<Id extends string> {
  id: Id;
  /** Its row in the table. */
  label: string;
  env: Record<string, string>;
}

export interface VariantCell<Id extends string> extends HitCell {
  variant: Id;
  body: string;
  /** The baseline's cell: none. The others: each round against the baseline's on either side. */
  pairs: Pair[];
  /** With `together`: each round's CPU ratio to the baseline measured at the same time. */
  together: (number | undefined)[];
}

type Body = (typeof HIT_BODIES)[number];

/**
 * Hit throughput of caches that differ in one setting: each variant gets its own cache, started
 * alike for this scenario (the lab's shared cache has served other scenarios already: a different
 * heap and JIT state), the same stored bodies, and wrk with keep-alive connections. The first
 * variant is the baseline: every other variant's round is taken between two of its rounds
 * (lib/hit-runs.ts measureHitTestAgainst), so that each round gives a ratio to the baseline
 * measured next to it; the notes keep every round, to read a ratio against the run's noise.
 */
export async function measureHitVariants<Id extends string>(
  lab: Lab,
  progress: Progress,
  scenario: string,
  variants: readonly Variant<Id>[],
  bodies: readonly Body[] = HIT_BODIES,
  together = false,
  /** One of several sets of fresh caches (access-log): its share of the rounds; its caches stopped after. */
  set: { rounds: number; stopAfter: boolean } = { rounds: lab.options.rounds, stopAfter: false },
): Promise<VariantCell<Id>[]> {
  const { connections, durationSec, warmupSec } = lab.options;
  const { rounds } = set;
  const origin = await lab.origin();
  const ways: HitWay[] = [];
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
    ways.push({ id: variant.id, target, countsOrigin: true });
  }
  for (const { target } of ways) for (const body of bodies) await primeCache(target, body.path);

  const [baseline, ...others] = ways as [HitWay, ...HitWay[]];
  const cells: VariantCell<Id>[] = [];
  for (const body of bodies) {
    const test = { originUrl: origin.url, path: body.path, connections, durationSec, warmupSec };
    const measured = await measureHitTestAgainst(baseline, others, rounds, test, together);
    for (const variant of variants) {
      const cell = measured.cells.get(variant.id) as HitCell;
      const pairs = measured.pairs.get(variant.id) ?? [];
      cells.push({
        ...cell,
        variant: variant.id,
        body: body.label,
        pairs,
        together: measured.together.get(variant.id) ?? [],
      });
      progress(
        `${scenario} ${body.label.padEnd(8)} ${variant.id.padEnd(8)} ${formatInt(cell.wrk.requestsPerSec)} req/s`,
      );
    }
  }
  if (set.stopAfter) for (const { target } of ways) await target.stop();
  return cells;
}

/**
 * The table: a row per variant (req/s, p99 and CPU µs per request for each body, medians of the
 * rounds), then a row per other variant against the baseline: the median of its paired rounds'
 * ratios for req/s and CPU (p99: the medians' ratio), and the middle half of the paired CPU
 * ratios (quartiles), the spread a ratio is to be read with; then the notes: how it was measured,
 * every round and every pair, errors, requests that reached the origin.
 */
export function renderHitVariants<Id extends string>(
  lab: Lab,
  variants: readonly Variant<Id>[],
  cells: readonly VariantCell<Id>[],
  bodies: readonly Body[] = HIT_BODIES,
): { table: string; notes: string[] } {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const cellOf = (id: Id, body: string) => cells.find((c) => c.variant === id && c.body === body);
  const label = new Map(variants.map((variant) => [variant.id, variant.label]));
  const [baseline, ...others] = variants as [Variant<Id>, ...Variant<Id>[]];
  const headers = [
    'server',
    ...bodies.flatMap((body) => [`${body.label} req/s`, 'p99', 'CPU µs/req', 'CPU ratio, quartiles']),
  ];
  const rows = variants.map((variant) => [
    variant.label,
    ...bodies.flatMap((body) => [...hitColumns(cellOf(variant.id, body.label)), '']),
  ]);
  for (const other of others) {
    rows.push([
      `${other.label} ÷ ${baseline.label}`,
      ...bodies.flatMap((body) => {
        const mine = cellOf(other.id, body.label);
        const pairs = mine?.pairs ?? [];
        const cpu = pairs.map((pair) => pair.cpu);
        const [, p99] = hitRatioColumns(mine, cellOf(baseline.id, body.label));
        return [
          formatTimes(medianOf(pairs.map((pair) => pair.rate))),
          p99 as string,
          formatTimes(medianOf(cpu)),
          `${formatTimes(quantileOf(cpu, 0.25))}–${formatTimes(quantileOf(cpu, 0.75))}`,
        ];
      }),
    ]);
  }
  const measuredTogether = cells.some((c) => c.together.length > 0);
  for (const other of measuredTogether ? others : []) {
    rows.push([
      `${other.label} ÷ ${baseline.label}, at the same time`,
      ...bodies.flatMap((body) => {
        const cpu = cellOf(other.id, body.label)?.together ?? [];
        return [
          '',
          '',
          formatTimes(medianOf(cpu)),
          `${formatTimes(quantileOf(cpu, 0.25))}–${formatTimes(quantileOf(cpu, 0.75))}`,
        ];
      }),
    ]);
  }
  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s after a ${warmupSec}s warm-up; bodies already stored. ${rounds} rounds: ` +
      `each round runs every other cache once, each between two runs of “${baseline.label}” (B x B y B …), ` +
      'so the baseline has one run more than the others together. CPU µs/req: the cache process’s CPU time (user + ' +
      'system, from /proc) per request served; unlike req/s it hardly depends on what else the machine runs. The rows ' +
      'of each cache show the median of its rounds. A ratio row shows the median over the rounds of that round’s ' +
      'figure ÷ the mean of the two baseline runs beside it (the machine’s drift across the run cancels out), and the ' +
      'middle half (quartiles) of the CPU ratios; p99 is the ratio of the medians. req/s higher is better, p99 and ' +
      'CPU lower is better.' +
      (measuredTogether
        ? ' Rows “at the same time”: after each pair, the cache and the baseline are also measured at once (wrk ' +
          `against each with ${Math.max(1, Math.floor(connections / 2))} connections, both caches on the server core), ` +
          'so that whatever else the machine runs weighs on both alike: the median and quartiles of those CPU ratios. ' +
          'Two caches sharing a core evict each other’s CPU caches, so a cost made of cache misses shows larger there.'
        : '') +
      ' Every round and every paired CPU ratio:',
    ...cells.flatMap((c) => {
      const name = `${label.get(c.variant)}, ${c.body}`;
      const [rounds, ...rest] = hitCellNotes(name, c);
      const pairs =
        c.pairs.length === 0 ? '' : `; ÷ baseline ${c.pairs.map((pair) => formatTimes(pair.cpu)).join(' / ')}`;
      const together =
        c.together.length === 0
          ? ''
          : `; at the same time ${c.together.map((ratio) => formatTimes(ratio)).join(' / ')}`;
      return [`${rounds}${pairs}${together}`, ...rest];
    }),
  ];
  return { table: renderTable(headers, rows), notes };
}

function formatTimes(ratio: number | undefined): string {
  return ratio === undefined ? '—' : `${ratio.toFixed(2)}×`;
}
