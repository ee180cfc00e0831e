import path from 'node:path';
import { HIT_BODIES } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import { runH2load } from '../lib/h2load.js';
import type { Lab } from '../lib/lab.js';
import { findFreePort } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { primeCache, startCache, type Target } from '../lib/servers.js';
import { measureInTurns, medianRun, runWrk, type WrkResult } from '../lib/wrk.js';
import { startNginx } from '../peers/nginx.js';

/** Streams h2load keeps in flight on each connection: a browser opens tens on its one connection. */
const STREAMS = 8;
const BODIES = HIT_BODIES.filter((body) => body.size <= 16 * 1024);

interface Way {
  id: string;
  label: string;
  target: 'cache' | 'nginx';
  run: (pathname: string) => Promise<WrkResult>;
}

/**
 * Hits over TLS (issue 18): HTTP/2 with h2load and HTTPS/1.1 with wrk, against the cache's TLS
 * port (--tls-cert self-signed) and, with --peers, nginx `listen … ssl http2` with the same
 * certificate in front of the same origin. Bodies already stored by both; rounds in turns,
 * median shown.
 */
export async function runHttp2(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const h2Connections = Math.max(1, Math.round(connections / 4));
  const origin = await lab.origin();
  const cacheDir = await lab.dir('cache-tls');
  const tlsPort = await findFreePort();
  const cache = await startCache({
    origin: origin.url,
    cacheDir,
    logPath: lab.logPath('cache-tls'),
    logLevel: lab.options.logLevel,
    maxSize: lab.cacheMaxSize,
    maxObjectSize: lab.cacheMaxObjectSize,
    env: { CACHE_TLS_CERT: 'self-signed', CACHE_TLS_PORT: String(tlsPort) },
  });
  const servers: Target[] = [cache];
  const tlsUrls: Record<string, string> = { cache: `https://127.0.0.1:${tlsPort}` };
  try {
    if (lab.withNginx) {
      // The pair the cache made at start (<cache-dir>/tls/): both serve the same certificate.
      const nginxTlsPort = await findFreePort();
      const tls = {
        port: nginxTlsPort,
        cert: path.join(cacheDir, 'tls', 'self-signed-cert.pem'),
        key: path.join(cacheDir, 'tls', 'self-signed-key.pem'),
      };
      servers.push(await startNginx(origin.url, await lab.dir('nginx-tls'), { tls }));
      tlsUrls.nginx = `https://127.0.0.1:${nginxTlsPort}`;
    }
    for (const server of servers) for (const body of BODIES) await primeCache(server, body.path);

    const ways: Way[] = servers.flatMap((server) => {
      const base = tlsUrls[server.id] as string;
      const target = server.id as Way['target'];
      const name = target === 'cache' ? 'simple-cache' : 'nginx';
      return [
        {
          id: `${target}-h2`,
          label: `${name}, HTTP/2`,
          target,
          run: (pathname: string) =>
            runH2load(`${base}${pathname}`, { connections: h2Connections, streams: STREAMS, durationSec }),
        },
        {
          id: `${target}-h1`,
          label: `${name}, HTTPS/1.1`,
          target,
          run: (pathname: string) => runWrk(`${base}${pathname}`, { connections, durationSec }),
        },
      ];
    });
    const cells: { body: string; way: string; run: WrkResult; rounds: WrkResult[] }[] = [];
    for (const body of BODIES) {
      if (warmupSec > 0) for (const way of ways) await way.run(body.path);
      const runs = await measureInTurns(ways, rounds, (way) => way.run(body.path));
      for (const way of ways) {
        const measured = runs.get(way.id) ?? [];
        const run = medianRun(measured);
        cells.push({ body: body.label, way: way.id, run, rounds: measured });
        progress(`http2 ${body.label.padEnd(7)} ${way.label.padEnd(26)} ${formatInt(run.requestsPerSec)} req/s`);
      }
    }

    const find = (way: string, body: string) => cells.find((c) => c.way === way && c.body === body)?.run;
    const headers = ['server, protocol', ...BODIES.flatMap((body) => [`${body.label} req/s`, 'p99 (h2: max)'])];
    const rows = ways.map((way) => [
      way.label,
      ...BODIES.flatMap((body) => [
        formatInt(find(way.id, body.label)?.requestsPerSec),
        formatMs(find(way.id, body.label)?.p99Ms),
      ]),
    ]);
    if (lab.withNginx) {
      for (const [protocol, label] of [
        ['h2', 'HTTP/2'],
        ['h1', 'HTTPS/1.1'],
      ] as const) {
        rows.push([
          `simple-cache ÷ nginx, ${label}`,
          ...BODIES.flatMap((body) => {
            const mine = find(`cache-${protocol}`, body.label);
            const theirs = find(`nginx-${protocol}`, body.label);
            return [formatRatio(mine?.requestsPerSec, theirs?.requestsPerSec), formatRatio(mine?.p99Ms, theirs?.p99Ms)];
          }),
        ]);
      }
    }
    const notes = [
      `HTTP/2: h2load -t1 -c${h2Connections} -m${STREAMS} (${h2Connections * STREAMS} streams in flight); HTTPS/1.1: wrk -t1 -c${connections}; ` +
        `${durationSec}s runs, ${rounds} rounds in turns after a ${warmupSec}s warm-up, median shown. ` +
        'h2load reports no percentiles: its column shows the slowest request. One certificate (EC P-256, self-signed) for both.',
    ];
    if (!lab.withNginx) notes.push('nginx left out (--peers not given, or nginx not available).');
    for (const cell of cells) {
      if (cell.run.errors > 0) notes.push(`${cell.way}, ${cell.body}: ${formatInt(cell.run.errors)} errors.`);
    }
    return {
      title: 'Hits over TLS: HTTP/2 and HTTPS/1.1',
      table: renderTable(headers, rows),
      notes,
      data: { connections, h2Connections, streams: STREAMS, durationSec, warmupSec, rounds, cells },
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}
