import net from 'node:net';
import { COMPRESS_PAGE } from '../lib/fixtures.js';
import { formatInt, formatMs, formatRatio, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { primeCache, type Target } from '../lib/servers.js';
import { measureInTurns, medianRun, runWrk, type WrkResult } from '../lib/wrk.js';
import { startNginx } from '../peers/nginx.js';

/** A browser (offers br), an older client (gzip only), curl (nothing). */
const CLIENTS = [
  { id: 'br', label: 'br client', acceptEncoding: 'gzip, deflate, br' },
  { id: 'gzip', label: 'gzip client', acceptEncoding: 'gzip' },
  { id: 'identity', label: 'identity client', acceptEncoding: undefined },
] as const;

interface Wire {
  /** Bytes of one whole response on the wire: status line, fields and body. */
  wireBytes: number;
  coding: string;
  xCache: string;
}

/**
 * Compression stored once (issue 18) against nginx `gzip on`, which compresses each response as
 * it sends it: a 64 KiB HTML page already stored by both, requested by br, gzip and identity
 * clients. Bytes on the wire from one response read off a raw socket; hit throughput from wrk,
 * rounds in turns, median shown.
 */
export async function runCompression(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  const origin = await lab.origin();
  const targets: Target[] = [await lab.cache()];
  const ownNginx = lab.withNginx
    ? await startNginx(origin.url, await lab.dir('nginx-gzip'), { gzip: true })
    : undefined;
  if (ownNginx) targets.push(ownNginx);
  try {
    // The cache makes its copies on the first miss of a client that accepts br or gzip.
    for (const target of targets) {
      await primeCache(target, COMPRESS_PAGE.path, false, { 'accept-encoding': 'gzip, deflate, br' });
      for (const client of CLIENTS) await waitForCoding(target, client.acceptEncoding);
    }
    const cells: { target: string; client: string; wire: Wire; run: WrkResult; rounds: WrkResult[] }[] = [];
    for (const client of CLIENTS) {
      const headers = client.acceptEncoding === undefined ? [] : [`Accept-Encoding: ${client.acceptEncoding}`];
      const url = (target: Target) => `${target.url}${COMPRESS_PAGE.path}`;
      if (warmupSec > 0)
        for (const target of targets) await runWrk(url(target), { connections, durationSec: warmupSec, headers });
      const runs = await measureInTurns(targets, rounds, (target) =>
        runWrk(url(target), { connections, durationSec, headers }),
      );
      for (const target of targets) {
        const wire = await wireResponse(target.url, COMPRESS_PAGE.path, client.acceptEncoding);
        const measured = runs.get(target.id) ?? [];
        const run = medianRun(measured);
        cells.push({ target: target.id, client: client.id, wire, run, rounds: measured });
        progress(
          `compression ${client.label.padEnd(16)} ${target.label.padEnd(28)} ${formatInt(wire.wireBytes)} B ${wire.coding}, ${formatInt(run.requestsPerSec)} req/s`,
        );
      }
    }

    const find = (target: string, client: string) => cells.find((c) => c.target === target && c.client === client);
    const headers = ['server', ...CLIENTS.flatMap((client) => [`${client.label}: bytes`, 'req/s', 'p99'])];
    const rows = targets.map((target) => [
      target.id === 'nginx' ? 'nginx proxy_cache + gzip on' : target.label,
      ...CLIENTS.flatMap((client) => {
        const cell = find(target.id, client.id);
        return [
          cell ? `${formatInt(cell.wire.wireBytes)} ${cell.wire.coding}` : '–',
          formatInt(cell?.run.requestsPerSec),
          formatMs(cell?.run.p99Ms),
        ];
      }),
    ]);
    if (ownNginx) {
      rows.push([
        'simple-cache ÷ nginx',
        ...CLIENTS.flatMap((client) => {
          const mine = find('cache', client.id);
          const theirs = find('nginx', client.id);
          return [
            formatRatio(mine?.wire.wireBytes, theirs?.wire.wireBytes),
            formatRatio(mine?.run.requestsPerSec, theirs?.run.requestsPerSec),
            formatRatio(mine?.run.p99Ms, theirs?.run.p99Ms),
          ];
        }),
      ]);
    }
    const notes = [
      `${COMPRESS_PAGE.label} page stored by both; br client: Accept-Encoding "gzip, deflate, br", gzip client: "gzip", identity client: none. ` +
        `wrk -t1 -c${connections} -d${durationSec}s, ${rounds} rounds in turns after a ${warmupSec}s warm-up, median shown. ` +
        'simple-cache: br (quality 6) and gzip (level 6) copies made once when stored; nginx: gzip_comp_level 6 on every response ' +
        '(nginx-light has no brotli module).',
    ];
    if (!ownNginx)
      notes.push('nginx left out (--peers not given, or nginx not available): only simple-cache measured.');
    for (const cell of cells) {
      if (cell.run.errors > 0) notes.push(`${cell.target}, ${cell.client}: ${formatInt(cell.run.errors)} errors.`);
    }
    return {
      title: `Compressed hits: ${COMPRESS_PAGE.label}, stored compressed once vs compressed per request (${connections} connections)`,
      table: renderTable(headers, rows),
      notes,
      data: { connections, durationSec, warmupSec, rounds, cells },
    };
  } finally {
    await ownNginx?.stop();
  }
}

/** Until a hit for this Accept-Encoding comes in the coding the target will keep sending. */
async function waitForCoding(target: Target, acceptEncoding: string | undefined): Promise<void> {
  const wanted =
    acceptEncoding === undefined ? 'identity' : acceptEncoding.includes('br') && target.id === 'cache' ? 'br' : 'gzip';
  const deadline = performance.now() + 30_000;
  let last = '';
  while (performance.now() < deadline) {
    const wire = await wireResponse(target.url, COMPRESS_PAGE.path, acceptEncoding);
    if (wire.coding === wanted && /HIT/i.test(wire.xCache)) return;
    last = `${wire.coding} ${wire.xCache}`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${target.label}: no stored ${wanted} answer within 30 s (last: ${last})`);
}

/** One response read off a raw socket (Connection: close): its size on the wire, coding and X-Cache. */
function wireResponse(base: string, pathname: string, acceptEncoding: string | undefined): Promise<Wire> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
      const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim();
      resolve({
        wireBytes: raw.length,
        coding: field('content-encoding') ?? 'identity',
        xCache: field('x-cache') ?? '',
      });
    });
    const ae = acceptEncoding === undefined ? '' : `Accept-Encoding: ${acceptEncoding}\r\n`;
    socket.end(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\n${ae}Connection: close\r\n\r\n`);
  });
}
