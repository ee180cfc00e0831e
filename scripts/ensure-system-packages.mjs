#!/usr/bin/env node
// Installs the Debian packages the tests need (scripts/system-packages.mjs) when they are missing,
// so that the one test command works on a fresh Debian machine with only Node and npm. As root:
// `apt-get update` once, then one `apt-get install` of everything missing; a failure stops the
// test command. Not root: nothing is installed; a banner says which packages are missing and
// which test files will be skipped for it (the jest reporter repeats it at the end of the run).
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { isRoot, missingReason, missingSystemPackages, skippedBanner, skippedTestFiles } from './system-packages.mjs';

/**
 * Debian starts a packaged service (redis-server on :6379, nginx on :80) right after installing
 * it unless /usr/sbin/policy-rc.d forbids it; the tests start their own on free ports, and an
 * nginx that cannot bind :80 would fail the install. So while installing, when the machine has no
 * policy of its own, one that refuses every start (exit 101, as Docker's images do).
 */
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

function install(packages) {
  const names = packages.flatMap((pkg) => [pkg.name, ...(pkg.alsoInstall ?? [])]);
  console.log(`Installing the system packages the tests need (apt-get): ${names.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) writeFileSync(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
  } finally {
    if (ownPolicy) rmSync(POLICY_RC_D, { force: true });
  }
}

const missing = missingSystemPackages();
if (missing.length > 0) {
  if (isRoot()) {
    install(missing);
    const still = missingSystemPackages();
    if (still.length > 0) {
      console.error(
        `apt-get ran, but these are still missing:\n${still.map((pkg) => `  - ${missingReason(pkg)}`).join('\n')}`,
      );
      process.exit(1);
    }
  } else {
    const skipped = skippedTestFiles();
    const needed = new Set(skipped.flatMap((entry) => entry.missing.map((pkg) => pkg.name)));
    const unneeded = missing.filter((pkg) => !needed.has(pkg.name));
    if (skipped.length > 0) process.stderr.write(skippedBanner(skipped));
    if (unneeded.length > 0) {
      process.stderr.write(
        `Missing, not installed (not root), no test file needs it yet:\n${unneeded.map((pkg) => `  - ${missingReason(pkg)}`).join('\n')}\n`,
      );
    }
  }
}
