import { describe, expect, test } from '@jest/globals';
import {
  OptionError,
  parseDuration,
  parseOptions,
  parseOriginUrl,
  parsePort,
  parseSize,
  type OptionSpec,
} from '../src/index.js';

describe('parseSize', () => {
  test.each([
    ['0', 0],
    ['1024', 1024],
    ['500MB', 500_000_000],
    ['2GiB', 2 * 1024 ** 3],
    ['64k', 65_536],
    ['1.5 KiB', 1536],
    ['10mb', 10_000_000],
  ])('%s → %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));
  test.each(['', 'MB', '-1', '12 parsecs', '1e9', 'abc'])('rejects %j', (text) => {
    expect(() => parseSize(text)).toThrow();
  });
});

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['30', 30_000],
    ['1.5s', 1500],
    ['1d', 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1y', 365 * 86_400_000],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(['', 's', '-2s', '2 fortnights', 'soon'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow();
  });
});

describe('parsePort', () => {
  test.each([
    ['0', 0],
    ['8001', 8001],
    ['65535', 65535],
  ])('%s', (text, port) => expect(parsePort(text)).toBe(port));
  test.each(['65536', '-1', 'http', '80.5', ''])('rejects %j', (text) => expect(() => parsePort(text)).toThrow());
});

describe('parseOriginUrl', () => {
  test.each([
    ['http://localhost:8000', 'http://localhost:8000'],
    ['http://localhost:8000/', 'http://localhost:8000'],
    ['https://example.com/base/', 'https://example.com/base'],
  ])('%s', (text, url) => expect(parseOriginUrl(text)).toBe(url));
  test.each(['localhost:8000', 'ftp://x', '//x', 'http://x/?q=1', 'nonsense'])('rejects %j', (text) =>
    expect(() => parseOriginUrl(text)).toThrow(),
  );
});

describe('parseOptions', () => {
  const specs: OptionSpec[] = [
    {
      flag: 'port',
      env: 'T_PORT',
      description: 'port',
      default: 8001,
      expected: 'a port number 0-65535',
      parse: parsePort,
    },
    {
      flag: 'max-size',
      env: 'T_MAX',
      description: 'max',
      default: 10,
      expected: 'a size such as 500MB',
      parse: parseSize,
    },
  ];

  test('defaults, env, flag, positional: flag beats env beats default', () => {
    expect(parseOptions(specs, [], {}, 'port').values).toEqual({ port: 8001, 'max-size': 10 });
    expect(parseOptions(specs, [], { T_PORT: '9000' }, 'port').values.port).toBe(9000);
    expect(parseOptions(specs, ['9100'], { T_PORT: '9000' }, 'port').values.port).toBe(9100);
    expect(parseOptions(specs, ['--port', '9200', '--max-size=1k'], {}, 'port').values).toEqual({
      port: 9200,
      'max-size': 1024,
    });
  });

  test('--help is reported, not an error', () => {
    expect(parseOptions(specs, ['--help'], {}, 'port').help).toBe(true);
  });

  test.each([
    [['--nope'], /unknown option --nope/],
    [['--port', 'http'], /invalid --port "http": expected a port number/],
    [['--max-size', 'lots'], /invalid --max-size "lots": expected a size/],
    [['--max-size'], /--max-size needs a value/],
    [['1', '2'], /unexpected argument "2"/],
  ])('%j → one-line OptionError', (argv, message) => {
    expect(() => parseOptions(specs, argv, {}, 'port')).toThrow(OptionError);
    expect(() => parseOptions(specs, argv, {}, 'port')).toThrow(message);
  });

  test('a bad environment value names the variable', () => {
    expect(() => parseOptions(specs, [], { T_MAX: 'x' }, 'port')).toThrow(/invalid T_MAX "x"/);
  });

  test('a config file’s values rank below flags and environment, above defaults', () => {
    const file = { values: { port: '7001', 'max-size': '2k' }, where: (flag: string) => `c.yaml:3 ${flag}` };
    expect(parseOptions(specs, [], {}, 'port', { file })).toMatchObject({
      values: { port: 7001, 'max-size': 2048 },
      sources: { port: 'file', 'max-size': 'file' },
    });
    expect(parseOptions(specs, ['7003'], { T_MAX: '1k' }, 'port', { file })).toMatchObject({
      values: { port: 7003, 'max-size': 1024 },
      sources: { port: 'flag', 'max-size': 'env' },
    });
    const bad = { values: { port: 'x' }, where: () => 'c.yaml:3 port' };
    expect(() => parseOptions(specs, [], {}, 'port', { file: bad })).toThrow(/invalid c\.yaml:3 port "x"/);
  });

  test('action flags are reported, not parsed as options', () => {
    const actions = [{ flag: 'check-config', description: 'check' }];
    const parsed = parseOptions(specs, ['--check-config', '9000'], {}, 'port', { actions });
    expect([...parsed.actions]).toEqual(['check-config']);
    expect(parsed.values.port).toBe(9000);
    expect(() => parseOptions(specs, ['--check-config'], {}, 'port')).toThrow(/unknown option --check-config/);
  });
});
