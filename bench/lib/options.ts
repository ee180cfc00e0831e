import { parseArgs } from 'node:util';
import { parseDuration, parseSize } from '../../packages/common/src/cli-options.js';

export const SCENARIOS = [
  'hits',
  'http2',
  'compression',
  'rules',
  'workers',
  'misses',
  'access-log',
  'collapsed',
  'large',
  'startup',
  'store',
  'redis',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The hits scenario's tests: keep-alive at each body size, and 1 KiB with a new connection per request. */
export const HIT_TESTS = ['1k', '16k', '256k', 'close'] as const;
export type HitTestId = (typeof HIT_TESTS)[number];
/**
 * `store` (the store's micro-benchmarks) takes minutes: only when asked for by name. `redis`
 * (hits through the Redis store) needs redis-server: with --redis or by name.
 */
const DEFAULT_SCENARIOS: readonly ScenarioName[] = SCENARIOS.filter((name) => name !== 'store' && name !== 'redis');

export interface BenchOptions {
  /** Seconds of each measured wrk run. */
  durationSec: number;
  /** Seconds of the wrk warm-up before each measured run. */
  warmupSec: number;
  /** Measured runs per hit test and target, taken in turns; the median is reported. */
  rounds: number;
  scenarios: ScenarioName[];
  /** Which tests the hits scenario runs (all by default). */
  hitTests: HitTestId[];
  /** Also measure nginx proxy_cache in front of the same origin. */
  peers: boolean;
  /** Also run the Redis scenario (hit throughput through the Redis store against the disk store). */
  redis: boolean;
  /** Bytes of the large-file scenario's body. */
  largeSize: number;
  /** Stored entries generated for the start-up scenario. */
  entries: number;
  /** wrk keep-alive connections. */
  connections: number;
  /** The cache's and the origin's pino level while measured (request logging costs throughput). */
  logLevel: string;
  /** Keep the temp folder (logs, generated files) for inspection. */
  keepTemp: boolean;
  help: boolean;
}

export const USAGE = `pnpm bench [options]

  --duration <d>        length of each measured wrk run (default 2s; e.g. 10s, 1m)
  --warmup <d>          wrk warm-up before a target's first measured run (default 1s)
  --rounds <n>          hits, http2, compression, rules, workers, access-log: measured runs per target, in turns; median (default 3)
  --scenarios <a,b>     which to run: ${SCENARIOS.join(', ')}
                        (default: all but store, which takes minutes)
  --hit-tests <a,b>     which tests the hits scenario runs: ${HIT_TESTS.join(', ')} (default: all;
                        close = 1 KiB with a new connection per request)
  --peers               also start nginx proxy_cache (installed with apt-get when missing and root)
  --redis               also run the redis scenario: hits through the Redis store against the disk
                        store (redis-server installed with apt-get when missing and root)
  --large-size <size>   body of the large-file scenario (default 256MiB; the full run uses 1GiB)
  --entries <n>         stored entries for the start-up scenario (default 100000)
  --connections <n>     wrk keep-alive connections (default 64)
  --log-level <level>   pino level of the cache and the origin while measured (default warn)
  --keep-temp           keep the temp folder (server logs, generated files)
  --help                this text`;

/** argv (without node and script) → options; throws Error with a message naming the bad flag. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string', default: '2s' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1s' },
      scenarios: { type: 'string' },
      'hit-tests': { type: 'string' },
      peers: { type: 'boolean', default: false },
      redis: { type: 'boolean', default: false },
      'large-size': { type: 'string', default: '256MiB' },
      entries: { type: 'string', default: '100000' },
      connections: { type: 'string', default: '64' },
      'log-level': { type: 'string', default: 'warn' },
      'keep-temp': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  return {
    durationSec: parseFlag('--duration', values.duration, (t) => parseDuration(t) / 1000, 1),
    warmupSec: parseFlag('--warmup', values.warmup, (t) => parseDuration(t) / 1000, 0),
    rounds: parseFlag('--rounds', values.rounds, parseInteger, 1),
    scenarios: withRedis(
      parseNames('--scenarios', 'scenario', values.scenarios, SCENARIOS, DEFAULT_SCENARIOS),
      values.redis,
    ),
    hitTests: parseNames('--hit-tests', 'test', values['hit-tests'], HIT_TESTS, HIT_TESTS),
    peers: values.peers,
    redis: values.redis,
    largeSize: parseFlag('--large-size', values['large-size'], parseSize, 1),
    entries: parseFlag('--entries', values.entries, parseInteger, 1),
    connections: parseFlag('--connections', values.connections, parseInteger, 1),
    logLevel: values['log-level'],
    keepTemp: values['keep-temp'],
    help: values.help,
  };
}

function parseFlag(flag: string, text: string, parse: (text: string) => number, min: number): number {
  let value: number;
  try {
    value = parse(text);
  } catch {
    throw new Error(`${flag}: cannot read "${text}"`);
  }
  if (!(value >= min)) throw new Error(`${flag}: must be at least ${min}, got "${text}"`);
  return value;
}

function parseInteger(text: string): number {
  if (!/^\d+$/.test(text)) throw new Error('not an integer');
  return Number(text);
}

function withRedis(scenarios: ScenarioName[], redis: boolean): ScenarioName[] {
  return redis && !scenarios.includes('redis') ? [...scenarios, 'redis'] : scenarios;
}

/**
 * A comma-separated list of names out of `known`, in `known`'s order; `fallback` when the flag is
 * absent; an unknown name fails naming the flag (`what`: what a name is, for the message).
 */
function parseNames<Name extends string>(
  flag: string,
  what: string,
  text: string | undefined,
  known: readonly Name[],
  fallback: readonly Name[],
): Name[] {
  if (text === undefined) return [...fallback];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(known as readonly string[]).includes(name)) {
      throw new Error(`${flag}: unknown ${what} "${name}" (known: ${known.join(', ')})`);
    }
  }
  return known.filter((name) => names.includes(name));
}
