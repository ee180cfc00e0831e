import preset from './jest.preset.js';

/** @type {import('jest').Config} */
export default {
  // Global options such as testTimeout are ignored inside `projects`: they must be set here.
  testTimeout: preset.testTimeout,
  projects: ['common', 'main-server', 'cache-server'].map((name) => ({
    ...preset,
    displayName: name,
    rootDir: new URL(`./packages/${name}`, import.meta.url).pathname,
  })),
};
