import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, type Target } from '../lib/servers.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';

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
  wrk: WrkResult;
  /** Requests that reached the origin during the measured run (a hit never does). */
  originRequests: number | undefined;
}

const isCache = (target: Target) => target.id === 'cache' || target.id === 'nginx';

/**
 * Hit throughput: wrk with keep-alive connections against objects already stored, then with a
 * new connection per request. Targets take turns for each test, so slow drift of the machine
 * spreads over all of them instead of favouring one.
 */
export async function runHits(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec } = lab.options;
  const targets = await lab.all();
  const origin = await lab.origin();
  for (const target of targets.filter(isCache)) {
    for (const body of HIT_BODIES) await primeCache(target, body.path);
  }
  const cells: Cell[] = [];
  for (const test of TESTS) {
    for (const target of targets) {
      const url = `${target.url}${test.path}`;
      if (warmupSec > 0) await runWrk(url, { connections, durationSec: warmupSec, headers: test.headers });
      const before = isCache(target) ? await countOriginRequests(origin.url, test.path) : undefined;
      const wrk = await runWrk(url, { connections, durationSec, headers: test.headers });
      const originRequests =
        before === undefined ? undefined : (await countOriginRequests(origin.url, test.path)) - before;
      cells.push({ target: target.id, test: test.id, wrk, originRequests });
      progress(`hits ${test.label.padEnd(15)} ${target.label.padEnd(28)} ${formatInt(wrk.requestsPerSec)} req/s`);
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
    `wrk -t1 -c${connections} -d${durationSec}s after a ${warmupSec}s warm-up; bodies already stored; ` +
      'ratios: req/s (higher is better) and p99 (lower is better).',
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
    data: { connections, durationSec, warmupSec, cells },
  };
}
