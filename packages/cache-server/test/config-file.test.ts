import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigFileError } from '../src/config/file/index.js';
import { loadConfig, resolveConfig } from '../src/config/load-config.js';
import { tempDir } from './helpers/cache.js';
import { spawnCli } from './helpers/spawn.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('simple-cache-config-');
});
afterAll(() => dir?.cleanup());

async function file(name: string, text: string): Promise<string> {
  const at = path.join(dir.dir, name);
  await writeFile(at, text);
  return at;
}

/** The problems a file has, one line each, with the directory taken off the file name. */
function problemsOf(file: string, env: Record<string, string> = {}): string[] {
  try {
    loadConfig(['--config', file], env);
  } catch (error) {
    if (!(error instanceof ConfigFileError)) throw error;
    return error.problems.map((line) => line.replace(`${dir.dir}/`, ''));
  }
  throw new Error('the file was accepted');
}

describe('--config: every option under its flag name, in YAML or JSON', () => {
  test('YAML and JSON files give the same config', async () => {
    const yaml = await file(
      'same.yaml',
      'max-size: 2GiB\norigin: http://localhost:9000\ngrace: 10m\ntag-header: [Surrogate-Key, Cache-Tag]\nheuristics: off\nadmin-port: 9100\n',
    );
    const json = await file(
      'same.json',
      '{"max-size": "2GiB", "origin": "http://localhost:9000", "grace": "10m", "tag-header": ["Surrogate-Key", "Cache-Tag"], "heuristics": false, "admin-port": 9100}',
    );
    const fromYaml = loadConfig(['--config', yaml], {}).config;
    const fromJson = loadConfig(['--config', json], {}).config;
    expect({ ...fromYaml, configFile: '' }).toEqual({ ...fromJson, configFile: '' });
    expect(fromYaml).toMatchObject({
      maxSize: 2 * 1024 ** 3,
      origin: 'http://localhost:9000',
      grace: 600_000,
      tagHeaders: ['surrogate-key', 'cache-tag'],
      heuristics: false,
      adminPort: 9100,
    });
  });

  test('precedence: flag > environment > file > default, and each value says where it came from', async () => {
    const at = await file('layers.yaml', 'port: 7001\nmax-size: 3GiB\nname: from-file\n');
    const loaded = loadConfig(['--config', at, '--port', '7003'], { CACHE_PORT: '7002', CACHE_MAX_SIZE: '4GiB' });
    expect(loaded.config).toMatchObject({ port: 7003, maxSize: 4 * 1024 ** 3, name: 'from-file', host: '0.0.0.0' });
    expect(loaded.sources).toMatchObject({ port: 'flag', 'max-size': 'env', name: 'file', host: 'default' });
    const viaEnv = loadConfig([], { CACHE_CONFIG: at });
    expect(viaEnv.config).toMatchObject({ port: 7001, maxSize: 3 * 1024 ** 3, configFile: at });
  });

  test('a relative cache-dir in the file is relative to the file, on the command line to the working directory', async () => {
    const at = await file('relative.yml', 'cache-dir: ./stored\n');
    expect(loadConfig(['--config', at], {}).config.cacheDir).toBe(path.join(dir.dir, 'stored'));
    expect(loadConfig(['--config', at, '--cache-dir', 'x'], {}).config.cacheDir).toBe(path.resolve('x'));
  });

  test('the file’s hash is the sha256 of its bytes; an empty file is an empty config', async () => {
    const text = '# nothing but a comment\n';
    const at = await file('empty.yaml', text);
    const loaded = loadConfig(['--config', at], {});
    expect(loaded.fileHash).toBe(createHash('sha256').update(text).digest('hex'));
    expect(loaded.config.rules).toEqual([]);
    expect(loaded.config.port).toBe(8001);
  });

  test('rules are kept as written, in file order', async () => {
    const at = await file(
      'rules.yaml',
      [
        'rules:',
        '  - name: api',
        '    match: { path: /api/** }',
        '    bypass: true',
        '  - match: { path: /favicon.ico, status: [404] }',
        '    ttl: 1m',
      ].join('\n'),
    );
    expect(loadConfig(['--config', at], {}).config.rules).toEqual([
      { name: 'api', match: { path: '/api/**' }, bypass: true },
      { match: { path: '/favicon.ico', status: [404] }, ttl: '1m' },
    ]);
  });
});

