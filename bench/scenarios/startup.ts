import { formatInt, formatMiB, formatMs, formatRatio, renderTable } from '../lib/format.js';
import { TEMPLATE_PATH } from '../lib/fixtures.js';
import { get, headerValue, waitForAnswer, type Answer } from '../lib/http.js';
import type { Lab } from '../lib/lab.js';
import { readRssKiB, type Server } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { LABELS, primeCache, spawnCache, startOrigin, type Target } from '../lib/servers.js';
import { SHM } from '../lib/stale-runs.js';
import { entryPath, fillStore, readTemplateEntry } from '../lib/store-fill.js';
import { startCeiling } from '../peers/ceiling.js';
import { startNginx } from '../peers/nginx.js';

/** Stored keys checked for HIT once the filled cache serves. */
const SPOT_CHECKS = 50;

interface Row {
  label: string;
  entries: number | undefined;
  /** From spawn to the end of the first successful answer. */
  startMs: number;
  firstAnswer: string;
  rssKiB: number | undefined;
}

/**
 * Start-up time: from spawn to the first answer, for the cache with an empty store and with
 * many stored entries (the first request asks for a stored key, so it must be a HIT), next to
 * the ceiling, the origin and nginx starting empty. The entries are copies of one entry the
 * shared cache stored, written straight into the store's layout.
 */
export async function runStartup(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const count = lab.options.entries;
  const origin = await lab.origin();
  const templateCache = await lab.cache();
  await primeCache(templateCache, TEMPLATE_PATH);
  const template = await readTemplateEntry(lab.cacheDir, TEMPLATE_PATH);
  const filledDir = await lab.memoryDir('startup-filled');
  const fillStart = performance.now();
  await fillStore(filledDir, await lab.dir('startup-fill'), template, TEMPLATE_PATH, count);
  const fillMs = performance.now() - fillStart;
  progress(`startup: wrote ${formatInt(count)} entries in ${formatMs(fillMs)}`);

  const rows: Row[] = [];
  const timeTarget = async (label: string, start: () => Promise<Target>) => {
    const begin = performance.now();
    const target = await start();
    const startMs = performance.now() - begin;
    const rssKiB = target.pids().reduce((sum, pid) => sum + (readRssKiB(pid) ?? 0), 0);
    rows.push({ label, entries: undefined, startMs, firstAnswer: '—', rssKiB });
    progress(`startup ${label.padEnd(28)} ${formatMs(startMs)}`);
    await target.stop();
  };
  const timeCache = async (label: string, dir: string, entries: number, path: string) => {
    const begin = performance.now();
    const { server, url } = await spawnCache({
      origin: origin.url,
      cacheDir: dir,
      logPath: lab.logPath(`startup-${entries}`),
      logLevel: lab.options.logLevel,
      maxSize: lab.cacheMaxSize,
      maxObjectSize: lab.cacheMaxObjectSize,
    });
    const answer = await waitForAnswer(`${url}${path}`, server);
    const startMs = answer.endedAt - begin;
    rows.push({ label, entries, startMs, firstAnswer: describe(answer), rssKiB: readRssKiB(server.pid) });
    progress(`startup ${label.padEnd(28)} ${formatMs(startMs)}`);
    return { server, url };
  };

  await timeTarget(LABELS.ceiling, () => startCeiling({ '/': 1 }, lab.logPath('startup-ceiling')));
  await timeTarget(LABELS.origin, async () =>
    startOrigin({ root: await lab.dir('origin-root'), logPath: lab.logPath('startup-origin'), logLevel: 'warn' }),
  );
  if (lab.withNginx) {
    await timeTarget(`${LABELS.nginx} (empty)`, async () => startNginx(origin.url, await lab.dir('startup-nginx')));
  }
  const empty = await timeCache(`${LABELS.cache} (empty)`, await lab.dir('startup-empty'), 0, TEMPLATE_PATH);
  await empty.server.stop();
  const filled = await timeCache(
    `${LABELS.cache} (${formatInt(count)} entries)`,
    filledDir,
    count,
    entryPath(count - 1),
  );
  const hits = await spotCheck(filled.url, filled.server, count);
  await filled.server.stop();

  const emptyRow = rows.find((row) => row.entries === 0);
  const table = renderTable(
    ['server', 'stored entries', 'spawn → first answer', 'first answer', 'RSS then', 'vs empty cache'],
    rows.map((row) => [
      row.label,
      formatInt(row.entries ?? 0),
      formatMs(row.startMs),
      row.firstAnswer,
      formatMiB(row.rssKiB),
      row.entries === undefined ? '' : formatRatio(row.startMs, emptyRow?.startMs),
    ]),
  );
  return {
    title: `Start-up with ${formatInt(count)} stored entries`,
    table,
    notes: [
      `Entries generated in ${formatMs(fillMs)} (copies of one entry the cache stored, 1 KiB bodies), ` +
        `in ${filledDir.startsWith(SHM) ? 'tmpfs (/dev/shm): a busy disk takes minutes to create and delete 200,000 files' : 'the temp folder'}; ` +
        'either way the page cache holds them, as after any recent run.',
      `The filled cache's first request asks for the last generated key; then ${hits.checked} random stored keys ` +
        `were requested: ${hits.hits} HIT.`,
      'Each server is spawned pinned to the server core and polled every 5 ms. The origin and the cache run compiled ' +
        '(`node … dist/cli.js`, as `pnpm start` runs them), so their rows are node, module loading and their own start; ' +
        'the ceiling is plain JavaScript (node alone).',
    ],
    data: { entries: count, fillMs, rows, spotCheck: hits },
  };
}

function describe(answer: Answer): string {
  const xCache = headerValue(answer, 'x-cache');
  return xCache ? `${answer.status} ${xCache}` : `status ${answer.status}`;
}

async function spotCheck(url: string, server: Server, count: number): Promise<{ checked: number; hits: number }> {
  let hits = 0;
  for (let i = 0; i < SPOT_CHECKS; i += 1) {
    if (server.hasExited()) break;
    const answer = await get(`${url}${entryPath(Math.floor(Math.random() * count))}`);
    if (answer.status === 200 && headerValue(answer, 'x-cache') === 'HIT') hits += 1;
  }
  return { checked: SPOT_CHECKS, hits };
}
