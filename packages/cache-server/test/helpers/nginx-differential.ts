import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCache, tempDir, type StartedCache } from './cache.js';
import { waitFor } from './http.js';
import { startNginx, type StartedNginx } from './nginx.js';
import { startDifferentialOrigin, type DifferentialOrigin, type SeenByOrigin } from './nginx-origin.js';
import { exchange, type WireExchange, type WireRequest } from './wire-client.js';
import { field, type WireResponse } from './wire.js';

/** One connection's worth of a case: requests written on it, in order (or all at once). */
export interface Step {
  requests: WireRequest[];
  pipeline?: boolean;
  /** How long this connection may take; a response that has not come by then is `timeout`. */
  waitMs?: number;
  /** Time to let pass before this step (for a freshness lifetime to run out: nginx's clock cannot be faked). */
  delayMs?: number;
}

/** A request sequence run through nginx and through the cache; `base` is the case's own path prefix. */
export interface Case {
  id: string;
  steps: (base: string) => Step[];
  /** The origin this case needs: the shared one, or a port nobody listens on. */
  origin?: 'up' | 'down';
}

/** What one proxy did in one case: `"<step>[.<response>] <field>"` → observed value. */
export type Observation = Map<string, string>;

export interface Difference {
  case: string;
  at: string;
  field: string;
  nginx: string;
  ours: string;
}

/**
 * The response fields compared (RFC 9111/9110 leave a proxy no choice about them once it decided
 * to serve from storage or not). Not compared: `Date`, `Server`, `Via`, `Cache-Status`,
 * `Keep-Alive`, `Connection`, `Transfer-Encoding`/`Content-Length` (both framings are checked
 * for validity instead), which differ by design.
 */
const COMPARED = [
  'content-type',
  'cache-control',
  'etag',
  'last-modified',
  'vary',
  'location',
  'content-range',
  'set-cookie',
];

/** The body of a response the proxy made itself: only its status is compared. */
const PROXY_PAGE = '(made by the proxy)';

/** Bodies are cut at this many characters in observations (and so in the table). */
const BODY_CHARS = 80;

/** The table of deliberate differences, in the docs page that explains them. */
export const TABLE_FILE = path.resolve(import.meta.dirname, '../../../../docs/testing.md');
const TABLE_HEADING = '### Deliberate differences from nginx';

/**
 * The rows of the one table of deliberate differences. `case` is one case id, several separated by
 * commas, or `*` (any case); `step` is `<step>[.<response>]`, several separated by commas, or `*`.
 */
export function readTable(file = TABLE_FILE): Difference[] {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(TABLE_HEADING);
  if (start < 0) throw new Error(`${file} has no "${TABLE_HEADING}" section`);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: Difference[] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim().replace(/\\\|/g, '|'));
    const code = (cell: string | undefined) => /^`(.*)`$/.exec(cell ?? '')?.[1] ?? cell ?? '';
    const [caseId, at, fieldName, nginx, ours] = cells.map(code);
    rows.push({ case: caseId ?? '', at: at ?? '', field: fieldName ?? '', nginx: nginx ?? '', ours: ours ?? '' });
  }
  return rows;
}

/** How a row would be written into the table (for the message of an unlisted difference). */
export function formatRow(d: Difference): string {
  const cell = (value: string) => `\`${value.replace(/\|/g, '\\|')}\``;
  return `| ${cell(d.case)} | ${cell(d.at)} | ${cell(d.field)} | ${cell(d.nginx)} | ${cell(d.ours)} | (why) |`;
}

function describeSeen(request: SeenByOrigin, base: string): string {
  const target = request.url.startsWith(base) ? request.url.slice(base.length) : request.url;
  const extra = [
    'if-none-match',
    'if-modified-since',
    'if-match',
    'if-unmodified-since',
    'range',
    'authorization',
    'content-type',
  ]
    .filter((name) => request.headers[name] !== undefined)
    .map((name) => ` ${name}=${String(request.headers[name])}`)
    .join('');
  return `${request.method} ${target} body=${request.body.length}${extra}`;
}

