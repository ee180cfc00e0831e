import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { readCpuMs } from '../lib/processes.js';
import { countOriginRequests, type Target } from '../lib/servers.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';

/** The body every request asks for: 1 KiB, so the origin client's per-request cost shows. */
const PATH = '/hit-1k.bin';

interface MissTest {
  id: 'miss' | 'pass';
  label: string;
  /** What the cache does per request. */
  what: string;
  /** The wrk Lua script for run number `run`. */
  script: (run: number) => string;
}

const TESTS: MissTest[] = [
  {
    id: 'miss',
    label: 'miss',
    what: 'a GET for a new URL (query string) per request: an origin fetch and a store write',
    script: (run) =>
      `counter = 0\nrequest = function()\n  counter = counter + 1\n` +
      `  return wrk.format(nil, "${PATH}?miss=${run}-" .. counter)\nend\n`,
  },
  {
    id: 'pass',
    label: 'pass-through',
    what: 'a POST with a 1-byte body per request: an origin request, nothing stored (main-server answers 404)',
    script: () => 'wrk.method = "POST"\nwrk.body = "x"\nwrk.headers["Content-Type"] = "text/plain"\n',
  },
];

interface Cell {
  target: 'cache' | 'origin';
  test: MissTest['id'];
  wrk: WrkResult;
  rounds: WrkResult[];
  /** The target's own CPU time (user + system) per answered request in each round, in µs. */
  cpuUsPerRequest: number[];
  /** Cache only: requests that reached the origin per request answered (1 when each did). */
  originShare: number[];
}

/**
 * Requests the cache must take to the origin, one each: misses (every request a new URL: origin
 * client and store) and pass-through POSTs (the origin client alone). Requests for one URL would
 * collapse onto one fetch (a `no-cache` storm reaches the origin about once per 50 requests), so
 * every request here differs or may not be shared. The origin answering the same requests
 * directly is the baseline; the cache's CPU time per request is the figure a busy machine
 * disturbs least. Rounds in turns, median.
 */
export async function runMisses(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const origin = await lab.origin();
  const cache = await lab.cache();
  const dir = await lab.dir('misses');
  const targets: [Cell['target'], Target][] = [
    ['cache', cache],
    ['origin', origin],
  ];
  let run = 0;
  const measure = async (test: MissTest, target: Target, seconds: number) => {
    // A script per run: the miss URLs are new in every run, so none is a hit.
    const script = path.join(dir, `${test.id}-${++run}.lua`);
    await writeFile(script, test.script(run));
    return runWrk(`${target.url}${PATH}`, { connections, durationSec: seconds, script });
  };

  const cells: Cell[] = [];
  for (const test of TESTS) {
    const runs = new Map<Cell['target'], WrkResult[]>([
      ['cache', []],
      ['origin', []],
    ]);
    const cpu = new Map<Cell['target'], number[]>([
      ['cache', []],
      ['origin', []],
    ]);
    const originShare: number[] = [];
    for (const [, target] of targets) if (warmupSec > 0) await measure(test, target, warmupSec);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const [name, target] = targets[(i + round) % targets.length] as [Cell['target'], Target];
        // The origin counts requests by path: a pass-through asks for PATH itself.
        const counted = name === 'cache' && test.id === 'pass';
        const seenBefore = counted ? await countOriginRequests(origin.url, PATH) : 0;
        const cpuBefore = readCpuMs(target.pids());
        const wrk = await measure(test, target, durationSec);
        const cpuAfter = readCpuMs(target.pids());
        if (counted && wrk.requests > 0) {
          originShare.push(((await countOriginRequests(origin.url, PATH)) - seenBefore) / wrk.requests);
        }
        runs.get(name)?.push(wrk);
        if (cpuBefore !== undefined && cpuAfter !== undefined && wrk.requests > 0) {
          cpu.get(name)?.push(((cpuAfter - cpuBefore) * 1000) / wrk.requests);
        }
      }
    }
    for (const [name] of targets) {
      const measured = runs.get(name) ?? [];
      const wrk = median(measured);
      const cpuUs = cpu.get(name) ?? [];
      const share = name === 'cache' ? originShare : [];
      cells.push({ target: name, test: test.id, wrk, rounds: measured, cpuUsPerRequest: cpuUs, originShare: share });
      progress(
        `misses ${test.label.padEnd(12)} ${name.padEnd(6)} ${formatInt(wrk.requestsPerSec)} req/s, ` +
          `${formatUs(medianOf(cpuUs))} CPU per request`,
      );
    }
  }

  const cell = (target: string, test: string) => cells.find((c) => c.target === target && c.test === test);
  const cpuOf = (target: string, test: string) => medianOf(cell(target, test)?.cpuUsPerRequest ?? []);
  const label = { cache: 'simple-cache', origin: 'origin direct (main-server)' };
  const headers = ['server', ...TESTS.flatMap((test) => [`${test.label} req/s`, 'p99', 'CPU/req'])];
  const rows = targets.map(([name]) => [
    label[name],
    ...TESTS.flatMap((test) => {
      const wrk = cell(name, test.id)?.wrk;
      return [formatInt(wrk?.requestsPerSec), formatMs(wrk?.p99Ms), formatUs(cpuOf(name, test.id))];
    }),
  ]);
  rows.push([
    'simple-cache ÷ origin',
    ...TESTS.flatMap((test) => [
      formatRatio(cell('cache', test.id)?.wrk.requestsPerSec, cell('origin', test.id)?.wrk.requestsPerSec),
      formatRatio(cell('cache', test.id)?.wrk.p99Ms, cell('origin', test.id)?.wrk.p99Ms),
      formatRatio(cpuOf('cache', test.id), cpuOf('origin', test.id)),
    ]),
  ]);
  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds taken in turns after a ${warmupSec}s warm-up, ` +
      `median round shown; ${PATH} (1 KiB). ` +
      TESTS.map((test) => `${test.label}: ${test.what}`).join('; ') +
      '. CPU/req is the server process’s own CPU time (user + system, from /proc) per answered request; the ' +
      'cache’s excludes the origin’s, which shares its core. Rounds:',
    ...cells.map(
      (c) =>
        `${label[c.target]}, ${c.test}: ${c.rounds.map((r) => formatInt(r.requestsPerSec)).join(' / ')} req/s; ` +
        `CPU per request ${c.cpuUsPerRequest.map((us) => formatUs(us)).join(' / ')}`,
    ),
  ];
  for (const c of cells) {
    if (c.originShare.length === 0) continue;
    const shares = c.originShare.map((share) => share.toFixed(2)).join(' / ');
    notes.push(`${label[c.target]}, ${c.test}: origin requests per request answered ${shares}.`);
  }
  for (const c of cells)
    if (c.test !== 'pass' && c.wrk.errors > 0)
      notes.push(`${label[c.target]}, ${c.test}: ${formatInt(c.wrk.errors)} errors.`);
  return {
    title: `Requests the cache takes to the origin: misses and pass-through (${connections} connections)`,
    table: renderTable(headers, rows),
    notes,
    data: { connections, durationSec, warmupSec, rounds, path: PATH, cells },
  };
}

function medianOf(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function formatUs(us: number | undefined): string {
  return us === undefined ? 'n/a' : `${us.toFixed(0)} µs`;
}

function median(runs: readonly WrkResult[]): WrkResult {
  if (runs.length === 0) throw new Error('no measured run');
  const byRate = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  return byRate[Math.floor(byRate.length / 2)] as WrkResult;
}