describe('validation against one schema: every problem named by file, line and path', () => {
  test('the issue’s example: a bad ttl on line 14 of the third rule', async () => {
    const lines = [
      'origin: http://localhost:8000',
      'rules:',
      '  - name: api',
      '    match:',
      '      path: /api/**',
      '    bypass: true',
      '  - name: static',
      '    match:',
      '      path: /static/**',
      '    ttl: 1y',
      '  - name: pages',
      '    match:',
      '      path: /pages/**',
      '    ttl: soon',
    ];
    const at = await file('simple-cache.yaml', lines.join('\n'));
    expect(problemsOf(at)).toEqual([
      'simple-cache.yaml:14 rules[2].ttl: expected a duration such as 5m, 30s, 1d or a number of seconds',
    ]);
  });

  test.each<[string, string, string[]]>([
    [
      'an unknown option',
      'max-sise: 1GiB\n',
      ['x.yaml:1 max-sise: unknown option (the file takes the flag names without dashes, and rules; see --help)'],
    ],
    [
      'an option’s bad value, in the option’s own words',
      'port: 1\nmax-size: huge\n',
      ['x.yaml:2 max-size: expected a size such as 500MB, 2GiB or plain bytes'],
    ],
    [
      'a mapping where a value belongs',
      'origin:\n  url: x\n',
      ['x.yaml:1 origin: expected an http(s) URL with scheme, e.g. http://localhost:8000'],
    ],
    [
      '--config inside the file',
      'config: other.yaml\n',
      ['x.yaml:1 config: unknown option (the file takes the flag names without dashes, and rules; see --help)'],
    ],
    ['a list where a mapping belongs', '- port: 1\n', ['x.yaml:1 expected a mapping (name: value)']],
    ['rules that are not a list', 'rules: {}\n', ['x.yaml:1 rules: expected a list']],
    ['a rule without match', 'rules:\n  - ttl: 1m\n', ['x.yaml:2 rules[0]: missing match']],
    [
      'a rule without settings',
      'rules:\n  - match: { path: /x }\n',
      [
        `x.yaml:2 rules[0]: a rule needs a setting: bypass, key, strip-cookies, ttl, force, default-ttl, grace, stale-if-error, stale-while-revalidate`,
      ],
    ],
    [
      'an unknown setting',
      'rules:\n  - match: {}\n    tll: 1m\n',
      [
        'x.yaml:2 rules[0]: a rule needs a setting: bypass, key, strip-cookies, ttl, force, default-ttl, grace, stale-if-error, stale-while-revalidate',
        'x.yaml:3 rules[0].tll: unknown rule setting (name, match, bypass, key, strip-cookies, ttl, force, default-ttl, grace, stale-if-error, stale-while-revalidate)',
      ],
    ],
    [
      'an unknown match field',
      'rules:\n  - match: { url: /x }\n    ttl: 1m\n',
      ['x.yaml:2 rules[0].match.url: unknown match field (path, methods, status)'],
    ],
    [
      'a path that is not a path glob',
      'rules:\n  - match: { path: api/** }\n    ttl: 1m\n',
      [
        'x.yaml:2 rules[0].match.path: expected a path glob such as /static/** (starting with / or *, no query), or a list of them',
      ],
    ],
    [
      'a path glob with a query',
      'rules:\n  - match: { path: [/a, "/b?x=1"] }\n    ttl: 1m\n',
      [
        'x.yaml:2 rules[0].match.path: expected a path glob such as /static/** (starting with / or *, no query), or a list of them',
      ],
    ],
    [
      'a bad status',
      'rules:\n  - match: { status: [404, 6xx] }\n    ttl: 1m\n',
      ['x.yaml:2 rules[0].match.status: expected a status such as 404, a class such as 5xx, or a list of them'],
    ],
    [
      'methods that are not a list',
      'rules:\n  - match: { methods: GET }\n    ttl: 1m\n',
      ['x.yaml:2 rules[0].match.methods: expected a list'],
    ],
    [
      'a setting of the wrong type',
      'rules:\n  - match: {}\n    bypass: yes\n',
      ['x.yaml:3 rules[0].bypass: expected true or false'],
    ],
    [
      'bypass with match.status',
      'rules:\n  - match: { status: 5xx }\n    bypass: true\n',
      [
        'x.yaml:3 rules[0].bypass: bypass acts on the request, before any status is known: it cannot go with match.status',
      ],
    ],
    [
      'key with match.status',
      'rules:\n  - match: { status: 404 }\n    ttl: 1m\n    key: { sort-query: true }\n',
      ['x.yaml:4 rules[0].key: key acts on the request, before any status is known: it cannot go with match.status'],
    ],
    [
      'force without ttl',
      'rules:\n  - match: {}\n    default-ttl: 1m\n    force: true\n',
      ['x.yaml:4 rules[0].force: force overrides the origin with a ttl: give ttl in the same rule'],
    ],
    [
      'an unknown key field',
      'rules:\n  - match: {}\n    key: { ignore: [a] }\n',
      ['x.yaml:3 rules[0].key.ignore: unknown key field (ignore-query, sort-query, headers)'],
    ],
    [
      'a bad header name in key.headers',
      'rules:\n  - match: {}\n    key: { headers: ["Accept Language"] }\n',
      ['x.yaml:3 rules[0].key.headers[0]: expected a header name such as Accept-Language'],
    ],
    [
      'two rules with one name',
      'rules:\n  - { name: a, match: {}, ttl: 1m }\n  - { name: a, match: {}, ttl: 2m }\n',
      ['x.yaml:3 rules[1].name: another rule is already named "a"'],
    ],
    [
      'a name Cache-Status could not carry',
      'rules:\n  - { name: "my rule", match: {}, ttl: 1m }\n',
      [
        'x.yaml:2 rules[0].name: expected a name of letters, digits and . _ : / - (at most 64, starting with a letter or digit)',
      ],
    ],
    [
      'a YAML syntax error',
      'port: 1\nrules: [\n',
      ['x.yaml:3 Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ],
    ['a duplicate key', 'port: 1\nport: 2\n', ['x.yaml:2 Map keys must be unique']],
  ])('%s', async (_what, text, expected) => {
    expect(problemsOf(await file('x.yaml', text))).toEqual(expected);
  });

  test('every problem is reported at once, in file order', async () => {
    const at = await file('x.yaml', 'bogus: 1\nmax-size: huge\nrules:\n  - match: { path: x }\n    ttl: never\n');
    expect(problemsOf(at)).toEqual([
      'x.yaml:1 bogus: unknown option (the file takes the flag names without dashes, and rules; see --help)',
      'x.yaml:2 max-size: expected a size such as 500MB, 2GiB or plain bytes',
      'x.yaml:4 rules[0].match.path: expected a path glob such as /static/** (starting with / or *, no query), or a list of them',
      'x.yaml:5 rules[0].ttl: expected a duration such as 5m, 30s, 1d or a number of seconds',
    ]);
  });

  test('a JSON file must be JSON: its syntax errors name the line', async () => {
    const at = await file('x.json', '{\n  "port": 1,\n  // a comment\n  "name": "a"\n}\n');
    expect(problemsOf(at)).toEqual([expect.stringMatching(/^x\.json:3 /)]);
    const valid = await file('y.json', '{\n  "port": 1,\n  "rules": [{"match": {"path": "/x"}, "ttl": "soon"}]\n}\n');
    expect(problemsOf(valid)).toEqual([
      'y.json:3 rules[0].ttl: expected a duration such as 5m, 30s, 1d or a number of seconds',
    ]);
  });

  test('a file that cannot be read, or of another kind, is named', async () => {
    expect(problemsOf(path.join(dir.dir, 'missing.yaml'))).toEqual(['missing.yaml: cannot read it (ENOENT)']);
    expect(() => loadConfig(['--config', 'cache.toml'], {})).toThrow(
      /invalid --config "cache.toml": expected a .yaml, .yml or .json file/,
    );
  });

  test('rules given in code are checked against the same schema', () => {
    expect(() => resolveConfig({ rules: [{ match: { path: '/x' }, ttl: 'soon' }] })).toThrow(
      'rules[0].ttl: expected a duration such as 5m, 30s, 1d or a number of seconds',
    );
  });
});

describe('--check-config (nginx -t)', () => {
  test('a valid config is printed resolved, with where each value came from, and exits 0', async () => {
    const at = await file(
      'check.yaml',
      'max-size: 2GiB\nadmin-token: s3cret-token\nrules:\n  - name: api\n    match: { path: /api/** }\n    bypass: true\n',
    );
    const run = spawnCli(['--config', at, '--check-config', '--name', 'edge-1'], { CACHE_GRACE: '5m' });
    expect(await run.exited).toBe(0);
    const out = run.stdout();
    expect(out).toContain('max-size: 2GiB  # file');
    expect(out).toContain('name: edge-1  # flag');
    expect(out).toContain('grace: 300s  # env CACHE_GRACE');
    expect(out).toContain('port: 8001  # default');
    expect(out).toContain('admin-token: (redacted)  # file');
    expect(out).not.toContain('s3cret-token');
    expect(out).toMatch(/rules:\n {2}- name: api\n {4}match:\n {6}path: \/api\/\*\*\n {4}bypass: true/);
    expect(run.stderr()).toContain('configuration is valid');
    // It only checks: nothing listens.
    expect(out).not.toContain('Server listening');
  });

  test('an invalid config prints every problem and exits 2', async () => {
    const at = await file('broken.yaml', 'max-size: huge\nrules:\n  - match: {}\n    ttl: later\n');
    const run = spawnCli(['--config', at, '--check-config']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('broken.yaml:1 max-size: expected a size');
    expect(run.stderr()).toContain('broken.yaml:4 rules[0].ttl: expected a duration');
    expect(run.stdout()).toBe('');
  });

  test('--help says how the layers rank and lists --config and --check-config', async () => {
    const run = spawnCli(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('flag > environment variable > config file (--config) > default');
    expect(run.stdout()).toContain('--config <file>');
    expect(run.stdout()).toContain('CACHE_CONFIG');
    expect(run.stdout()).toContain('--check-config');
  });
});

describe('the shipped example', () => {
  const root = path.resolve(import.meta.dirname, '../../..');

  test('examples/simple-cache.yaml is valid, and docs/configuring.md shows it as it is', async () => {
    const example = path.join(root, 'examples', 'simple-cache.yaml');
    const loaded = loadConfig(['--config', example], {});
    expect(loaded.config.rules.map((rule) => rule.name)).toEqual([
      'favicon-404',
      'brief-errors',
      'api',
      'static',
      'campaign-links',
    ]);
    const docs = await readFile(path.join(root, 'docs', 'configuring.md'), 'utf8');
    expect(docs).toContain(`\`\`\`yaml\n${await readFile(example, 'utf8')}\`\`\``);
  });
});

describe('--check-config prints a file that can be read back', () => {
  test('its output, used as the config file, gives the same config (every option, and the rules)', async () => {
    const at = await file(
      'round.yaml',
      'max-size: 3GiB\nmemory-size: 0\ninactive: 7d\nheuristics: off\nadmin-token: secret-1\n' +
        'rules:\n  - { name: api, match: { path: /api/** }, bypass: true }\n  - { match: { status: 5xx }, ttl: 5s }\n',
    );
    const run = spawnCli(['--config', at, '--check-config', '--grace', '90s'], { CACHE_TAG_HEADER: 'Surrogate-Key' });
    expect(await run.exited).toBe(0);
    const printed = await file('printed.yaml', run.stdout());
    const original = loadConfig(['--config', at, '--grace', '90s'], { CACHE_TAG_HEADER: 'Surrogate-Key' }).config;
    const again = loadConfig(['--config', printed], {}).config;
    // The secret is printed redacted, as a comment; everything else comes back as it was.
    expect({ ...again, configFile: '', adminToken: '' }).toEqual({ ...original, configFile: '', adminToken: '' });
    expect(run.stdout()).toContain('# admin-token: (redacted)  # file');
    expect(run.stdout()).toContain('# admin-port: off  # default');
  });
});
