#!/usr/bin/env node
// The browser test drives Debian's Chromium. Install it when missing (as root, with apt-get),
// so that the one test command works on a fresh machine of this kind.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    console.error(
      `${CHROMIUM} is missing: install Debian's chromium package (sudo apt-get install chromium) to run the browser test.`,
    );
    process.exit(1);
  }
  console.log('Installing chromium for the browser test (apt-get)…');
  execSync(
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null',
    {
      stdio: 'inherit',
      shell: '/bin/bash',
    },
  );
}
