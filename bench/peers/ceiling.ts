import path from 'node:path';
import { HEAP_GROWING } from '../../scripts/build.mjs';
import { waitForAnswer } from '../lib/http.js';
import { findFreePort, spawnServer } from '../lib/processes.js';
import { REPO_ROOT, makeTarget, type Target } from '../lib/servers.js';

/**
 * Starts the bare node:http ceiling (pinned like the cache) answering `bodies` (path → size), with
 * the V8 flag the servers run with (scripts/build.mjs): a ceiling without it collected its old
 * generation several times as often as the cache (40,000 new connections: 7 mark-compacts
 * against 2, docs/benchmarks.md), so a ratio to it credited the flag to the cache.
 */
export async function startCeiling(bodies: Record<string, number>, logPath: string): Promise<Target> {
  const port = await findFreePort();
  const script = path.join(REPO_ROOT, 'bench', 'peers', 'ceiling-server.mjs');
  const args = [HEAP_GROWING, script, String(port), JSON.stringify(bodies)];
  const server = spawnServer('ceiling', process.execPath, args, { cwd: REPO_ROOT, logPath });
  const url = `http://127.0.0.1:${port}`;
  await waitForAnswer(`${url}/`, server);
  return makeTarget('ceiling', url, server);
}
