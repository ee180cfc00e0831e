import { LOAD_CORE, runPinned, type Core } from './processes.js';

export interface WrkResult {
  requestsPerSec: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  requests: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx answers. */
  errors: number;
}

export interface WrkOptions {
  connections: number;
  durationSec: number;
  headers?: readonly string[];
  /** A wrk Lua script (`-s`), e.g. to ask for a new URL per request. */
  script?: string;
  /** Where wrk runs: the load generator's core unless told otherwise. */
  core?: Core;
}

/** One wrk run on the load generator's core: one thread (it has one core), --latency for p99. */
export async function runWrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.durationSec}s`, '--latency', '--timeout', '10s'];
  for (const header of opts.headers ?? []) args.push('-H', header);
  if (opts.script !== undefined) args.push('-s', opts.script);
  const result = await runPinned(opts.core ?? LOAD_CORE, 'wrk', [...args, url]);
  if (result.code !== 0) throw new Error(`wrk ${url} failed (${result.code}): ${result.stderr || result.stdout}`);
  return parseWrkOutput(result.stdout);
}

export function parseWrkOutput(text: string): WrkResult {
  const requestsPerSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  if (!Number.isFinite(requestsPerSec)) throw new Error(`cannot read wrk's output:\n${text}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const badStatus = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    requestsPerSec,
    p50Ms: readPercentile(text, '50'),
    p99Ms: readPercentile(text, '99'),
    requests: Number(/(\d+) requests in/.exec(text)?.[1] ?? 0),
    errors: socketErrors + badStatus,
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function readPercentile(text: string, percent: string): number | undefined {
  const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  return match ? Number(match[1]) * (UNIT_MS[match[2] as string] as number) : undefined;
}

/** The median run by req/s, carrying the median p99 of all runs (a single slow round skews neither). */
export function medianRun(runs: readonly WrkResult[]): WrkResult {
  if (runs.length === 0) throw new Error('no measured run');
  const byRate = [...runs].sort((a, b) => a.requestsPerSec - b.requestsPerSec);
  const p99s = runs
    .map((run) => run.p99Ms)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  const middle = byRate[Math.floor(byRate.length / 2)] as WrkResult;
  return { ...middle, p99Ms: p99s[Math.floor(p99s.length / 2)] };
}

/**
 * Runs every way once per round, in an order that rotates each round (the machine drifts over a
 * run; taking turns spreads the drift over all of them), and returns each way's rounds.
 */
export async function measureInTurns<T extends { id: string }>(
  ways: readonly T[],
  rounds: number,
  run: (way: T) => Promise<WrkResult>,
): Promise<Map<string, WrkResult[]>> {
  const runs = new Map<string, WrkResult[]>(ways.map((way) => [way.id, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < ways.length; i++) {
      const way = ways[(i + round) % ways.length] as T;
      runs.get(way.id)?.push(await run(way));
    }
  }
  return runs;
}
