// The Debian packages the tests need, how to tell whether each is installed, and which test files
// need which. Read by scripts/ensure-system-packages.mjs (installs what is missing, as root),
// jest.config.js (leaves out the test files whose packages are missing) and
// scripts/jest-system-packages-reporter.mjs (says so at the end of the run).
//
// A test file declares what it needs with one line of its own, anywhere in the file:
//   // @system-packages redis-server redis-tools
// (the names are the Debian packages below). When one of them is missing, the whole file is
// skipped and the run ends with a banner naming the file, the package and why it is missing; it
// never fails or passes silently for that reason.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * name: the Debian package; binary: the program whose presence means it is installed;
 * alsoInstall: packages installed with it; neededBy: which tests use it (for the messages).
 */
export const SYSTEM_PACKAGES = [
  {
    name: 'chromium',
    binary: 'chromium',
    alsoInstall: ['fonts-dejavu-core'],
    neededBy: 'the browser tests (the demo site and the dashboard in headless Chromium)',
  },
  { name: 'redis-server', binary: 'redis-server', neededBy: 'the Redis store tests (a real redis-server per file)' },
  { name: 'redis-tools', binary: 'redis-cli', neededBy: 'the Redis cluster tests (redis-cli)' },
  { name: 'nginx-light', binary: 'nginx', neededBy: 'the differential tests against nginx proxy_cache' },
  { name: 'openssl', binary: 'openssl', neededBy: 'the TLS tests (certificates made at run time)' },
  { name: 'curl', binary: 'curl', neededBy: 'the tests that drive a real curl (request forms, framing)' },
];

const KNOWN = new Set(SYSTEM_PACKAGES.map((pkg) => pkg.name));
const MARKER = /^\/\/ @system-packages ([a-z0-9 -]+)$/m;
export const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * The directories searched for a package's program: PATH, then the sbin directories, which a
 * Debian user's PATH lacks although nginx lives there.
 */
function searchDirs() {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return [...dirs, '/usr/local/sbin', '/usr/sbin', '/sbin'];
}

/** The absolute path of `binary` (an executable file found like a shell would), or undefined. */
export function findExecutable(binary) {
  for (const dir of searchDirs()) {
    const candidate = path.join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The packages whose program is not installed. */
export function missingSystemPackages() {
  return SYSTEM_PACKAGES.filter((pkg) => findExecutable(pkg.binary) === undefined);
}

export function isRoot() {
  return process.getuid?.() === 0;
}

/** Why `pkg` is missing, for the banners. */
export function missingReason(pkg) {
  return `${pkg.binary} is not installed (Debian package ${pkg.name}), needed by ${pkg.neededBy}`;
}

function testFilesUnder(dir) {
  const files = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return files;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...testFilesUnder(full));
    else if (/\.test\.(ts|mjs)$/.test(entry.name)) files.push(full);
  }
  return files;
}

/** The packages a test file declares with its `// @system-packages …` line (none if it has none). */
export function declaredSystemPackages(file) {
  const match = MARKER.exec(readFileSync(file, 'utf8'));
  if (match === null) return [];
  const names = match[1].trim().split(/\s+/);
  for (const name of names) {
    if (!KNOWN.has(name))
      throw new Error(`${file}: @system-packages names ${name}, which scripts/system-packages.mjs does not know`);
  }
  return names;
}

/**
 * Every test file (under packages/*\/test and scripts/test) that needs a missing package, with the
 * missing ones: [{ file (absolute), missing: [package…] }]. Empty when everything is installed.
 */
export function skippedTestFiles() {
  const missing = new Map(missingSystemPackages().map((pkg) => [pkg.name, pkg]));
  if (missing.size === 0) return [];
  const skipped = [];
  const testDirs = [
    ...readdirSync(path.join(ROOT, 'packages')).map((name) => path.join(ROOT, 'packages', name, 'test')),
    path.join(ROOT, 'scripts', 'test'),
  ];
  for (const dir of testDirs) {
    for (const file of testFilesUnder(dir)) {
      const lacking = declaredSystemPackages(file).filter((pkg) => missing.has(pkg));
      if (lacking.length > 0) skipped.push({ file, missing: lacking.map((pkg) => missing.get(pkg)) });
    }
  }
  return skipped;
}

/** The banner listing what is missing and the test files left out because of it. */
export function skippedBanner(skipped) {
  const packages = [...new Map(skipped.flatMap((entry) => entry.missing).map((pkg) => [pkg.name, pkg])).values()];
  const rule = '='.repeat(100);
  const lines = [
    rule,
    `SKIPPED: ${skipped.length} test file(s) did not run because system packages are missing:`,
    ...packages.map((pkg) => `  - ${missingReason(pkg)}`),
    ...skipped.map(
      ({ file, missing }) =>
        `    skipped ${path.relative(ROOT, file)} (needs ${missing.map((pkg) => pkg.name).join(', ')})`,
    ),
    `Install them (sudo apt-get install ${packages.flatMap((pkg) => [pkg.name, ...(pkg.alsoInstall ?? [])]).join(' ')}),`,
    'or run the test command as root, which installs them.',
    rule,
  ];
  return `${lines.join('\n')}\n`;
}
