import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RedisServer {
  port: number;
  url: string;
  /** The running process (undefined while stopped). */
  readonly process: ChildProcess | undefined;
  /** Stops it (SIGTERM, or `signal`) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered — a hung server. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Starts it again on the same port (an empty database: nothing is saved). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * A real `redis-server` (Debian package `redis-server`; the test command installs it when
 * missing and root, see scripts/ensure-system-packages.mjs) on a free
 * loopback port, in a temp directory, saving nothing (`--save ''`, no AOF). Extra `args` are
 * passed through, e.g. ['--maxmemory', '10mb'].
 */
export async function startRedisServer(args: string[] = [], port?: number): Promise<RedisServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'simple-cache-redis-'));
  port ??= await findFreePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    child = await spawnRedis(port, dir, args);
  };
  let paused = false;
  const signal = (name: NodeJS.Signals) => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
  };
  const stop = async (name: NodeJS.Signals = 'SIGTERM') => {
    // A stopped process would keep the signal pending: it must run to act on it.
    if (paused) signal('SIGCONT');
    paused = false;
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill(name);
    await exited;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process() {
      return child;
    },
    stop,
    pause: () => {
      paused = true;
      signal('SIGSTOP');
    },
    resume: () => {
      paused = false;
      signal('SIGCONT');
    },
    restart: async () => {
      await stop();
      await launch();
    },
    cleanup: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function spawnRedis(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      '',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new Error('redis-server is not installed: apt-get install redis-server (the test command does it as root)')
          : err,
      );
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
  });
}

/**
 * A free port picked at random below the ephemeral range, not by the kernel's port 0: a test
 * that stops and restarts its server leaves the port free meanwhile, and the kernel would hand
 * that recently used port to another test worker's server (the client would then reconnect to
 * the wrong Redis).
 */
export async function findFreePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await isFree(port)) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
