/**
 * `pnpm bench [--peers] [--redis] [--scenarios a,b] [--duration 5s] [--large-size 1GiB]`: starts the
 * origin, the cache, a bare node:http ceiling (and nginx with --peers) on loopback, pinned to
 * one core with the load generator on the other, and prints one table per scenario. Results
 * are also written to bench-results/<timestamp>.json. See the README's "Benchmark" section.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanUpOnSignals, isStopping, onCleanup, runCleanup } from './lib/cleanup.js';
import { Lab } from './lib/lab.js';
import { describeMachine, renderMachine } from './lib/machine.js';
import { USAGE, parseBenchOptions, type BenchOptions, type ScenarioName } from './lib/options.js';
import { logServersTo, pinSelf } from './lib/processes.js';
import { PID_LOG, TEMP_PREFIX, sweepStaleRuns } from './lib/stale-runs.js';
import { renderReport, type ScenarioReport, type ScenarioTable } from './lib/report.js';
import { REPO_ROOT } from './lib/servers.js';
import { ensureCommand, readVersion } from './lib/tools.js';
import { ensureNginx } from './peers/nginx.js';
import { runAccessLog } from './scenarios/access-log.js';
import { runCollapsed } from './scenarios/collapsed.js';
import { runCompression } from './scenarios/compression.js';
import { runHits } from './scenarios/hits.js';
import { runHttp2 } from './scenarios/http2.js';
import { runLarge } from './scenarios/large.js';
import { runStartup } from './scenarios/startup.js';
import { runWorkers } from './scenarios/workers.js';
import { runRedis } from './scenarios/redis.js';
import { runMisses } from './scenarios/misses.js';
import { runRules } from './scenarios/rules.js';
import { hasStoreBench, runStore } from './scenarios/store.js';

const RUNNERS: ScenarioTable = {
  hits: runHits,
  http2: runHttp2,
  compression: runCompression,
  rules: runRules,
  workers: runWorkers,
  misses: runMisses,
  'access-log': runAccessLog,
  collapsed: runCollapsed,
  large: runLarge,
  startup: runStartup,
  store: runStore,
  redis: runRedis,
};

/** Tools the scenarios need: [command, Debian package] pairs. */
const NEEDS: Partial<Record<ScenarioName, [string, string][]>> = {
  hits: [['wrk', 'wrk']],
  http2: [
    ['wrk', 'wrk'],
    ['h2load', 'nghttp2-client'],
  ],
  compression: [['wrk', 'wrk']],
  rules: [['wrk', 'wrk']],
  workers: [['wrk', 'wrk']],
  misses: [['wrk', 'wrk']],
  'access-log': [['wrk', 'wrk']],
  large: [['curl', 'curl']],
  redis: [['wrk', 'wrk']],
};

function progress(message: string): void {
  process.stderr.write(`· ${message}\n`);
}

async function main(options: BenchOptions): Promise<number> {
  const tools: Record<string, string> = {};
  for (const name of options.scenarios) {
    for (const need of NEEDS[name] ?? []) {
      const found = ensureCommand(...need);
      if (!found.ok) throw new Error(found.reason);
    }
  }
  const needed = options.scenarios.flatMap((name) => NEEDS[name] ?? []).map(([command]) => command);
  if (needed.includes('wrk')) tools.wrk = readVersion('wrk', ['-v'], /wrk \S+/) ?? 'wrk';
  if (needed.includes('h2load')) tools.h2load = readVersion('h2load', ['--version'], /nghttp2\/\S+/) ?? 'h2load';
  let nginxVersion: string | undefined;
  const notes: string[] = [];
  if (options.peers) {
    const nginx = ensureNginx();
    if (nginx.ok) nginxVersion = tools.nginx = nginx.version;
    else notes.push(`--peers: nginx left out: ${nginx.reason}`);
  }

  await sweepStaleRuns();
  const tmp = await mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
  if (options.keepTemp) {
    progress(`temp folder (kept): ${tmp}`);
    // Runs after every server has stopped: without the list, the next run's sweep keeps the folder.
    onCleanup(() => rm(path.join(tmp, PID_LOG), { force: true }));
  } else {
    onCleanup(() => rm(tmp, { recursive: true, force: true }));
  }
  await mkdir(path.join(tmp, 'logs'));
  logServersTo(path.join(tmp, PID_LOG));

  const machine = describeMachine(tools);
  const startedAt = new Date();
  const header = `# simple-cache benchmark, ${startedAt.toISOString()}\n\n${renderMachine(machine)}\n`;
  process.stdout.write(`${header}\n`);
  for (const note of notes) process.stdout.write(`${note}\n`);

  const lab = new Lab(options, tmp, nginxVersion);
  const reports: Partial<Record<ScenarioName, ScenarioReport | { error: string }>> = {};
  let failed = false;
  for (const name of options.scenarios) {
    if (isStopping()) break;
    if (name === 'store' && !hasStoreBench()) {
      progress('store: packages/cache-server/bench/store-bench.ts is not in this checkout, skipped');
      continue;
    }
    const begin = performance.now();
    try {
      const report = await RUNNERS[name](lab, progress);
      reports[name] = report;
      process.stdout.write(`${renderReport(report)}\n`);
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      reports[name] = { error: message };
      process.stdout.write(`## ${name}: FAILED\n\n${message}\n\n`);
    }
    progress(`${name} took ${((performance.now() - begin) / 1000).toFixed(1)} s`);
  }

  const finishedAt = new Date();
  const loadAverageAtEnd = os.loadavg().map((n) => Number(n.toFixed(2)));
  process.stdout.write(
    `load average at end ${loadAverageAtEnd.join(' ')}; total ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s\n`,
  );
  const resultsDir = path.join(REPO_ROOT, 'bench-results');
  await mkdir(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = { startedAt, finishedAt, machine: { ...machine, loadAverageAtEnd }, options, notes, scenarios: reports };
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`);
  return failed ? 1 : 0;
}

let options: BenchOptions;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
} else {
  cleanUpOnSignals();
  pinSelf();
  main(options)
    .then(
      (code) => (process.exitCode = code),
      (error: unknown) => {
        process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
      },
    )
    // Exit once everything is stopped, without waiting for idle keep-alive sockets to time out.
    .finally(() => runCleanup().then(() => process.exit()));
}
