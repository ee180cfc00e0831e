/**
 * The test command on a fresh machine (issue 12.12): scripts/ensure-system-packages.mjs installs the
 * Debian packages the tests need when it runs as root, and otherwise the test files that need a
 * missing package are skipped, with a banner naming them, the package and why, at the start and
 * at the end of the run. Run for real: the script and jest as child processes, with a PATH that
 * hides the packages' programs (and, when these tests run as root, as user nobody).
 */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { declaredSystemPackages, isRoot, ROOT, SYSTEM_PACKAGES } from '../system-packages.mjs';

const ENSURE = path.join(ROOT, 'scripts', 'ensure-system-packages.mjs');
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
/** Debian's programs, nginx (in /usr/sbin, which is always searched) excepted, are not on this PATH. */
const BARE_PATH = '/nonexistent';
const NOBODY = 65_534;

/** Runs node with `args` from the repository's root; resolves with { code, stdout, stderr }. */
function run(args, env, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { HOME: process.env.HOME, ...env },
      uid: options.uid,
      gid: options.uid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('scripts/ensure-system-packages.mjs', () => {
  test('not root, packages missing: installs nothing, exits 0, and names the skipped files, the packages and why', async () => {
    const ran = await run([ENSURE], { PATH: BARE_PATH }, { uid: isRoot() ? NOBODY : undefined });
    expect(ran.code).toBe(0);
    expect(ran.stdout).not.toMatch(/Installing/);
    expect(ran.stderr).toMatch(/^SKIPPED: \d+ test file\(s\) did not run because system packages are missing:$/m);
    expect(ran.stderr).toContain(
      'redis-server is not installed (Debian package redis-server), needed by the Redis store tests',
    );
    expect(ran.stderr).toContain('chromium is not installed (Debian package chromium)');
    expect(ran.stderr).toContain('skipped packages/cache-server/test/redis/multi-node.test.ts (needs redis-server)');
    expect(ran.stderr).toContain('skipped packages/cache-server/test/browser.test.ts (needs chromium)');
    expect(ran.stderr).toMatch(/sudo apt-get install .*redis-server/);
    // Named too whether or not a test file needs it yet.
    expect(ran.stderr).toContain('openssl is not installed (Debian package openssl)');
  });

  test('root: apt-get update once, then one install of exactly what is missing (a recording apt-get); not root: never apt-get', async () => {
    const dir = await tempDir();
    try {
      const bin = path.join(dir.dir, 'bin');
      await mkdir(bin);
      // Everything but redis-server and redis-tools' programs is "installed" already.
      const present = SYSTEM_PACKAGES.filter((pkg) => !['redis-server', 'redis-tools'].includes(pkg.name));
      for (const pkg of present) await writeExecutable(path.join(bin, pkg.binary), '#!/bin/sh\n');
      const log = path.join(dir.dir, 'apt-get.log');
      // The fake apt-get logs its arguments and, on install, "installs" the two programs.
      await writeExecutable(
        path.join(bin, 'apt-get'),
        `#!/bin/sh\necho "$@" >> ${log}\n` +
          `case "$1" in install) printf '#!/bin/sh\\n' > ${bin}/redis-server; printf '#!/bin/sh\\n' > ${bin}/redis-cli; /bin/chmod +x ${bin}/redis-server ${bin}/redis-cli;; esac\n`,
      );
      // /bin/sh for the fake programs, found through an absolute path, not PATH.
      const ran = await run([ENSURE], { PATH: bin });
      if (isRoot()) {
        expect(ran.code).toBe(0);
        const calls = (await readFile(log, 'utf8')).trim().split('\n');
        expect(calls).toEqual(['update -qq', 'install -y -qq --no-install-recommends redis-server redis-tools']);
        expect(ran.stdout).toContain(
          'Installing the system packages the tests need (apt-get): redis-server redis-tools',
        );
      } else {
        await expect(readFile(log, 'utf8')).rejects.toThrow(/ENOENT/);
        expect(ran.stderr).toContain(
          'skipped packages/cache-server/test/redis/multi-node.test.ts (needs redis-server)',
        );
      }
    } finally {
      await dir.cleanup();
    }
  });

  test('root, and apt-get leaves the package missing: the test command stops (exit 1) naming it', async () => {
    const dir = await tempDir();
    try {
      const bin = path.join(dir.dir, 'bin');
      await mkdir(bin);
      for (const pkg of SYSTEM_PACKAGES)
        if (pkg.name !== 'openssl') await writeExecutable(path.join(bin, pkg.binary), '#!/bin/sh\n');
      await writeExecutable(path.join(bin, 'apt-get'), '#!/bin/sh\nexit 0\n');
      const ran = await run([ENSURE], { PATH: bin });
      if (isRoot()) {
        expect(ran.code).toBe(1);
        expect(ran.stderr).toContain(
          'apt-get ran, but these are still missing:\n  - openssl is not installed (Debian package openssl)',
        );
      } else {
        expect(ran.code).toBe(0);
      }
    } finally {
      await dir.cleanup();
    }
  });
});

test('a jest run leaves out the files whose package is missing, runs the rest, and ends with the banner', async () => {
  const ran = await run(
    [
      '--experimental-vm-modules',
      JEST,
      '--selectProjects',
      'cache-server',
      '--testPathPatterns',
      'test/redis/redis-(url|store-lifetime)\\.test',
    ],
    { PATH: BARE_PATH },
  );
  expect(ran.code).toBe(0);
  // redis-url needs no Redis and runs; redis-store-lifetime needs redis-server and is left out.
  expect(ran.stderr).toMatch(/PASS .*test\/redis\/redis-url\.test\.ts/);
  expect(ran.stderr).not.toMatch(/(PASS|FAIL) .*redis-store-lifetime/);
  const banner = ran.stderr.slice(ran.stderr.lastIndexOf('SKIPPED:'));
  expect(banner).toContain('redis-server is not installed (Debian package redis-server)');
  expect(banner).toContain(
    'skipped packages/cache-server/test/redis/redis-store-lifetime.test.ts (needs redis-server)',
  );
}, 120_000);

test('every test file that starts redis-server, Chromium or nginx, or runs curl, declares the package it needs', async () => {
  const needs = [
    [/\b(useRedis|startRedisServer)\(/, 'redis-server'],
    [/\blaunchChromium\(/, 'chromium'],
    [/\bstartNginx\(|helpers\/nginx-differential\.js/, 'nginx-light'],
    [/\brunCurl\(|\brun\('curl'/, 'curl'],
  ];
  const files = [];
  for (const pkg of await readdir(path.join(ROOT, 'packages'))) {
    const testDir = path.join(ROOT, 'packages', pkg, 'test');
    const found = await readdir(testDir, { recursive: true }).catch(() => []);
    files.push(...found.filter((file) => file.endsWith('.test.ts')).map((file) => path.join(testDir, file)));
  }
  const scriptTests = await readdir(path.join(ROOT, 'scripts', 'test'));
  files.push(
    ...scriptTests.filter((file) => file.endsWith('.test.mjs')).map((file) => path.join(ROOT, 'scripts', 'test', file)),
  );
  const undeclared = [];
  for (const full of files) {
    const file = path.relative(ROOT, full);
    const source = await readFile(full, 'utf8');
    for (const [use, pkg] of needs) {
      if (use.test(source) && !declaredSystemPackages(full).includes(pkg)) undeclared.push(`${file} needs ${pkg}`);
    }
  }
  expect(undeclared).toEqual([]);
});

async function tempDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'system-packages-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function writeExecutable(file, text) {
  await writeFile(file, text);
  await chmod(file, 0o755);
}
