import { LOAD_CORE, runPinned } from './processes.js';
import type { WrkResult } from './wrk.js';

export interface H2loadOptions {
  connections: number;
  /** Concurrent streams per connection (a browser opens tens on one connection). */
  streams: number;
  durationSec: number;
  headers?: readonly string[];
}

/**
 * One h2load run (HTTP/2 over TLS, ALPN h2) on the load generator's core, one thread; read into
 * wrk's shape. h2load reports min, max and mean time per request, no percentiles: the mean
 * stands for p50 and the max for p99.
 */
export async function runH2load(url: string, opts: H2loadOptions): Promise<WrkResult> {
  const args = ['-t', '1', '-c', String(opts.connections), '-m', String(opts.streams), '-D', String(opts.durationSec)];
  for (const header of opts.headers ?? []) args.push('-H', header);
  const result = await runPinned(LOAD_CORE, 'h2load', [...args, url]);
  if (result.code !== 0) throw new Error(`h2load ${url} failed (${result.code}): ${result.stderr || result.stdout}`);
  return parseH2loadOutput(result.stdout);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

export function parseH2loadOutput(text: string): WrkResult {
  const requestsPerSec = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(text)?.[1]);
  if (!Number.isFinite(requestsPerSec)) throw new Error(`cannot read h2load's output:\n${text}`);
  const counts = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(text);
  const status = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  const time = /time for request:\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(text);
  const ms = (value: string | undefined, unit: string | undefined) =>
    value === undefined ? undefined : Number(value) * (UNIT_MS[unit ?? 'ms'] ?? 1);
  return {
    requestsPerSec,
    p50Ms: ms(time?.[3], time?.[4]),
    p99Ms: ms(time?.[1], time?.[2]),
    requests: Number(counts?.[1] ?? 0),
    errors: [counts?.[2], counts?.[3], status?.[1], status?.[2]].reduce((sum, n) => sum + Number(n ?? 0), 0),
  };
}
