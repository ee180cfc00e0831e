import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import { formatMicros, medianOf } from '../lib/hit-variants.js';
import type { Lab } from '../lib/lab.js';
import { HIT_TESTS, type HitTestId } from '../lib/options.js';
import { readCpuMs } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, type Target } from '../lib/servers.js';
import { medianRun, runWrk, type WrkResult } from '../lib/wrk.js';

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

interface Cell {
  target: string;
  test: string;
  /** The median round (by req/s), with p99 the median of the rounds' p99s. */
  wrk: WrkResult;
  /** Every measured round, in the order taken. */
  rounds: WrkResult[];
  /**
   * The server's CPU time (user + system, every thread, from /proc) per request, in µs, the
   * median of the rounds: unlike req/s it hardly depends on what else runs on the machine.
   */
  cpuUsPerRequest: number | undefined;
  cpuRounds: (number | undefined)[];
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
  const { connections, durationSec, warmupSec, rounds, hitTests } = lab.options;
  const TESTS = ALL_TESTS.filter((test) => hitTests.includes(test.flag));
  const targets = await lab.all();
  const origin = await lab.origin();
  for (const target of targets.filter(isCache)) {
    for (const body of HIT_BODIES) await primeCache(target, body.path);
  }
  const cells: Cell[] = [];
  for (const test of TESTS) {
    const runs = new Map<string, WrkResult[]>(targets.map((target) => [target.id, []]));
    const cpu = new Map<string, (number | undefined)[]>(targets.map((target) => [target.id, []]));
    const reachedOrigin = new Map<string, number>();
    for (const target of targets) {
      const url = `${target.url}${test.path}`;
      if (warmupSec > 0) await runWrk(url, { connections, durationSec: warmupSec, headers: test.headers });
    }
    for (let round = 0; round < rounds; round++) {
      for (const [i] of targets.entries()) {
        const target = targets[(i + round) % targets.length] as Target;
        const before = isCache(target) ? await countOriginRequests(origin.url, test.path) : undefined;
        const cpuBefore = readCpuMs(target.pids());
        const wrk = await runWrk(`${target.url}${test.path}`, { connections, durationSec, headers: test.headers });
        const cpuAfter = readCpuMs(target.pids());
        runs.get(target.id)?.push(wrk);
        const spent = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
        cpu.get(target.id)?.push(spent === undefined || wrk.requests === 0 ? undefined : (spent * 1000) / wrk.requests);
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
      const cpuRounds = cpu.get(target.id) ?? [];
      const cpuUsPerRequest = medianOf(cpuRounds);
      cells.push({
        target: target.id,
        test: test.id,
        wrk,
        rounds: measured,
        cpuUsPerRequest,
        cpuRounds,
        originRequests,
      });
      progress(
        `hits ${test.label.padEnd(15)} ${target.label.padEnd(28)} ${formatInt(wrk.requestsPerSec)} req/s, ` +
          `${formatMicros(cpuUsPerRequest)} CPU µs/req (median of ${measured.length})`,
      );
    }
  }

  const find = (target: string, test: string) => cells.find((c) => c.target === target && c.test === test);
  const headers = ['server', ...TESTS.flatMap((t) => [`${t.label} req/s`, 'p99', 'CPU µs/req'])];
  const rows = targets.map((target) => [
    target.label,
    ...TESTS.flatMap((t) => {
      const cell = find(target.id, t.id);
      return [formatInt(cell?.wrk.requestsPerSec), formatMs(cell?.wrk.p99Ms), formatMicros(cell?.cpuUsPerRequest)];
    }),
  ]);
  const ratioRow = (label: string, other: string) => [
    label,
    ...TESTS.flatMap((t) => {
      const mine = find('cache', t.id);
      const theirs = find(other, t.id);
      return [
        formatRatio(mine?.wrk.requestsPerSec, theirs?.wrk.requestsPerSec),
        formatRatio(mine?.wrk.p99Ms, theirs?.wrk.p99Ms),
        formatRatio(mine?.cpuUsPerRequest, theirs?.cpuUsPerRequest),
      ];
    }),
  ];
  rows.push(ratioRow('simple-cache ÷ ceiling', 'ceiling'));
  if (lab.withNginx) rows.push(ratioRow('simple-cache ÷ nginx', 'nginx'));
  rows.push(ratioRow('simple-cache ÷ origin', 'origin'));

  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per target taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored; ratios: req/s (higher is better), p99 and CPU (lower is better). ' +
      'CPU µs/req: the server’s CPU time (user + system, from /proc; nginx: its worker) per request answered, median ' +
      'of the rounds; unlike req/s it hardly depends on what else the machine runs. The rounds:',
    ...cells.map((c) => {
      const label = targets.find((t) => t.id === c.target)?.label ?? c.target;
      const rates = c.rounds.map((run) => formatInt(run.requestsPerSec)).join(' / ');
      return `${label}, ${c.test}: ${rates} req/s; ${c.cpuRounds.map((us) => formatMicros(us)).join(' / ')} CPU µs/req`;
    }),
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
