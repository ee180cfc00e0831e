import path from 'node:path';
import { waitForAnswer } from '../lib/http.js';
import { findFreePort, spawnServer } from '../lib/processes.js';
import { REPO_ROOT, makeTarget, type Target } from '../lib/servers.js';

/** Starts the bare node:http ceiling (pinned like the cache) answering `bodies` (path → size). */
export async function startCeiling(bodies: Record<string, number>, logPath: string): Promise<Target> {
  const port = await findFreePort();
  const script = path.join(REPO_ROOT, 'bench', 'peers', 'ceiling-server.mjs');
  const server = spawnServer('ceiling', process.execPath, [script, String(port), JSON.stringify(bodies)], {
    cwd: REPO_ROOT,
    logPath,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForAnswer(`${url}/`, server);
  return makeTarget('ceiling', url, server);
}
