import preset from './jest.preset.js';

/** @type {import('jest').Config} */
export default {
  // Global options such as testTimeout are ignored inside `projects`: they must be set here.
  testTimeout: preset.testTimeout,
  projects: [
    ...['common', 'main-server', 'cache-server'].map((name) => ({
      ...preset,
      displayName: name,
      rootDir: new URL(`./packages/${name}`, import.meta.url).pathname,
    })),
    // The repository's own scripts (plain ESM JavaScript, nothing to transform).
    {
      displayName: 'scripts',
      testEnvironment: 'node',
      rootDir: new URL('./scripts', import.meta.url).pathname,
      testMatch: ['<rootDir>/test/**/*.test.mjs'],
      transform: {},
    },
  ],
};
