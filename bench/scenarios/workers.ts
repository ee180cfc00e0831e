import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import { listChildPids, readCpuMs } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, startCache, type Target } from '../lib/servers.js';
import { NGINX_KEEPALIVE_REQUESTS, startNginx } from '../peers/nginx.js';
import { medianRun } from '../lib/wrk.js';
import { runWrk, type WrkResult } from '../lib/wrk.js';

/** Worker counts compared: one, then two (the machine this was written on has two cores). */
const WORKER_COUNTS = [1, 2] as const;
const BODIES = HIT_BODIES.filter((body) => body.size <= 16 * 1024);

interface Server {
  id: string;
  kind: 'cache' | 'nginx';
  workers: number;
  target: Target;
  /** Processes found serving: the cache's workers (or itself), nginx's workers. */
  processes: number;
}

interface Cell {
  server: string;
  body: string;
  wrk: WrkResult;
  rounds: WrkResult[];
  originRequests: number;
  /** CPU time of every process of the server per request answered, over all measured rounds (µs). */
  cpuMicrosPerRequest: number | undefined;
}

/**
 * How each server scales from one worker to two on the same machine: the cache with
 * `--workers 1` and `--workers 2`, nginx with `worker_processes 1` and `2`, on 1 KiB and 16 KiB
 * hits. Nothing is pinned (the servers and wrk share every core, so neither reaches 2×; the
 * comparison is fair because both share them the same way). Rounds in turns, median shown, as
 * in `hits`. Needs nginx (--peers) for the comparison; without it the cache's own scaling is shown.
 */
