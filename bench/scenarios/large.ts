import { spawnSync } from 'node:child_process';
import { download, measureTtfb, type Transfer } from '../lib/download.js';
import { HIT_BODIES, LARGE_PATH } from '../lib/fixtures.js';
import { formatInt, formatMiB, formatMs, formatRate, formatRatio, formatSize, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import { readCpuMs, sampleRss } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { countOriginRequests, primeCache, type Target } from '../lib/servers.js';

interface Row {
  target: string;
  label: string;
  kind: 'served' | 'miss' | 'hit';
  transfer: Transfer;
  /** Peak growth of the server's resident memory during the transfer, KiB. */
  rssGrowthKiB: number;
  /** CPU time (user + system, every thread) the server used per MB (10⁶ bytes) sent, ms. */
  cpuMsPerMB: number | undefined;
  /** The same for the origin during a miss: on one shared core, the two add up. */
  originCpuMsPerMB: number | undefined;
  originRequests: number | undefined;
}

/**
 * One large body: served by the ceiling (from memory) and the origin (from disk), then through
 * each cache twice — the miss streams from the origin while it is stored, the hit comes from
 * the store. curl downloads it on the load generator's core; the server's VmRSS is sampled.
 */
export async function runLarge(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const size = lab.options.largeSize;
  const origin = await lab.origin();
  const targets = await lab.all();
  const rows: Row[] = [];

  const measure = async (target: Target, kind: Row['kind']) => {
    // Flush what earlier rows left dirty, so their write-back does not land on this one.
    spawnSync('sync');
    const before = kind === 'served' ? undefined : await countOriginRequests(origin.url, LARGE_PATH);
    const sampler = sampleRss(target.pids());
    const cpuBefore = readCpuMs(target.pids());
    const originCpuBefore = kind === 'miss' ? readCpuMs(origin.pids()) : undefined;
    const transfer = await download(`${target.url}${LARGE_PATH}`);
    const rssGrowthKiB = sampler.stop();
    const perMB = (after: number | undefined, before: number | undefined) =>
      after === undefined || before === undefined ? undefined : (after - before) / (transfer.bytes / 1e6);
    const cpuMsPerMB = perMB(readCpuMs(target.pids()), cpuBefore);
    const originCpuMsPerMB = kind === 'miss' ? perMB(readCpuMs(origin.pids()), originCpuBefore) : undefined;
    if (transfer.status !== 200 || transfer.bytes !== size) {
      throw new Error(`${target.label} ${kind}: status ${transfer.status}, ${transfer.bytes} of ${size} bytes`);
    }
    const originRequests =
      before === undefined ? undefined : (await countOriginRequests(origin.url, LARGE_PATH)) - before;
    rows.push({
      target: target.id,
      label: target.label,
      kind,
      transfer,
      rssGrowthKiB,
      cpuMsPerMB,
      originCpuMsPerMB,
      originRequests,
    });
    progress(`large ${target.label.padEnd(28)} ${kind.padEnd(6)} ${formatRate(transfer.bytesPerSec)}`);
  };

  for (const target of targets) {
    if (target.id === 'cache' || target.id === 'nginx') {
      // One miss on another URL first, so the measured miss is not a freshly started process's
      // first fetch (module and JIT warm-up, the first origin connection): 10-20 ms of TTFB.
      await download(`${target.url}${HIT_BODIES[2].path}?large-warm-up`);
      await measure(target, 'miss');
      await primeCache(target, LARGE_PATH, true);
      await measure(target, 'hit');
    } else {
      await measure(target, 'served');
    }
  }

  const originTtfbMs = await measureTtfb(`${origin.url}${LARGE_PATH}`);
  const find = (target: string, kind: Row['kind']) => rows.find((r) => r.target === target && r.kind === kind);
  const table = renderTable(
    [
      'server',
      'request',
      'X-Cache',
      'TTFB',
      'TTFB − origin’s',
      'throughput',
      'CPU per MB',
      'origin’s CPU per MB',
      'peak RSS growth',
      'origin requests',
    ],
    rows.map((row) => [
      row.label,
      row.kind,
      row.transfer.xCache ?? '—',
      formatMs(row.transfer.ttfbMs),
      row.kind === 'miss' ? formatMs(row.transfer.ttfbMs - originTtfbMs) : '',
      formatRate(row.transfer.bytesPerSec),
      formatMs(row.cpuMsPerMB),
      row.kind === 'miss' ? formatMs(row.originCpuMsPerMB) : '',
      formatMiB(row.rssGrowthKiB),
      formatInt(row.originRequests),
    ]),
  );
  const rate = (target: string, kind: Row['kind']) => find(target, kind)?.transfer.bytesPerSec;
  const ratios = [
    `simple-cache miss ÷ origin direct: ${formatRatio(rate('cache', 'miss'), rate('origin', 'served'))}`,
    `hit ÷ ceiling: ${formatRatio(rate('cache', 'hit'), rate('ceiling', 'served'))}`,
  ];
  if (lab.withNginx) {
    ratios.push(
      `miss ÷ nginx miss: ${formatRatio(rate('cache', 'miss'), rate('nginx', 'miss'))}`,
      `hit ÷ nginx hit: ${formatRatio(rate('cache', 'hit'), rate('nginx', 'hit'))}`,
    );
  }
  return {
    title: `Large file, ${formatSize(size)}: miss and hit`,
    table,
    notes: [
      `Throughput ratios — ${ratios.join('; ')}.`,
      `TTFB: curl’s time to the first byte of the answer; the origin’s, for the difference: ${formatMs(originTtfbMs)} ` +
        '(median of 5 one-byte range requests). RSS: VmRSS (and VmHWM) of the server process ' +
        '(nginx: its worker) over its value before the request. The origin shares the server core during misses.',
      'CPU per MB: user + system time of the server’s process (every thread: the thread pool, the garbage ' +
        'collector) per 10⁶ bytes sent, from /proc in 10 ms ticks; during a miss the origin’s is shown beside it. ' +
        'The two share one core, so a miss cannot run faster than 1,000 ÷ (server’s + origin’s) MB/s.',
    ],
    data: { size, rows },
  };
}
