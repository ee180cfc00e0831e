import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { RUN_COMPILED } from '../../../../scripts/build.mjs';

export const PACKAGE_DIR = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves with the listening URL from Fastify's JSON log line. */
  listening(): Promise<string>;
}

/**
 * Runs the command-line entry from its sources (`src/cli.ts` through tsx), so a test never runs a
 * stale build; `pnpm start` runs the same file compiled (see spawnCompiledCli).
 */
export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  return spawnNode(['--import', 'tsx', 'src/cli.ts', ...args], PACKAGE_DIR, env);
}

/**
 * Runs a package's compiled entry exactly as its `pnpm start` does (`node --conditions=… dist/cli.js`,
 * from the package folder). The caller builds first (scripts/build.mjs).
 */
export function spawnCompiledCli(
  pkg: 'cache-server' | 'main-server',
  args: string[],
  env: Record<string, string> = {},
): Spawned {
  return spawnNode([...RUN_COMPILED, ...args], path.resolve(PACKAGE_DIR, '..', pkg), env);
}

function spawnNode(nodeArgs: string[], cwd: string, env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, nodeArgs, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    listening: () =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (match) {
            child.stdout?.off('data', check);
            resolve(match[1] as string);
          }
        };
        child.stdout?.on('data', check);
        check();
        void exited.then((code) => reject(new Error(`exited with ${code} before listening: ${err}`)));
      }),
  };
}