export async function runWorkers(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const origin = await lab.origin();
  const servers: Server[] = [];
  for (const workers of WORKER_COUNTS) {
    const name = `workers-cache-${workers}`;
    const target = await startCache({
      origin: origin.url,
      cacheDir: await lab.dir(name),
      logPath: lab.logPath(name),
      logLevel: lab.options.logLevel,
      maxSize: lab.cacheMaxSize,
      maxObjectSize: lab.cacheMaxObjectSize,
      env: { CACHE_WORKERS: String(workers) },
      core: 'any',
    });
    servers.push({ id: `cache-${workers}`, kind: 'cache', workers, target, processes: 0 });
  }
  if (lab.withNginx) {
    for (const workers of WORKER_COUNTS) {
      const target = await startNginx(origin.url, await lab.dir(`workers-nginx-${workers}`), { workers, core: 'any' });
      servers.push({ id: `nginx-${workers}`, kind: 'nginx', workers, target, processes: 0 });
    }
  }
  for (const server of servers) {
    for (const body of BODIES) await primeCache(server.target, body.path);
    // A cache without --workers support runs as one process: say so rather than report its scaling.
    server.processes = Math.max(1, listChildPids(server.target.server.pid).length);
  }

  const cells: Cell[] = [];
  for (const body of BODIES) {
    const runs = new Map<string, WrkResult[]>(servers.map((server) => [server.id, []]));
    const reached = new Map<string, number>();
    // CPU time and requests of the measured rounds: what a request costs, whoever else uses the cores.
    const spent = new Map<string, { cpuMs: number; requests: number } | undefined>(
      servers.map((server) => [server.id, { cpuMs: 0, requests: 0 }]),
    );
    for (const server of servers) {
      if (warmupSec > 0)
        await runWrk(`${server.target.url}${body.path}`, { connections, durationSec: warmupSec, core: 'any' });
    }
    for (let round = 0; round < rounds; round++) {
      for (const [i] of servers.entries()) {
        const server = servers[(i + round) % servers.length] as Server;
        const before = await countOriginRequests(origin.url, body.path);
        const cpuBefore = readServerCpu(server.target.server.pid);
        const wrk = await runWrk(`${server.target.url}${body.path}`, { connections, durationSec, core: 'any' });
        const cpuMs = cpuSince(server.target.server.pid, cpuBefore);
        runs.get(server.id)?.push(wrk);
        const sum = spent.get(server.id);
        // Without /proc the figure is unknown rather than wrong.
        spent.set(
          server.id,
          sum && cpuMs !== undefined ? { cpuMs: sum.cpuMs + cpuMs, requests: sum.requests + wrk.requests } : undefined,
        );
        const after = await countOriginRequests(origin.url, body.path);
        reached.set(server.id, (reached.get(server.id) ?? 0) + after - before);
      }
    }
    for (const server of servers) {
      const measured = runs.get(server.id) ?? [];
      const wrk = medianRun(measured);
      const sum = spent.get(server.id);
      cells.push({
        cpuMicrosPerRequest: sum && sum.requests > 0 ? (sum.cpuMs * 1000) / sum.requests : undefined,
        server: server.id,
        body: body.label,
        wrk,
        rounds: measured,
        originRequests: reached.get(server.id) ?? 0,
      });
      progress(`workers ${body.label.padEnd(7)} ${labelOf(server).padEnd(30)} ${formatInt(wrk.requestsPerSec)} req/s`);
    }
  }

  const cellOf = (id: string, body: string) => cells.find((c) => c.server === id && c.body === body);
  const find = (id: string, body: string) => cellOf(id, body)?.wrk;
  const cpu = (id: string, body: string) => cellOf(id, body)?.cpuMicrosPerRequest;
  const headers = ['server', ...BODIES.flatMap((body) => [`${body.label} req/s`, 'p99', 'CPU/req'])];
  const rows = servers.map((server) => [
    labelOf(server),
    ...BODIES.flatMap((body) => {
      const wrk = find(server.id, body.label);
      return [formatInt(wrk?.requestsPerSec), formatMs(wrk?.p99Ms), formatMicros(cpu(server.id, body.label))];
    }),
  ]);
  const ratio = (label: string, a: string, b: string) => [
    label,
    ...BODIES.flatMap((body) => [
      formatRatio(find(a, body.label)?.requestsPerSec, find(b, body.label)?.requestsPerSec),
      formatRatio(find(a, body.label)?.p99Ms, find(b, body.label)?.p99Ms),
      formatRatio(cpu(a, body.label), cpu(b, body.label)),
    ]),
  ];
  rows.push(ratio('simple-cache, 2 workers ÷ 1 worker', 'cache-2', 'cache-1'));
  if (lab.withNginx) {
    rows.push(ratio('nginx, 2 workers ÷ 1 worker', 'nginx-2', 'nginx-1'));
    rows.push(ratio('simple-cache ÷ nginx, 1 worker each', 'cache-1', 'nginx-1'));
    rows.push(ratio('simple-cache ÷ nginx, 2 workers each', 'cache-2', 'nginx-2'));
    // How the two scale against each other: ≥ 1.00× means the cache gains at least what nginx does.
    rows.push([
      'scaling, simple-cache ÷ nginx',
      ...BODIES.flatMap((body) => {
        const mine = scaling(find('cache-2', body.label), find('cache-1', body.label));
        const theirs = scaling(find('nginx-2', body.label), find('nginx-1', body.label));
        return [formatRatio(mine, theirs), '', ''];
      }),
    ]);
  }

  const notes = [
    `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds per server taken in turns after a ${warmupSec}s warm-up, ` +
      'median round shown; bodies already stored; nothing pinned: the servers and wrk share every core.',
    'CPU/req: user + system CPU time of every process of the server (primary or master included) over the measured ' +
      'rounds, divided by the requests answered: what a hit costs, however busy the machine is; 2 workers ÷ 1 ' +
      'near 1.00× means a hit costs a worker what it costs a single process.',
    `nginx tuned for speed: keepalive_requests ${formatInt(NGINX_KEEPALIVE_REQUESTS)} (far above the requests one wrk ` +
      'connection sends in a run, so it never reconnects), open_file_cache, sendfile, tcp_nopush, no access log.',
  ];
  for (const server of servers) {
    if (server.kind === 'cache' && server.processes !== server.workers) {
      notes.push(`${labelOf(server)}: ${server.processes} serving process(es) found, not ${server.workers}.`);
    }
  }
  for (const cell of cells) {
    const server = servers.find((s) => s.id === cell.server);
    const label = server ? labelOf(server) : cell.server;
    if (cell.wrk.errors > 0) notes.push(`${label}, ${cell.body}: ${formatInt(cell.wrk.errors)} errors.`);
    if (cell.originRequests > 0)
      notes.push(`${label}, ${cell.body}: ${cell.originRequests} requests reached the origin.`);
  }
  for (const server of servers) await server.target.stop();
  return {
    title: `Workers: 1 → 2 on ${BODIES.map((b) => b.label).join(' and ')} hits (${connections} connections, unpinned)`,
    table: renderTable(headers, rows),
    notes,
    data: {
      connections,
      durationSec,
      warmupSec,
      rounds,
      servers: servers.map((s) => ({ id: s.id, workers: s.workers, processes: s.processes })),
      cells,
    },
  };
}

/** CPU time (ms) of a server's process and each of its children, by pid; undefined without /proc. */
function readServerCpu(pid: number): Map<number, number> | undefined {
  const times = new Map<number, number>();
  for (const each of [pid, ...listChildPids(pid)]) {
    const ms = readCpuMs([each]);
    if (ms !== undefined) times.set(each, ms);
  }
  return times.has(pid) ? times : undefined;
}

/**
 * CPU time the server's processes used since `before`, over the processes alive at both ends
 * (nginx's cache loader exits a minute after start; a process started meanwhile counts from 0).
 */
function cpuSince(pid: number, before: Map<number, number> | undefined): number | undefined {
  const after = readServerCpu(pid);
  if (!before || !after) return undefined;
  let ms = 0;
  for (const [each, now] of after) ms += now - (before.get(each) ?? 0);
  return ms;
}

function formatMicros(micros: number | undefined): string {
  return micros === undefined ? '–' : `${micros.toFixed(1)} µs`;
}

function labelOf(server: Server): string {
  const workers = `${server.workers} worker${server.workers === 1 ? '' : 's'}`;
  return server.kind === 'cache' ? `simple-cache, ${workers}` : `nginx proxy_cache, ${workers}`;
}

function scaling(two: WrkResult | undefined, one: WrkResult | undefined): number | undefined {
  return two && one && one.requestsPerSec > 0 ? two.requestsPerSec / one.requestsPerSec : undefined;
}
