import { describe, expect, test } from '@jest/globals';
import type { CacheServerConfig } from '@simple-cache/common';
import { formatHelp, OptionError } from '@simple-cache/common';
import { loadConfig } from '../src/config/load-config.js';
import { OPTIONS, USAGE } from '../src/config/option-table.js';

type Admin = Pick<CacheServerConfig, 'adminPrefix' | 'adminPort' | 'adminToken' | 'tagHeaders'>;
const pick = ({ adminPrefix, adminPort, adminToken, tagHeaders }: CacheServerConfig): Admin => ({
  adminPrefix,
  adminPort,
  adminToken,
  tagHeaders,
});

describe('admin options: flag > environment > default', () => {
  test.each<[string, string[], Record<string, string>, Partial<Admin>]>([
    ['defaults', [], {}, {}],
    ['--admin-prefix', ['--admin-prefix', '/ops/cache'], {}, { adminPrefix: '/ops/cache' }],
    ['CACHE_ADMIN_PREFIX', [], { CACHE_ADMIN_PREFIX: '/_admin' }, { adminPrefix: '/_admin' }],
    ['--admin-prefix off', ['--admin-prefix', 'off'], {}, { adminPrefix: '' }],
    ['--admin-port', ['--admin-port', '9001'], {}, { adminPort: 9001 }],
    ['CACHE_ADMIN_PORT', [], { CACHE_ADMIN_PORT: '0' }, { adminPort: 0 }],
    ['--admin-token', ['--admin-token=abc-123'], {}, { adminToken: 'abc-123' }],
    ['CACHE_ADMIN_TOKEN', [], { CACHE_ADMIN_TOKEN: 'from+env/=' }, { adminToken: 'from+env/=' }],
    ['flag beats environment', ['--admin-token', 'flag'], { CACHE_ADMIN_TOKEN: 'env' }, { adminToken: 'flag' }],
    [
      '--tag-header, lower-cased',
      ['--tag-header', 'X-Tags, Surrogate-Key'],
      {},
      { tagHeaders: ['x-tags', 'surrogate-key'] },
    ],
    ['CACHE_TAG_HEADER', [], { CACHE_TAG_HEADER: 'Cache-Tag' }, { tagHeaders: ['cache-tag'] }],
  ])('%s', (_case, argv, env, expected) => {
    const defaults: Admin = {
      adminPrefix: '/_cache',
      adminPort: null,
      adminToken: '',
      tagHeaders: ['surrogate-key', 'cache-tag'],
    };
    expect(pick(loadConfig(argv, env).config as CacheServerConfig)).toEqual({ ...defaults, ...expected });
  });

  test.each([
    [['--admin-prefix', '_cache'], '--admin-prefix'],
    [['--admin-prefix', '/'], '--admin-prefix'],
    [['--admin-prefix', '/_cache/'], '--admin-prefix'],
    [['--admin-prefix', '/a b'], '--admin-prefix'],
    [['--admin-port', '70000'], '--admin-port'],
    [['--admin-token', 'has space'], '--admin-token'],
    [['--admin-token', 'bad"quote'], '--admin-token'],
    [['--tag-header', 'Bad Header'], '--tag-header'],
    [['--tag-header', ','], '--tag-header'],
  ])('%j is refused, naming %s', (argv, flag) => {
    expect(() => loadConfig(argv, {})).toThrow(OptionError);
    expect(() => loadConfig(argv, {})).toThrow(new RegExp(`^invalid ${flag} `));
  });

  test('--help lists them without showing a token', () => {
    const help = formatHelp(USAGE, OPTIONS);
    expect(help).toContain('--admin-prefix <path>');
    expect(help).toContain('default: /_cache; env: CACHE_ADMIN_PREFIX');
    expect(help).toContain('default: off; env: CACHE_ADMIN_PORT');
    expect(help).toContain('default: (none); env: CACHE_ADMIN_TOKEN');
    expect(help).toContain('default: surrogate-key,cache-tag; env: CACHE_TAG_HEADER');
  });
});
