import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatInt, renderTable } from '../lib/format.js';
import type { Lab } from '../lib/lab.js';
import { SERVER_CORE, runPinned } from '../lib/processes.js';
import type { Progress, ScenarioReport } from '../lib/report.js';
import { REPO_ROOT } from '../lib/servers.js';

/** The store's own micro-benchmarks, owned by the cache-server package. */
export const STORE_BENCH = path.join(REPO_ROOT, 'packages', 'cache-server', 'bench', 'store-bench.ts');

export function hasStoreBench(): boolean {
  return existsSync(STORE_BENCH);
}

interface Figure {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

/**
 * Runs store-bench.ts in its own process pinned to the server core, with the start-up entry
 * count of this run. `--no-cli`: the start-up scenario already times the real CLI.
 */
export async function runStore(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const entries = lab.options.entries;
  progress(`store: running store-bench.ts with ${formatInt(entries)} entries (takes minutes)`);
  const args = ['--import', 'tsx', STORE_BENCH, '--json', '--no-cli', '--entries', String(entries)];
  const result = await runPinned(SERVER_CORE, process.execPath, args);
  if (result.code !== 0) throw new Error(`store-bench.ts exited with ${result.code}:\n${result.stderr}`);
  const data = JSON.parse(result.stdout) as { figures?: Figure[] };
  const figures = data.figures ?? [];
  const table = renderTable(
    ['figure', 'value', 'note'],
    figures.map((f) => [f.name, `${f.value >= 100 ? formatInt(f.value) : f.value.toFixed(1)} ${f.unit}`, f.note ?? '']),
    [2],
  );
  return {
    title: 'Store micro-benchmarks (packages/cache-server/bench/store-bench.ts)',
    table,
    notes: ['In-process figures of the store alone (no HTTP), pinned to the server core.'],
    data,
  };
}
