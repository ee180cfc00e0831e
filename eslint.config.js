import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**', 'packages/*/public/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        AbortController: 'readonly',
        fetch: 'readonly',
        document: 'readonly',
        window: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  // Issue 17's guards: policy/ is the pure decision core (no I/O, no clock of its own), and the
  // store knows nothing of the request flow or the admin API that sit above it.
  {
    files: ['packages/cache-server/src/policy/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(node:.*|${builtinModules.join('|')})(/.*)?$`,
              message: 'policy/ is pure: no I/O, no Node built-ins (the caller does the I/O).',
            },
            {
              regex: '^(fastify|@fastify/.*|got|ioredis|pino|pino-.*)(/.*)?$',
              message: 'policy/ is pure: no server, client, store or logger libraries.',
            },
            {
              regex:
                '(^|/)(store|proxy|origin|admin|limits|cluster|config)(/|$)|(^|/)(app|cli|logger|compose-store)\\.js$',
              message: 'policy/ imports nothing above it (the proxy asks policy; never the reverse).',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'policy/ takes the clock as an argument (`now`), for tests with any time.',
        },
        { object: 'performance', property: 'now', message: 'policy/ takes the clock as an argument (`now`).' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'policy/ takes the clock as an argument (`now`): `new Date()` reads the wall clock.',
        },
      ],
    },
  },
  {
    files: ['packages/cache-server/src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(proxy|admin)(/|$)',
              message: 'store/ knows nothing of the request flow or the admin API (compose-store.ts wires them).',
            },
          ],
        },
      ],
    },
  },
);
