import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, type Target } from '../lib/servers.js';
import { medianRun, runWrk, type WrkResult } from '../lib/wrk.js';

interface HitTest {
  id: string;
  label: string;
  path: string;
  headers: string[];
}

const TESTS: HitTest[] = [
  ...HIT_BODIES.map((body) => ({ id: body.label, label: body.label, path: body.path, headers: [] })),
  { id: '1 KiB close', label: '1 KiB new conn.', path: '/hit-1k.bin', headers: ['Connection: close'] },
];

interface Cell {
  target: string;
  test: string;
  /** The median round (by req/s), with p99 the median of the rounds' p99s. */
  wrk: WrkResult;
  /** Every measured round, in the order taken. */
  rounds: WrkResult[];
  /** Requests that reached the origin during the measured runs (a hit never does). */
  originRequests: number | undefined;
}

const isCache = (target: Target) => target.id === 'cache' || target.id === 'nginx';

/**
 * Hit throughput: wrk with keep-alive connections against objects already stored, then with a
 * new connection per request. Each test is measured in rounds, every target once per round in
 * a rotating order, and the median round is reported: the machine drifts by up to 25 % over a
 * run, and taking turns spreads that drift over all targets instead of favouring one.
 */
export async function runHits(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const targets = await lab.all();
  const origin = await lab.origin();
  for (const target of targets.filter(isCache)) {
    for (const body of HIT_BODIES) await primeCache(target, body.path);
  }
  const cells: Cell[] = [];
  for (const test of TESTS) {
    const runs = new Map<string, WrkResult[]>(targets.map((target) => [target.id, []]));
    const reachedOrigin = new Map<string, number>();
    for (const target of targets) {
      const url = `${target.url}${test.path}`;
      if (warmupSec > 0) await runWrk(url, { connections, durationSec: warmupSec, headers: test.headers });
    }
    for (let round = 0; round < rounds; round++) {
      for (const [i] of targets.entries()) {
        const target = targets[(i + round) % targets.length] as Target;
        const before = isCache(target) ? await countOriginRequests(origin.url, test.path) : undefined;
        const wrk = await runWrk(`${target.url}${test.path}`, { connections, durationSec, headers: test.headers });
        runs.get(target.id)?.push(wrk);
        if (before !== undefined) {
          const reached = (await countOriginRequests(origin.url, test.path)) - before;
          reachedOrigin.set(target.id, (reachedOrigin.get(target.id) ?? 0) + reached);
        }
      }
    }
    for (const target of targets) {
      const measured = runs.get(target.id) ?? [];
      const wrk = medianRun(measured);
      const originRequests = reachedOrigin.get(target.id);
      cells.push({ target: target.id, test: test.id, wrk, rounds: measured, originRequests });
      progress(
        `hits ${test.label.padEnd(15)} ${target.label.padEnd(28)} ${formatInt(wrk.requestsPerSec)} req/s (median of ${measured.length})`,
      );
    }
  }

  const find = (target: string, test: string) => cells.find((c) => c.target === target && c.test === test)?.wrk;
  const headers = ['server', ...TESTS.flatMap((t) => [`${t.label} req/s`, 'p99'])];
  const rows = targets.map((target) => [
    target.label,
    ...TESTS.flatMap((t) => {
      const wrk = find(target.id, t.id);
      return [formatInt(wrk?.requestsPerSec), formatMs(wrk?.p99Ms)];
    }),
  ]);
  const ratioRow = (label: string, other: string) => [
    label,
    ...TESTS.flatMap((t) => {
      const mine = find('cache', t.id);
      const theirs = find(other, t.id);
      return [formatRatio(mine?.requestsPerSec, theirs?.requestsPerSec), formatRatio(mine?.p99Ms, theirs?.p99Ms)];
    }),
  ];
  rows.push(ratioRow('simple-cache ÷ ceiling', 'ceiling'));
  if (lab.withNginx) rows.push(ratioRow('simple-cache ÷ nginx', 'nginx'));
  rows.push(ratioRow('simple-cache ÷ origin', 'origin'));

  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per target taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored; ratios: req/s (higher is better) and p99 (lower is better).',
  ];
  for (const cell of cells) {
    const label = targets.find((t) => t.id === cell.target)?.label ?? cell.target;
    if (cell.wrk.errors > 0)
      notes.push(`${label}, ${cell.test}: ${formatInt(cell.wrk.errors)} errors (socket or non-2xx).`);
    if (cell.originRequests) notes.push(`${label}, ${cell.test}: ${cell.originRequests} requests reached the origin.`);
  }
  return {
    title: `Hit throughput (${connections} connections)`,
    table: renderTable(headers, rows),
    notes,
    data: { connections, durationSec, warmupSec, rounds, cells },
  };
}