function describeBody(response: WireResponse): string {
  const type = field(response.fields, 'content-type') ?? '';
  const boundary = /^multipart\/byteranges;\s*boundary=("?)([^";]+)\1/i.exec(type)?.[2];
  const text = boundary ? describeParts(response.body.toString('latin1'), boundary) : response.body.toString('latin1');
  return text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…(${text.length} bytes)` : text;
}

/** A multipart/byteranges body (RFC 9110 §14.6) as its parts, so that two boundaries compare equal. */
function describeParts(text: string, boundary: string): string {
  const parts = text.split(`--${boundary}`).slice(1, -1);
  return parts
    .map((part) => {
      const [head = '', body = ''] = part.replace(/^\r\n/, '').split('\r\n\r\n');
      const range = /content-range:\s*([^\r]+)/i.exec(head)?.[1] ?? '?';
      return `[${range}] ${body.replace(/\r\n$/, '')}`;
    })
    .join(' + ');
}

/**
 * A response the proxy made itself (an error page) is its own business beyond its status: the
 * origin marks all of its responses and never sends HTML, and what a 416 carries is free.
 */
function madeByProxy(response: WireResponse): boolean {
  return (
    field(response.fields, 'x-origin') === undefined ||
    response.status === 416 ||
    /^text\/html/.test(field(response.fields, 'content-type') ?? '')
  );
}

function describeEnd(result: WireExchange, expected: number): string {
  if (result.end.kind === 'malformed') return `malformed: ${result.end.reason}`;
  if (result.responses.length === expected) return 'complete';
  if (result.timedOut)
    return result.end.kind === 'partial' && result.end.received > 0 ? 'stalled mid-response' : 'timeout';
  return result.end.kind === 'partial' && (result.end.received > 0 || result.end.status) ? 'truncated' : 'closed';
}

function observe(observation: Observation, step: number, result: WireExchange, expected: number, base: string): void {
  // The case's own path prefix is left out of values, so that one row of the table can hold for
  // several cases.
  const set = (key: string, value: string) => observation.set(key, value.split(`${base}/`).join('/'));
  result.responses.forEach((response, index) => {
    const at = expected > 1 ? `${step}.${index + 1}` : `${step}`;
    set(`${at} status`, String(response.status));
    if (madeByProxy(response)) return void set(`${at} body`, PROXY_PAGE);
    set(`${at} body`, describeBody(response));
    set(`${at} x-cache`, field(response.fields, 'x-cache') ?? '');
    set(`${at} age`, field(response.fields, 'age') === undefined ? 'absent' : 'present');
    set(`${at} interim`, response.interim.join(','));
    for (const name of COMPARED) set(`${at} ${name}`, field(response.fields, name) ?? '');
    // The boundary of a multipart body is the server's choice (its parts are in the body).
    const type = observation.get(`${at} content-type`) ?? '';
    set(`${at} content-type`, type.replace(/boundary=.*/i, 'boundary=…'));
  });
  set(`${step} end`, describeEnd(result, expected));
}

export interface Proxies {
  origin: DifferentialOrigin;
  nginx: StartedNginx;
  cache: StartedCache;
}

/** The cache's options for a differential block, and nginx's origin timeout when it must differ. */
export type DifferentialOptions = Partial<CacheServerConfig> & {
  /**
   * nginx's proxy timeouts when not the cache's `originTimeout`: short where nginx waits for one
   * (an interim response it takes for the final one) while the cache, which answers at once, keeps
   * a timeout that a loaded machine cannot reach.
   */
  nginxOriginTimeout?: number;
};

/**
 * The origin, nginx and the cache for one describe block, with the same origin timeout (unless
 * `nginxOriginTimeout`). `run` plays a case through both proxies (nginx first, then the cache, the
 * origin's per-path state reset in between) and returns both observations.
 */
export function useDifferential(options: DifferentialOptions = {}): {
  run(c: Case): Promise<{ nginx: Observation; ours: Observation }>;
} {
  const { nginxOriginTimeout, ...extra } = options;
  const originTimeoutMs = extra.originTimeout ?? 1_000;
  const nginxTimeoutMs = nginxOriginTimeout ?? originTimeoutMs;
  const servers: Partial<Record<'up' | 'down', Proxies>> = {};
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  let deadUrl = '';

  async function start(kind: 'up' | 'down'): Promise<Proxies> {
    const existing = servers[kind];
    if (existing) return existing;
    const origin = await startDifferentialOrigin();
    if (kind === 'down') {
      // A port that was just listening and no longer is: connections are refused.
      deadUrl = origin.url;
      await origin.close();
    }
    const upstream = new URL(origin.url).host;
    const nginx = await startNginx({ upstream, originTimeoutMs: nginxTimeoutMs });
    const dir = await tempDir();
    dirs.push(dir);
    const cache = await startCache(kind === 'down' ? deadUrl : origin.url, dir.dir, {
      originTimeout: originTimeoutMs,
      ...extra,
    });
    servers[kind] = { origin, nginx, cache };
    return servers[kind];
  }

  beforeAll(() => start('up'));
  afterAll(async () => {
    for (const proxies of Object.values(servers)) {
      await proxies.cache.close();
      await proxies.nginx.close();
      await proxies.origin.close();
    }
    for (const dir of dirs) await dir.cleanup();
  });

  /**
   * Plays `c` through one proxy. `settle` waits for the proxy's background work for the case's
   * keys, and says whether it finished within the origin timeout (plus a second).
   */
  async function play(
    c: Case,
    proxies: Proxies,
    url: string,
    settle: (base: string) => Promise<boolean>,
  ): Promise<Observation> {
    const observation: Observation = new Map();
    const base = `/${c.id}`;
    proxies.origin.reset();
    const steps = c.steps(base);
    for (const [index, step] of steps.entries()) {
      if (step.delayMs) await new Promise((resolve) => setTimeout(resolve, step.delayMs));
      const before = proxies.origin.seen.length;
      const result = await exchange(url, step.requests, {
        pipeline: step.pipeline,
        waitMs: step.waitMs ?? Math.max(originTimeoutMs, nginxTimeoutMs) + 2_000,
      });
      observation.set(`${index + 1} settled`, (await settle(base)) ? 'yes' : 'no');
      observe(observation, index + 1, result, step.requests.length, base);
      const seen = proxies.origin.seen.slice(before).map((request) => describeSeen(request, base));
      observation.set(`${index + 1} origin`, seen.join(' ; '));
    }
    return observation;
  }

  return {
    async run(c) {
      const proxies = await start(c.origin ?? 'up');
      // nginx's single worker commits an entry in the same event as the response's last byte;
      // the cache stores asynchronously, so each step waits for the case's fetches to finish.
      const nginx = await play(c, proxies, proxies.nginx.url, async () => true);
      const ours = await play(c, proxies, proxies.cache.url, (base) => {
        const pending = () => [...proxies.cache.proxy.inFlight.keys()].some((key) => key.includes(`${base}/`));
        return waitFor(() => !pending(), 'the fetches', originTimeoutMs + 1_000).then(
          () => true,
          () => false,
        );
      });
      return { nginx, ours };
    },
  };
}

/** Every field where the two observations disagree. */
export function differences(caseId: string, nginx: Observation, ours: Observation): Difference[] {
  const keys = new Set([...nginx.keys(), ...ours.keys()]);
  const out: Difference[] = [];
  for (const key of keys) {
    const space = key.indexOf(' ');
    const at = key.slice(0, space);
    const name = key.slice(space + 1);
    // Of a response that one side did not get, or not from the origin, the status says it all
    // (and the body, when the other side's came from the origin).
    const body = (o: Observation) => o.get(`${at} body`);
    const fromOrigin = (o: Observation) => body(o) !== undefined && body(o) !== PROXY_PAGE;
    const always = name === 'status' || name === 'origin' || name === 'end' || name === 'settled';
    const bodies = name === 'body' && body(nginx) !== undefined && body(ours) !== undefined;
    if (!always && !bodies && !(fromOrigin(nginx) && fromOrigin(ours))) continue;
    // Two different responses (status or body) differ in their fields too: the table need not say so.
    const same = (suffix: string) => nginx.get(`${at} ${suffix}`) === ours.get(`${at} ${suffix}`);
    if (!always && !bodies && name !== 'x-cache' && !(same('status') && same('body'))) continue;
    const a = nginx.get(key) ?? '(no response)';
    const b = ours.get(key) ?? '(no response)';
    if (a === b) continue;
    out.push({ case: caseId, at, field: name, nginx: a, ours: b });
  }
  return out;
}

const list = (cell: string) => cell.split(',').map((item) => item.trim());
const cases = (row: Difference) => list(row.case);
const matches = (row: Difference, d: Difference) =>
  (row.case === '*' || cases(row).includes(d.case)) &&
  (row.at === '*' || list(row.at).includes(d.at)) &&
  row.field === d.field &&
  row.nginx === d.nginx &&
  row.ours === d.ours;

/**
 * Checks one case against the table: every difference must be a row (else the message shows the
 * row to add, with its reason, or the bug to fix). The rows it matched go into `used`.
 */
export function expectOnlyListedDifferences(
  caseId: string,
  nginx: Observation,
  ours: Observation,
  table: Difference[],
  used: Set<Difference>,
): void {
  const found = differences(caseId, nginx, ours);
  const unlisted: string[] = [];
  for (const d of found) {
    const rows = table.filter((row) => matches(row, d));
    if (rows.length === 0) unlisted.push(formatRow(d));
    for (const row of rows) used.add(row);
  }
  expect(unlisted).toEqual([]);
}

/**
 * Rows naming one of `caseIds` that no difference matched: the table is out of date (the
 * difference is gone, or its values changed). Rows for `*` apply to every file and are not checked.
 */
export function unusedRows(table: Difference[], caseIds: string[], used: Set<Difference>): string[] {
  return table
    .filter((row) => cases(row).some((c) => caseIds.includes(c)) && !used.has(row))
    .map((row) => formatRow(row));
}

/**
 * A describe block that plays every case through nginx and the cache and holds each to the table:
 * any difference not in it fails its case; a row of the table for these cases that no case
 * produced fails the block.
 */
export function describeDifferential(title: string, list: Case[], options: DifferentialOptions = {}): void {
  describe(title, () => {
    const proxies = useDifferential(options);
    const table = readTable();
    const used = new Set<Difference>();
    test.each(list)('$id', async (c) => {
      const { nginx, ours } = await proxies.run(c);
      expectOnlyListedDifferences(c.id, nginx, ours, table, used);
    });
    const ids = list.map((c) => c.id);
    afterAll(() => expect(unusedRows(table, ids, used)).toEqual([]));
  });
}
