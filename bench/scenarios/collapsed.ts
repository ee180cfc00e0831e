import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { formatInt, formatMs, renderTable } from '../lib/format.js';
import { get, headerValue, listenInProcess } from '../lib/http.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { LABELS, startCache } from '../lib/servers.js';
import { startNginx } from '../peers/nginx.js';

const CLIENTS = 200;
const ORIGIN_DELAY_MS = 1000;
const BODY = randomBytes(16 * 1024);

interface SlowOrigin {
  url: string;
  count(path: string): number;
  close(): Promise<void>;
}

/** A bare node:http origin that answers every request after one second, counting them by path. */
async function startSlowOrigin(): Promise<SlowOrigin> {
  const counts = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const path = request.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    setTimeout(() => {
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': BODY.length,
        'cache-control': 'public, max-age=86400',
      });
      response.end(BODY);
    }, ORIGIN_DELAY_MS);
  });
  server.keepAliveTimeout = 60_000;
  const listening = await listenInProcess(server);
  return {
    url: listening.url,
    count: (path) => counts.get(path) ?? 0,
    close: () => listening.close(),
  };
}

interface Row {
  target: string;
  label: string;
  originRequests: number;
  firstMs: number;
  medianMs: number;
  allMs: number;
  failed: number;
  xCache: Record<string, number>;
}

/** 200 clients, each on its own connection, ask for one uncached URL at the same moment. */
async function storm(base: string, path: string): Promise<Omit<Row, 'target' | 'label' | 'originRequests'>> {
  const start = performance.now();
  const answers = await Promise.all(
    Array.from({ length: CLIENTS }, () => get(`${base}${path}`).catch(() => undefined)),
  );
  const times = answers
    .filter((a) => a?.status === 200)
    .map((a) => (a?.endedAt ?? 0) - start)
    .sort((a, b) => a - b);
  const xCache: Record<string, number> = {};
  for (const answer of answers) {
    const value = answer
      ? (headerValue(answer, 'x-cache') ?? (answer.status === 200 ? 'none' : `status ${answer.status}`))
      : 'error';
    xCache[value] = (xCache[value] ?? 0) + 1;
  }
  return {
    firstMs: times[0] ?? NaN,
    medianMs: times[Math.floor(times.length / 2)] ?? NaN,
    allMs: times.at(-1) ?? NaN,
    failed: CLIENTS - times.length,
    xCache,
  };
}

/**
 * Collapsed misses: one uncached URL on an origin that takes 1 s. A cache that collapses sends
 * one request to the origin and releases every waiter when the bytes arrive (≈ origin time).
 * The slow origin runs in this process (load generator's core); the cache and nginx get their
 * own instances in front of it, pinned like the others.
 */
export async function runCollapsed(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const slow = await startSlowOrigin();
  const targets = [{ id: 'origin', label: 'origin direct (node:http, answers after 1 s)', url: slow.url }];
  const nginx = lab.withNginx ? await startNginx(slow.url, await lab.dir('collapsed-nginx')) : undefined;
  if (nginx) targets.push({ id: 'nginx', label: LABELS.nginx, url: nginx.url });
  const cache = await startCache({
    origin: slow.url,
    cacheDir: await lab.dir('collapsed-cache'),
    logPath: lab.logPath('collapsed-cache'),
    logLevel: lab.options.logLevel,
    maxSize: lab.cacheMaxSize,
    maxObjectSize: lab.cacheMaxObjectSize,
  });
  targets.push({ id: 'cache', label: LABELS.cache, url: cache.url });

  const rows: Row[] = [];
  for (const target of targets) {
    const path = `/collapsed/${target.id}-${Date.now()}`;
    const figures = await storm(target.url, path);
    rows.push({ target: target.id, label: target.label, originRequests: slow.count(path), ...figures });
    progress(
      `collapsed ${target.label.padEnd(28)} ${slow.count(path)} origin requests, all done in ${formatMs(figures.allMs)}`,
    );
  }
  await Promise.all([cache.stop(), nginx?.stop(), slow.close()]);

  const table = renderTable(
    [
      'server',
      'origin requests',
      'first done',
      'median',
      'all 200 done',
      '− 1 s',
      '− origin direct',
      'failed',
      'X-Cache',
    ],
    rows.map((row) => [
      row.label,
      formatInt(row.originRequests),
      formatMs(row.firstMs),
      formatMs(row.medianMs),
      formatMs(row.allMs),
      formatMs(row.allMs - ORIGIN_DELAY_MS),
      row.target === 'origin' ? '' : formatMs(row.allMs - (rows[0]?.allMs ?? NaN)),
      formatInt(row.failed),
      Object.entries(row.xCache)
        .map(([value, n]) => `${value} ${n}`)
        .join(', '),
    ]),
  );
  return {
    title: `Collapsed misses (${CLIENTS} simultaneous requests, origin takes ${ORIGIN_DELAY_MS / 1000} s)`,
    table,
    notes: [
      `Times from the moment the ${CLIENTS} requests (one connection each) were sent until each body ended. ` +
        '“− origin direct” takes off the same storm sent straight to the origin (what the client side itself costs).',
      'The ceiling here is the origin itself: a bare node:http server that waits 1 s.',
    ],
    data: { clients: CLIENTS, originDelayMs: ORIGIN_DELAY_MS, bodyBytes: BODY.length, rows },
  };
}
