import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { readCpuMs } from '../lib/processes.js';
import { countOriginRequests, primeCache, startCache, type Target } from '../lib/servers.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';

/**
 * Twenty rules of the kinds real sites write (issue 14). Several match the hit paths, so every
 * hit asks the rules, merges settings and rewrites the key: what is measured is the cost of a
 * matching config, not of a config that never matches. None changes a hit into something else.
 */
export const TWENTY_RULES = `rules:
  - { name: api, match: { path: /api/** }, bypass: true }
  - { name: api-public, match: { path: /api/public/** }, bypass: false, ttl: 30s }
  - { name: admin, match: { path: [/admin/**, /wp-admin/**] }, bypass: true }
  - { name: login, match: { path: /login, methods: [GET, HEAD, POST] }, bypass: true }
  - { name: static, match: { path: [/static/**, /assets/**] }, ttl: 365d, strip-cookies: true }
  - { name: images, match: { path: ["/**/*.png", "/**/*.jpg", "/**/*.webp"] }, ttl: 30d }
  - { name: fonts, match: { path: "/**/*.woff2" }, ttl: 365d, force: true }
  - { name: favicon, match: { path: /favicon.ico, status: [404] }, ttl: 1m }
  - { name: not-found, match: { status: [404, 410] }, ttl: 30s }
  - { name: errors, match: { status: 5xx }, ttl: 5s }
  - { name: campaign, match: { path: /** }, key: { ignore-query: [utm_*, fbclid, gclid], sort-query: true } }
  - { name: lang, match: { path: /i18n/** }, key: { headers: [Accept-Language] } }
  - { name: binaries, match: { path: "/*.bin" }, default-ttl: 1h, grace: 10m }
  - { name: html, match: { path: ["/**/*.html", /] }, default-ttl: 1m, stale-while-revalidate: 30s }
  - { name: feeds, match: { path: [/feed, /rss.xml] }, ttl: 5m }
  - { name: search, match: { path: /search/** }, bypass: true }
  - { name: resilient, match: { path: /** }, stale-if-error: 1h }
  - { name: docs, match: { path: /docs/** }, default-ttl: 10m }
  - { name: downloads, match: { path: /downloads/** }, grace: 1d }
  - { name: health, match: { path: /healthz }, bypass: true }
`;

interface Cell {
  variant: 'plain' | 'rules';
  body: string;
  wrk: WrkResult;
  rounds: WrkResult[];
  /** The cache's own CPU time (user + system) per answered request in each round, in µs. */
  cpuUsPerRequest: number[];
  originRequests: number;
}

/**
 * Hit throughput with a 20-rule config (`--config`) against no config: the same origin and
 * stored bodies, wrk with keep-alive connections, both caches measured in turns round after
 * round (the machine drifts during a run) and the median round compared. Rules are compiled once
 * per load and their answers memoised per path, so the ratio should stay within noise of 1.
 */
