import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { tempDir } from './helpers/cache.js';
import { checkRun, type ConnectionResult, type Sent } from './helpers/fuzz-invariants.js';
import {
  PATHS,
  renderRequest,
  scenario,
  withoutOpenFindings,
  type Memory,
  type Scenario,
} from './helpers/fuzz-model.js';
import { startFuzzOrigin, type FuzzOrigin } from './helpers/fuzz-origin.js';
import { spawnCli, type Spawned } from './helpers/spawn.js';
import { exchange } from './helpers/wire-client.js';
import { field } from './helpers/wire.js';

/**
 * Property-based HTTP fuzzing over real sockets: fast-check generates request sequences (methods,
 * request directives, validators, ranges, cookies, credentials, Vary-relevant fields, bodies in
 * every framing, Expect, pipelining, parallel clients) and origin behaviours (statuses,
 * Cache-Control, Vary, validators, Set-Cookie, bodies in every framing, interim responses,
 * resets, short and long bodies, bad chunks, slow heads, an unrequested 101). The cache runs as
 * its own process (the command line), so "it stays up" means something; the invariants are in
 * helpers/fuzz-invariants.ts.
 *
 * FUZZ_SEED reproduces a run, FUZZ_RUNS and FUZZ_TIME (seconds) make a longer one: `pnpm fuzz`.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 0x0c0ffee);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const TIME_MS = Number(process.env.FUZZ_TIME ?? 25) * 1_000;
/** With FUZZ_SEED, replays exactly the (shrunk) counterexample a failure printed. */
const PATH = process.env.FUZZ_PATH;
const ORIGIN_TIMEOUT_MS = 800;

describe(`HTTP fuzzing: ${RUNS} generated scenarios (seed ${SEED}), the cache in its own process`, () => {
  let origin: FuzzOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: Spawned | undefined;
  let url = '';
  let runs = 0;
  /** How much of the cache's log earlier runs already checked. */
  let logChecked = 0;

  async function startCache(): Promise<void> {
    cache = spawnCli(
      [
        '0',
        '--host',
        '127.0.0.1',
        '--origin',
        origin.url,
        '--cache-dir',
        `${dir.dir}/${runs}`,
        '--origin-timeout',
        `${ORIGIN_TIMEOUT_MS}ms`,
        // The machine is shared: a late event loop must not turn into 503s the invariants forbid.
        '--max-event-loop-delay',
        '0',
      ],
      { CACHE_LOG_LEVEL: 'info' },
    );
    url = await cache.listening();
    logChecked = 0;
  }
  const alive = () => cache !== undefined && cache.child.exitCode === null && cache.child.signalCode === null;
  const log = () => (cache ? cache.stdout() + cache.stderr() : '');

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startFuzzOrigin(ORIGIN_TIMEOUT_MS);
    await startCache();
  }, 30_000);
  afterAll(async () => {
    if (alive()) {
      cache?.child.kill('SIGTERM');
      await cache?.exited;
    }
    await origin?.close();
    await dir?.cleanup();
  });

  /** Plays one scenario and returns every invariant it broke (with a transcript). */
  async function play(sc: Scenario): Promise<string[]> {
    if (!alive()) await startCache();
    const run = ++runs;
    const base = `/r${run}`;
    const replies = new Map(sc.replies.map((list, i) => [`${base}/p${i}`, list]));
    for (const [target, list] of replies) origin.program(target, list);
    const secretsOf = (client: number) => ({
      cookie: `ck-r${run}-c${client}-zq`,
      authorization: `tk-r${run}-c${client}-zq`,
    });
    const secrets = {
      cookie: (client: number) => secretsOf(client).cookie,
      authorization: (client: number) => secretsOf(client).authorization,
    };
    const memory: Memory = new Map();
    let next = 0;
    const playConnection = async (index: number): Promise<ConnectionResult> => {
      const connection = sc.connections[index] as Scenario['connections'][number];
      const sent: Sent[] = connection.requests.map((request) => ({
        request,
        reqId: `r${run}-q${++next}`,
        target: `${base}/p${request.path % PATHS}`,
      }));
      const wire = sent.map((s) => renderRequest(s.request, s.target, s.reqId, secrets, memory));
      const result = await exchange(url, wire, {
        pipeline: connection.pipeline,
        waitMs: sent.length * (ORIGIN_TIMEOUT_MS + 700) + 1_500,
      });
      result.responses.forEach((response, i) => {
        const etag = field(response.fields, 'etag');
        const s = sent[i] as Sent;
        if (etag) memory.set(`${s.request.client} ${s.target}`, etag);
      });
      return { sent, result };
    };
    const results: ConnectionResult[] = [];
    if (sc.parallel) results.push(...(await Promise.all(sc.connections.map((_c, i) => playConnection(i)))));
    else for (const i of sc.connections.keys()) results.push(await playConnection(i));

    const violations = checkRun({ records: origin.records, replies }, results, secretsOf);
    if (!alive()) {
      violations.push(
        `the cache exited (${cache?.child.exitCode ?? cache?.child.signalCode}): ${cache?.stderr().slice(-2_000)}`,
      );
    }
    const text = log().slice(logChecked);
    logChecked += text.length;
    if (violations.length === 0) return [];
    const logLines = text.split('\n').filter((line) => line.includes(`${base}/`) || /"level":[456]0/.test(line));
    return [...violations, '', 'transcript:', ...transcript(results), '', "the cache's log:", ...logLines.slice(0, 30)];
  }

  test(
    'every response well framed and from the right key; nothing private shared; the process stays up',
    async () => {
      const details = await fc.check(
        fc.asyncProperty(scenario.map(withoutOpenFindings), async (sc) => {
          const violations = await play(sc);
          if (violations.length > 0) throw new Error(violations.join('\n'));
        }),
        {
          seed: SEED,
          numRuns: RUNS,
          interruptAfterTimeLimit: TIME_MS,
          markInterruptAsFailure: false,
          ...(PATH ? { path: PATH } : {}),
        },
      );
      if (details.failed) {
        const message = [
          `fuzz failed: FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath} replays the counterexample below`,
          `after ${details.numRuns} runs and ${details.numShrinks} shrinks; the shrunk counterexample:`,
          fc.stringify(details.counterexample),
          '',
          details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
        ].join('\n');
        throw new Error(message);
      }
      // Bounded by time as well as count: at least a handful of scenarios must have run.
      expect(details.numRuns).toBeGreaterThanOrEqual(Math.min(RUNS, 10));
    },
    TIME_MS + 60_000,
  );
});

/** What each connection sent and got, short enough to read in a failure message. */
function transcript(results: ConnectionResult[]): string[] {
  return results.flatMap(({ sent, result }, c) => [
    `connection ${c + 1}:`,
    ...sent.map((s, i) => {
      const response = result.responses[i];
      const got = response
        ? `${response.status} X-Cache ${field(response.fields, 'x-cache') ?? '-'} X-Origin-Id ${field(response.fields, 'x-origin-id') ?? '-'} ${response.body.length} bytes`
        : '(no response)';
      return `  ${s.reqId} ${s.request.method} ${s.target} ${JSON.stringify(s.request)} → ${got}`;
    }),
    `  end: ${JSON.stringify(result.end)}${result.timedOut ? ' (timed out)' : ''}`,
  ]);
}
