import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, renderTable } from '../lib/format.js';
import {
  formatMicros,
  hitCellNotes,
  hitColumns,
  hitRatioColumns,
  measureHitTest,
  pairedRatioColumns,
  type HitCell,
  type HitWay,
} from '../lib/hit-runs.js';
import type { Lab } from '../lib/lab.js';
import { HIT_TESTS, type HitTestId } from '../lib/options.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { primeCache, type Target } from '../lib/servers.js';

interface HitTest {
  /** What `--hit-tests` names it. */
  flag: HitTestId;
  id: string;
  label: string;
  path: string;
  headers: string[];
}

const ALL_TESTS: HitTest[] = [
  ...HIT_BODIES.map((body, i) => ({
    flag: HIT_TESTS[i] as HitTestId,
    id: body.label,
    label: body.label,
    path: body.path,
    headers: [],
  })),
  { flag: 'close', id: '1 KiB close', label: '1 KiB new conn.', path: '/hit-1k.bin', headers: ['Connection: close'] },
];

interface Cell extends HitCell {
  target: string;
  test: string;
}

const isCache = (target: Target) => target.id === 'cache' || target.id === 'nginx';

/**
 * Hit throughput: wrk with keep-alive connections against objects already stored, then with a
 * new connection per request. Each test is measured in rounds, every target once per round in
 * a rotating order, and the median round is reported: the machine drifts by up to 25 % over a
 * run, and taking turns spreads that drift over all targets instead of favouring one.
 */
export async function runHits(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds, hitTests } = lab.options;
  const TESTS = ALL_TESTS.filter((test) => hitTests.includes(test.flag));
  const targets = await lab.all();
  const origin = await lab.origin();
  for (const target of targets.filter(isCache)) {
    for (const body of HIT_BODIES) await primeCache(target, body.path);
  }
  const ways: HitWay[] = targets.map((target) => ({ id: target.id, target, countsOrigin: isCache(target) }));
  const cells: Cell[] = [];
  for (const test of TESTS) {
    const run = { originUrl: origin.url, path: test.path, headers: test.headers, connections, durationSec, warmupSec };
    const measured = await measureHitTest(ways, rounds, run);
    for (const target of targets) {
      const cell = measured.get(target.id) as HitCell;
      cells.push({ ...cell, target: target.id, test: test.id });
      progress(
        `hits ${test.label.padEnd(15)} ${target.label.padEnd(28)} ${formatInt(cell.wrk.requestsPerSec)} req/s, ` +
          `${formatMicros(cell.cpuUsPerRequest)} CPU µs/req (median of ${cell.rounds.length})`,
      );
    }
  }

  const find = (target: string, test: string) => cells.find((c) => c.target === target && c.test === test);
  const headers = ['server', ...TESTS.flatMap((t) => [`${t.label} req/s`, 'p99', 'CPU µs/req'])];
  const rows = targets.map((target) => [target.label, ...TESTS.flatMap((t) => hitColumns(find(target.id, t.id)))]);
  const ratioRow = (label: string, other: string) => [
    label,
    ...TESTS.flatMap((t) => hitRatioColumns(find('cache', t.id), find(other, t.id))),
  ];
  rows.push(ratioRow('simple-cache ÷ ceiling', 'ceiling'));
  // Issue 15's check: the per-round ratio is steadier than the ratio of medians on a shared machine.
  rows.push([
    'simple-cache ÷ ceiling, paired rounds',
    ...TESTS.flatMap((t) => pairedRatioColumns(find('cache', t.id), find('ceiling', t.id))),
  ]);
  if (lab.withNginx) rows.push(ratioRow('simple-cache ÷ nginx', 'nginx'));
  rows.push(ratioRow('simple-cache ÷ origin', 'origin'));

  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per target taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored; ratios: req/s (higher is better), p99 and CPU (lower is better). ' +
      'CPU µs/req: the server’s CPU time (user + system, from /proc; nginx: its worker) per request answered, median ' +
      'of the rounds; unlike req/s it hardly depends on what else the machine runs. "Paired rounds": the median of the ' +
      'per-round ratios (each round runs the targets one after the other), which a burst of other work during one ' +
      "target's run moves less than the ratio of medians. The rounds:",
    ...cells.flatMap((c) => hitCellNotes(`${targets.find((t) => t.id === c.target)?.label ?? c.target}, ${c.test}`, c)),
  ];
  return {
    title: `Hit throughput (${connections} connections)`,
    table: renderTable(headers, rows),
    notes,
    data: { connections, durationSec, warmupSec, rounds, cells },
  };
}