export async function runRules(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const origin = await lab.origin();
  const configFile = path.join(await lab.dir('rules'), 'rules.yaml');
  await writeFile(configFile, TWENTY_RULES);
  // Two caches started alike for this scenario, the config the only difference (the lab's shared
  // cache has served other scenarios already: a different heap and JIT state).
  const startOne = async (name: string, env: Record<string, string>) =>
    startCache({
      origin: origin.url,
      cacheDir: await lab.dir(name),
      logPath: lab.logPath(name),
      logLevel: lab.options.logLevel,
      maxSize: 1024 ** 3,
      maxObjectSize: 256 * 1024 ** 2,
      env,
    });
  const plain = await startOne('cache-no-config', {});
  const ruled = await startOne('cache-rules', { CACHE_CONFIG: configFile });
  const targets: [Cell['variant'], Target][] = [
    ['plain', plain],
    ['rules', ruled],
  ];
  for (const [, target] of targets) for (const body of HIT_BODIES) await primeCache(target, body.path);

  const cells: Cell[] = [];
  for (const body of HIT_BODIES) {
    const runs = new Map<Cell['variant'], WrkResult[]>([
      ['plain', []],
      ['rules', []],
    ]);
    const reached = new Map<Cell['variant'], number>();
    const cpu = new Map<Cell['variant'], number[]>([
      ['plain', []],
      ['rules', []],
    ]);
    for (const [, target] of targets) {
      if (warmupSec > 0) await runWrk(`${target.url}${body.path}`, { connections, durationSec: warmupSec });
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        const [variant, target] = targets[(i + round) % targets.length] as [Cell['variant'], Target];
        const before = await countOriginRequests(origin.url, body.path);
        // CPU time per request is the figure a busy machine disturbs least: a neighbour steals
        // throughput (wall time), but hardly the cycles the cache itself spends on one hit.
        const cpuBefore = readCpuMs(target.pids());
        const run = await runWrk(`${target.url}${body.path}`, { connections, durationSec });
        const cpuAfter = readCpuMs(target.pids());
        runs.get(variant)?.push(run);
        if (cpuBefore !== undefined && cpuAfter !== undefined && run.requests > 0) {
          cpu.get(variant)?.push(((cpuAfter - cpuBefore) * 1000) / run.requests);
        }
        reached.set(variant, (reached.get(variant) ?? 0) + (await countOriginRequests(origin.url, body.path)) - before);
      }
    }
    for (const [variant] of targets) {
      const measured = runs.get(variant) ?? [];
      const wrk = median(measured);
      const cpuUs = cpu.get(variant) ?? [];
      cells.push({
        variant,
        body: body.label,
        wrk,
        rounds: measured,
        cpuUsPerRequest: cpuUs,
        originRequests: reached.get(variant) ?? 0,
      });
      progress(
        `rules ${body.label.padEnd(8)} ${variant.padEnd(6)} ${formatInt(wrk.requestsPerSec)} req/s, ` +
          `${formatUs(medianOf(cpuUs))} CPU per request`,
      );
    }
  }

  const cell = (variant: string, body: string) => cells.find((c) => c.variant === variant && c.body === body);
  const find = (variant: string, body: string) => cell(variant, body)?.wrk;
  const cpuOf = (variant: string, body: string) => medianOf(cell(variant, body)?.cpuUsPerRequest ?? []);
  const label = { plain: 'simple-cache, no config', rules: 'simple-cache, 20 rules' };
  const headers = ['server', ...HIT_BODIES.flatMap((body) => [`${body.label} req/s`, 'p99', 'CPU/req'])];
  const rows = targets.map(([variant]) => [
    label[variant],
    ...HIT_BODIES.flatMap((body) => {
      const wrk = find(variant, body.label);
      return [formatInt(wrk?.requestsPerSec), formatMs(wrk?.p99Ms), formatUs(cpuOf(variant, body.label))];
    }),
  ]);
  rows.push([
    '20 rules ÷ no config',
    ...HIT_BODIES.flatMap((body) => {
      const mine = find('rules', body.label);
      const theirs = find('plain', body.label);
      return [
        formatRatio(mine?.requestsPerSec, theirs?.requestsPerSec),
        formatRatio(mine?.p99Ms, theirs?.p99Ms),
        formatRatio(cpuOf('rules', body.label), cpuOf('plain', body.label)),
      ];
    }),
  ]);
  const spread = cells.map((cell) => {
    const rates = cell.rounds.map((run) => run.requestsPerSec);
    return `${label[cell.variant]}, ${cell.body}: rounds ${rates.map((rate) => formatInt(rate)).join(' / ')}`;
  });
  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per cache taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored. Several of the 20 rules match every hit path (key rewrite, grace, ' +
      "default-ttl, stale-if-error). CPU/req is the cache process's own CPU time (user + system, from /proc) per " +
      'answered request, median over the rounds: on a busy machine it is the steadier figure, since neighbours take ' +
      'wall time from a run but hardly change what one hit costs. The rounds show the noise a ratio has to be read against:',
    ...spread,
    ...cells.map(
      (c) =>
        `${label[c.variant]}, ${c.body}: CPU per request ${c.cpuUsPerRequest.map((us) => formatUs(us)).join(' / ')}`,
    ),
  ];
  for (const cell of cells) {
    if (cell.wrk.errors > 0) notes.push(`${label[cell.variant]}, ${cell.body}: ${formatInt(cell.wrk.errors)} errors.`);
    if (cell.originRequests > 0) {
      notes.push(`${label[cell.variant]}, ${cell.body}: ${cell.originRequests} requests reached the origin.`);
    }
  }
  return {
    title: `Hits with a 20-rule config against no config (${connections} connections)`,
    table: renderTable(headers, rows),
    notes,
    data: { connections, durationSec, warmupSec, rounds, rules: 20, cells },
  };
}

function medianOf(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function formatUs(us: number | undefined): string {
  return us === undefined ? 'n/a' : `${us.toFixed(1)} µs`;
}

function median(runs: readonly WrkResult[]): WrkResult {
  if (runs.length === 0) throw new Error('no measured run');
  const byRate = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  return byRate[Math.floor(byRate.length / 2)] as WrkResult;
}
