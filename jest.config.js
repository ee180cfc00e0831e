import preset from './jest.preset.js';
import { skippedTestFiles } from './scripts/system-packages.mjs';

/**
 * Test files that need a system package that is missing (their `// @system-packages` line) are
 * left out; the reporter below names them at the end of the run (scripts/system-packages.mjs).
 */
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const missingPackageFiles = skippedTestFiles().map(({ file }) => `^${escape(file)}$`);

/**
 * `pnpm test` runs the policy/ and store/ unit tests once, under coverage with thresholds
 * (jest.coverage.config.js), and sets SC_JEST_WITHOUT_UNITS=1 so that they are not run here too.
 * Run alone (`pnpm jest …`), every test is here as usual.
 */
const withoutUnits = process.env.SC_JEST_WITHOUT_UNITS === '1' ? ['/test/policy/', '/test/store/'] : [];

/** @type {import('jest').Config} */
export default {
  // Global options such as testTimeout are ignored inside `projects`: they must be set here.
  testTimeout: preset.testTimeout,
  // A test that fails half-way can leave a socket or a Redis client open, and jest then waits for
  // it for ever ("Jest did not exit one second after the test run"): seen in the merge train on
  // 2026-12-06, where it would have held CI until its 90-minute limit. The run must end with its
  // verdict; jest still prints "Force exiting Jest" so such a leak stays visible.
  forceExit: true,
  reporters: ['default', '<rootDir>/scripts/jest-system-packages-reporter.mjs'],
  projects: [
    ...['common', 'main-server', 'cache-server'].map((name) => ({
      ...preset,
      displayName: name,
      rootDir: new URL(`./packages/${name}`, import.meta.url).pathname,
      testPathIgnorePatterns: [
        '/node_modules/',
        ...missingPackageFiles,
        ...(name === 'cache-server' ? withoutUnits : []),
      ],
    })),
    // The repository's own scripts (plain ESM JavaScript, nothing to transform).
    {
      displayName: 'scripts',
      testEnvironment: 'node',
      rootDir: new URL('./scripts', import.meta.url).pathname,
      testMatch: ['<rootDir>/test/**/*.test.mjs'],
      testPathIgnorePatterns: ['/node_modules/', ...missingPackageFiles],
      transform: {},
    },
  ],
};
