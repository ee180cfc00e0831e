// The one jest + ts-jest setup every package uses: ESM TypeScript, run in place (no build step).
// Type-checking is done once by `pnpm typecheck`, so ts-jest only transpiles (isolatedModules).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        useESM: true,
        isolatedModules: true,
        tsconfig: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          isolatedModules: true,
          verbatimModuleSyntax: false,
        },
      },
    ],
    // @fastify/static (CommonJS) requires content-disposition 3, which ships only as ESM. Node 20.19+
    // can require() it, but Jest's own module loader only can on Node 24.9+: compile it to CommonJS.
    '/content-disposition/.+\\.js$': [
      'ts-jest',
      {
        useESM: false,
        tsconfig: { allowJs: true, module: 'CommonJS', moduleResolution: 'Node10', isolatedModules: true },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/content-disposition@[^/]+/node_modules/)?content-disposition/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
};
