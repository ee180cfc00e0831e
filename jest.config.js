import preset from './jest.preset.js';

/** @type {import('jest').Config} */
export default {
  projects: ['common', 'main-server', 'cache-server'].map((name) => ({
    ...preset,
    displayName: name,
    rootDir: new URL(`./packages/${name}`, import.meta.url).pathname,
  })),
};
