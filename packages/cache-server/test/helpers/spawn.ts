import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const PACKAGE_DIR = path.resolve(import.meta.dirname, '../..');

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves with the listening URL from Fastify's JSON log line. */
  listening(): Promise<string>;
}

/** Runs the real command-line entry (`src/cli.ts` through tsx), as `pnpm start` does. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: PACKAGE_DIR,
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
