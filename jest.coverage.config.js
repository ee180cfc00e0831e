import preset from './jest.preset.js';

/**
 * The unit tests of policy/ and store/ under coverage, with the thresholds issue 17 asks for
 * (STYLE.md: "a coverage threshold on policy/ and store/ close to 100% lines"). `pnpm test` runs
 * them here, once, and everything else through jest.config.js without them
 * (SC_JEST_WITHOUT_UNITS=1). Coverage over the whole suite would instrument the files every
 * integration test runs through: about 25 % more CPU for the suite on a 2-core machine; these
 * tests alone cost nothing measurable more with it. The Redis store (store/redis/) is left out:
 * its tests need a redis-server and live with the integration tests (test/redis/).
 *
 * The figures when the thresholds were set (issue 17, 2026-12-06): policy/ lines 99.3 %,
 * statements 98.7 %, branches 96.8 %, functions 99.0 %; store/ (without redis/) lines 92.7 %,
 * statements 89.0 %, branches 83.5 %, functions 84.0 %. Raise them as tests are added.
 */
const cacheServer = new URL('./packages/cache-server', import.meta.url).pathname;

/** @type {import('jest').Config} */
export default {
  testTimeout: preset.testTimeout,
  projects: [
    {
      ...preset,
      displayName: 'cache-server (policy/ and store/ units, coverage)',
      rootDir: cacheServer,
      testMatch: ['<rootDir>/test/policy/**/*.test.ts', '<rootDir>/test/store/**/*.test.ts'],
    },
  ],
  collectCoverage: true,
  collectCoverageFrom: [
    'packages/cache-server/src/policy/**/*.ts',
    'packages/cache-server/src/store/**/*.ts',
    '!packages/cache-server/src/store/redis/**',
  ],
  coverageReporters: ['text-summary'],
  coverageThreshold: {
    './packages/cache-server/src/policy/': { lines: 99, statements: 98, branches: 96, functions: 98 },
    './packages/cache-server/src/store/': { lines: 92, statements: 88, branches: 83, functions: 83 },
  },
};
