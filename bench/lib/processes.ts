import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { isStopping, onCleanup } from './cleanup.js';

/**
 * Pinning: the server under test gets core 0, the load generator (wrk, curl, and this process)
 * core 1, so that client and server do not compete for one core. On a single-core machine both
 * share core 0 and the figures say so.
 */
export const SERVER_CORE = 0;
export const LOAD_CORE = os.availableParallelism() > 1 ? 1 : 0;

const HAS_TASKSET = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

export function pinningNote(): string {
  if (!HAS_TASKSET) return 'not pinned (taskset missing: install util-linux)';
  return `servers on core ${SERVER_CORE}, load generator on core ${LOAD_CORE}`;
}

/** Moves this process (every thread) onto the load generator's core. */
export function pinSelf(): void {
  if (HAS_TASKSET)
    spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' });
}

/** A core to pin to, or 'any': left to the scheduler on every core (the workers scenario). */
export type Core = number | 'any';

function pinned(core: Core, command: string, args: readonly string[]): [string, string[]] {
  // taskset execs the command, so the child's pid is the server's own pid.
  if (core === 'any' || !HAS_TASKSET) return [command, [...args]];
  return ['taskset', ['-c', String(core), command, ...args]];
}

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses),
 * so index 0 is field 3 (state) of proc(5); undefined when the process is gone.
 */
function readStatFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Start time of a process (clock ticks since boot): with the pid, it names one process for good. */
export function readStartTime(pid: number): string | undefined {
  return readStatFields(pid)?.[19];
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU time (user + system, every thread) the processes have used so far, in ms; undefined without /proc. */
export function readCpuMs(pids: readonly number[]): number | undefined {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readStatFields(pid);
    if (fields === undefined) return undefined;
    // utime and stime: fields 14 and 15.
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** How long waitForIdle() watches a server's CPU time, and how long it waits at most. */
const IDLE_PROBE_MS = 50;
const IDLE_WAIT_MAX_MS = 5_000;

/**
 * Resolves once the processes use no more than one clock tick of CPU over IDLE_PROBE_MS (or
 * after IDLE_WAIT_MAX_MS). A wrk run ends with up to one request per connection still on its way,
 * and with `Connection: close` the server accepts and answers the connections wrk left in its
 * listen queue after wrk has gone: that tail must not fall into the next target's turn (it ran
 * on the same core, and the origin's tail read as "requests that reached the origin" during the
 * cache's turn: docs/benchmarks.md).
 */
export async function waitForIdle(pids: readonly number[]): Promise<void> {
  const tickMs = 1000 / CLOCK_TICKS_PER_SECOND;
  const deadline = performance.now() + IDLE_WAIT_MAX_MS;
  let last = readCpuMs(pids);
  while (last !== undefined && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, IDLE_PROBE_MS));
    const now = readCpuMs(pids);
    if (now === undefined || now - last <= tickMs) return;
    last = now;
  }
}

let pidLog: string | undefined;

/**
 * Every server started from now on is also listed in `file` (pid and start time), so that the
 * next run can stop them if this one is killed outright (SIGKILL leaves no chance to clean up).
 */
export function logServersTo(file: string): void {
  pidLog = file;
  appendFileSync(file, `${JSON.stringify({ harness: process.pid, start: readStartTime(process.pid) })}\n`);
}

export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null after a signal). */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** The last lines the process wrote (stdout and stderr go to one log file). */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  cwd: string;
  logPath: string;
  env?: NodeJS.ProcessEnv;
  core?: Core;
}

/** Starts a long-running server pinned to a core, logging to a file; stopped at cleanup. */
export function spawnServer(name: string, command: string, args: readonly string[], opts: SpawnOptions): Server {
  if (isStopping()) throw new Error(`not starting ${name}: the benchmark is stopping`);
  const log = openSync(opts.logPath, 'a');
  const [file, argv] = pinned(opts.core ?? SERVER_CORE, command, args);
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  if (pidLog && child.pid !== undefined) {
    appendFileSync(pidLog, `${JSON.stringify({ pid: child.pid, start: readStartTime(child.pid) })}\n`);
  }
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
    child.once('error', () => {
      exitCode = -1;
      resolve(-1);
    });
  });
  const stop = async () => {
    unregister();
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const unregister = onCleanup(stop);
  void exited.then(unregister);
  return {
    name,
    pid: child.pid ?? -1,
    child,
    exited,
    hasExited: () => exitCode !== undefined,
    logTail: async (lines = 20) => {
      const text = await readFile(opts.logPath, 'utf8').catch(() => '');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    },
    stop,
  };
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a short command (wrk, curl) to completion on a core; killed at cleanup if interrupted. */
export function runPinned(core: Core, command: string, args: readonly string[]): Promise<CommandResult> {
  const [file, argv] = pinned(core, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const unregister = onCleanup(() => {
      child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => {
      unregister();
      reject(error);
    });
    child.once('close', (code) => {
      unregister();
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port that was free a moment ago (for servers that cannot report the one they picked). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size in KiB, or undefined once the process is gone. */
export function readRssKiB(pid: number): number | undefined {
  return readStatusField(pid, 'VmRSS');
}

function readStatusField(pid: number, field: string): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Children of `pid` (nginx's workers), from /proc. */
export function listChildPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    // Field 4 is the parent pid; a process that ended while we looked has none.
    if (Number(readStatFields(name)?.[1]) === pid) children.push(Number(name));
  }
  return children;
}

export interface RssSampler {
  /** Stops sampling; returns the peak growth over the baseline, in KiB (summed over the pids). */
  stop(): number;
}

/**
 * Samples VmRSS of `pids` every few milliseconds. Where the kernel lets us reset the peak
 * (`clear_refs` 5), VmHWM catches spikes shorter than the sampling interval too.
 */
export function sampleRss(pids: readonly number[], intervalMs = 5): RssSampler {
  const baseline = new Map(pids.map((pid) => [pid, readRssKiB(pid) ?? 0]));
  const canResetPeak = pids.every((pid) => {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  });
  let peak = 0;
  const sample = () => {
    let growth = 0;
    for (const pid of pids) growth += (readRssKiB(pid) ?? 0) - (baseline.get(pid) ?? 0);
    peak = Math.max(peak, growth);
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      if (canResetPeak) {
        let growth = 0;
        for (const pid of pids) growth += (readStatusField(pid, 'VmHWM') ?? 0) - (baseline.get(pid) ?? 0);
        peak = Math.max(peak, growth);
      }
      return Math.max(0, peak);
    },
  };
}
