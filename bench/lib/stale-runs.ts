import { access, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readStartTime } from './processes.js';

export const TEMP_PREFIX = 'simple-cache-bench-';
export const PID_LOG = 'servers.jsonl';
/** tmpfs on Debian: where Lab.memoryDir puts folders when it is there. */
export const SHM = '/dev/shm';

interface Record {
  harness?: number;
  pid?: number;
  start?: string;
}

/**
 * Removes what an earlier run left behind when it was killed outright: its servers (only the
 * exact processes it recorded: same pid and start time) and its temp folder. A run that is
 * still going is left alone.
 */
export async function sweepStaleRuns(): Promise<void> {
  const names = await readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    const text = await readFile(path.join(dir, PID_LOG), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const records = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record);
    const harness = records.find((r) => r.harness !== undefined);
    if (!harness?.harness || isAlive(harness.harness, harness.start)) continue;
    for (const record of records) {
      if (record.pid !== undefined && isAlive(record.pid, record.start)) {
        process.stderr.write(`· stopping server ${record.pid} left by an interrupted run\n`);
        process.kill(record.pid, 'SIGTERM');
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
  // Lab.memoryDir folders are named after their run's temp folder: gone with it, they go too.
  for (const name of (await readdir(SHM).catch(() => [] as string[])).filter((n) => n.startsWith(TEMP_PREFIX))) {
    if (!(await exists(path.join(os.tmpdir(), name)))) {
      await rm(path.join(SHM, name), { recursive: true, force: true });
    }
  }
}

function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number, start: string | undefined): boolean {
  return start !== undefined && readStartTime(pid) === start;
}
