/**
 * The real command from its sources, `node --import tsx src/cli.ts …`, minus pnpm (`pnpm start`
 * runs it compiled: cache-server/test/compiled-start.test.ts). Node is spawned directly so that
 * signals reach the server itself rather than a wrapper process.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { HEADER } from '@simple-cache/common';
import { createTempRoot } from './helpers.js';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

let temp: Awaited<ReturnType<typeof createTempRoot>>;

beforeAll(async () => {
  temp = await createTempRoot({ 'hello.txt': 'hello from the cli' });
});

afterAll(async () => {
  await temp.remove();
});

function runCli(args: string[]): ChildProcess {
  // The options come from the arguments alone, whatever the developer's shell exports.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MAIN_')));
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: PACKAGE_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Reads JSON log lines from stdout until Fastify reports the address it listens on. */
async function waitForListening(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string };
    const match = /^Server listening at (http:\/\/\S+)$/.exec(entry.msg ?? '');
    if (match?.[1]) return match[1];
  }
  throw new Error('the server exited before listening');
}

async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = '';
  for await (const chunk of stream ?? []) text += String(chunk);
  return text;
}

test('serves the given root on port 0, logs JSON, and exits 0 on SIGTERM', async () => {
  const child = runCli(['0', '--root', temp.root, '--host', '127.0.0.1']);
  const exited = once(child, 'exit');
  try {
    const url = await waitForListening(child);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${url}/hello.txt`);
    expect(await response.text()).toBe('hello from the cli');
    expect(response.headers.get(HEADER.originRequestCount)).toBe('1');
    // A root other than the demo site is served as it is: no big.bin added.
    expect((await fetch(`${url}/big.bin`)).status).toBe(404);
  } finally {
    child.kill('SIGTERM');
  }
  const [code, signal] = await exited;
  expect(signal).toBeNull();
  expect(code).toBe(0);
});

test('--help prints every option and exits 0', async () => {
  const child = runCli(['--help']);
  const [stdout, [code]] = await Promise.all([collect(child.stdout), once(child, 'exit')]);
  expect(code).toBe(0);
  for (const text of ['--port', 'MAIN_PORT', '--host', 'MAIN_HOST', '--root', 'MAIN_ROOT']) {
    expect(stdout).toContain(text);
  }
  for (const text of ['--cache-control', 'MAIN_CACHE_CONTROL', '--log-level', 'MAIN_LOG_LEVEL']) {
    expect(stdout).toContain(text);
  }
});

test.each([
  ['an unknown flag', ['--colour', 'blue'], '--colour'],
  ['a bad port', ['--port', 'http'], '--port "http"'],
])('%s prints one line naming it and exits 2', async (_name, args, fragment) => {
  const child = runCli(args);
  const [stderr, [code]] = await Promise.all([collect(child.stderr), once(child, 'exit')]);
  expect(code).toBe(2);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).toContain(fragment);
});
