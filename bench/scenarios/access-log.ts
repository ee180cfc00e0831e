import path from 'node:path';
import { HIT_BODIES } from '../lib/fixtures.js';
import { measureHitVariants, renderHitVariants, type Variant, type VariantCell } from '../lib/hit-variants.js';
import { medianOf } from '../lib/hit-runs.js';
import { medianRun } from '../lib/wrk.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';

/** Issue 17's budget: logging every hit costs at most 5 % of 1 KiB hit throughput. */
const BODIES = HIT_BODIES.filter((body) => body.label === '1 KiB');

/** Fresh sets of caches the rounds are shared among (fewer when there are fewer rounds). */
const SETS = 3;

type VariantId = 'off' | 'json' | 'combined' | 'off-again';

/**
 * The access log's cost: 1 KiB hits (the fast path, where a line is the largest share of the
 * work) through caches that differ only in `--access-log`: off, JSON lines and nginx's combined
 * format, both to a file (buffered, written in batches), and a second cache with it off (the
 * control: the run's noise), each round of each between two rounds of `off`, so that every round
 * gives a ratio to the `off` measured beside it (lib/hit-variants.ts).
 * The other scenarios run with the access log off, as nginx runs with `access_log off`.
 */
export async function runAccessLog(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const dir = await lab.dir('access-log');
  const { rounds } = lab.options;
  const variants: Variant<VariantId>[] = [
    { id: 'off', label: 'access log off', env: { CACHE_ACCESS_LOG: 'off' } },
    {
      id: 'json',
      label: 'access log json',
      env: { CACHE_ACCESS_LOG: 'json', CACHE_ACCESS_LOG_FILE: path.join(dir, 'json.log') },
    },
    {
      id: 'combined',
      label: 'access log combined',
      env: { CACHE_ACCESS_LOG: 'combined', CACHE_ACCESS_LOG_FILE: path.join(dir, 'combined.log') },
    },
    // The control: a second cache alike in every way to `off`. Its ratio to `off` is what two
    // identical caches differ by in this run, the noise the other ratios must be read against
    // (on the shared 2-core machine, as much as the budget itself).
    { id: 'off-again', label: 'access log off (a second cache)', env: { CACHE_ACCESS_LOG: 'off' } },
  ];
  // On a shared machine the turns still move by the budget: also measured against `off` at the same time.
  // The rounds are shared out among fresh sets of caches, each started alike: two processes of one
  // build can stay 5 % and more apart for as long as they run (docs/benchmarks.md, the access log's
  // cost), so that no one process's state decides a figure read against a 5 % budget.
  const sets = Math.min(SETS, rounds);
  const perSet = Array.from({ length: sets }, (_, set) => Math.floor((rounds + set) / sets));
  const measured: VariantCell<VariantId>[][] = [];
  for (const [set, setRounds] of perSet.entries()) {
    const name = set === 0 ? 'access-log' : `access-log-${set + 1}`;
    measured.push(
      await measureHitVariants(lab, progress, name, variants, BODIES, true, { rounds: setRounds, stopAfter: true }),
    );
  }
  const cells = pooled(measured);
  const { table, notes } = renderHitVariants(lab, variants, cells, BODIES);
  const { connections, durationSec, warmupSec } = lab.options;
  return {
    title: `Hits with the access log on against off (${connections} connections)`,
    table,
    notes: [
      'Every hit writes one line to a file. The budget (issue 17): logging every hit costs at most 5 % of 1 KiB hit ' +
        'throughput, i.e. at most 1.05× the CPU per request of the cache without it. The last ratio compares two ' +
        'caches without the log: how far apart identical caches come out in this run, the noise the other ratios ' +
        'are to be read against (its middle half: the spread of one round’s ratio). The rounds are shared out among ' +
        `${Math.min(SETS, rounds)} sets of caches started afresh, every figure pooled over the sets.`,
      ...notes,
    ],
    data: { connections, durationSec, warmupSec, rounds, cells },
  };
}

/** One cell per variant and body from the cells of several sets: every round and pair of each, in order. */
function pooled(sets: readonly VariantCell<VariantId>[][]): VariantCell<VariantId>[] {
  const [first = []] = sets;
  return first.map((cell) => {
    const same = sets.map((set) => set.find((c) => c.variant === cell.variant && c.body === cell.body) ?? cell);
    const rounds = same.flatMap((c) => c.rounds);
    const cpuRounds = same.flatMap((c) => c.cpuRounds);
    const origin = same.map((c) => c.originRequests);
    return {
      ...cell,
      wrk: medianRun(rounds),
      rounds,
      cpuUsPerRequest: medianOf(cpuRounds),
      cpuRounds,
      originRequests: origin.some((n) => n === undefined) ? undefined : origin.reduce((a = 0, b = 0) => a + b, 0),
      pairs: same.flatMap((c) => c.pairs),
      together: same.flatMap((c) => c.together),
    };
  });
}
