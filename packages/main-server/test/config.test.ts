import { describe, expect, test } from '@jest/globals';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OptionError } from '@simple-cache/common';
import { DEFAULTS, DEMO_ROOT, formatMainServerHelp, readConfig } from '../src/index.js';

describe('readConfig', () => {
  test('defaults: port 8000 on every address, the demo site, one minute of freshness', () => {
    const { config, help } = readConfig([], {});
    expect(help).toBe(false);
    expect(config).toEqual({
      port: 8000,
      host: '::',
      root: DEMO_ROOT,
      cacheControl: 'public, max-age=60',
      logLevel: 'info',
    });
    expect(config).toEqual(DEFAULTS);
    expect(Object.isFrozen(config)).toBe(true);
  });

  test.each([
    ['positional port', ['8080'], {}, { port: 8080 }],
    ['--port', ['--port', '8081'], {}, { port: 8081 }],
    ['--port=', ['--port=8082'], {}, { port: 8082 }],
    ['MAIN_PORT', [], { MAIN_PORT: '8083' }, { port: 8083 }],
    ['flag beats env', ['8084'], { MAIN_PORT: '9999' }, { port: 8084 }],
    ['port 0', ['0'], {}, { port: 0 }],
    ['--host', ['--host', '127.0.0.1'], {}, { host: '127.0.0.1' }],
    ['--host in brackets', ['--host', '[::1]'], {}, { host: '::1' }],
    ['MAIN_HOST', [], { MAIN_HOST: 'localhost' }, { host: 'localhost' }],
    ['--root', ['--root', tmpdir()], {}, { root: tmpdir() }],
    ['MAIN_ROOT', [], { MAIN_ROOT: tmpdir() }, { root: tmpdir() }],
    ['--cache-control', ['--cache-control', 'no-cache'], {}, { cacheControl: 'no-cache' }],
    ['MAIN_CACHE_CONTROL', [], { MAIN_CACHE_CONTROL: 'max-age=5' }, { cacheControl: 'max-age=5' }],
    ['--log-level', ['--log-level', 'debug'], {}, { logLevel: 'debug' }],
    ['MAIN_LOG_LEVEL', [], { MAIN_LOG_LEVEL: 'warn' }, { logLevel: 'warn' }],
    ['empty env is unset', [], { MAIN_PORT: '' }, { port: 8000 }],
  ])('%s', (_name, argv, env, expected) => {
    expect(readConfig(argv, env).config).toMatchObject(expected);
  });

  test('a relative --root starts from the current directory', () => {
    expect(readConfig(['--root', '.'], {}).config.root).toBe(process.cwd());
  });

  test('…or from INIT_CWD, where pnpm was run', () => {
    const base = path.dirname(tmpdir());
    expect(readConfig(['--root', path.basename(tmpdir())], { INIT_CWD: base }).config.root).toBe(tmpdir());
  });

  test('--help is reported, not acted upon', () => {
    expect(readConfig(['--help'], {}).help).toBe(true);
    expect(readConfig(['-h'], {}).help).toBe(true);
  });
});

describe('bad options are one-line OptionErrors naming the option', () => {
  test.each([
    ['positional port out of range', ['70000'], {}, '--port "70000"'],
    ['--port not a number', ['--port', 'http'], {}, '--port "http"'],
    ['MAIN_PORT not a number', [], { MAIN_PORT: 'x' }, 'MAIN_PORT "x"'],
    ['--root missing', ['--root', '/no/such/dir'], {}, '--root "/no/such/dir"'],
    ['--host with a space', ['--host', 'a b'], {}, '--host "a b"'],
    ['--cache-control empty', ['--cache-control', ''], {}, '--cache-control ""'],
    ['--log-level unknown', ['--log-level', 'loud'], {}, '--log-level "loud"'],
    ['unknown flag', ['--colour', 'blue'], {}, '--colour'],
    ['a flag without its value', ['--port'], {}, '--port needs a value'],
    ['a second positional', ['8000', '9000'], {}, '"9000"'],
  ])('%s', (_name, argv, env, fragment) => {
    let error: unknown;
    try {
      readConfig(argv, env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(OptionError);
    expect((error as OptionError).code).toBe('CACHE_ERR_BAD_OPTION');
    expect((error as OptionError).message).toContain(fragment);
    expect((error as OptionError).message).not.toContain('\n');
  });

  test('the message says what was expected', () => {
    expect(() => readConfig(['--port', 'http'], {})).toThrow(/expected port number 0-65535/);
  });
});

describe('--help', () => {
  const help = formatMainServerHelp();

  test.each([
    ['--port', 'MAIN_PORT', '8000'],
    ['--host', 'MAIN_HOST', '::'],
    ['--root', 'MAIN_ROOT', DEMO_ROOT],
    ['--cache-control', 'MAIN_CACHE_CONTROL', 'public, max-age=60'],
    ['--log-level', 'MAIN_LOG_LEVEL', 'info'],
  ])('lists %s with env %s and default %s', (flag, env, defaultValue) => {
    expect(help).toContain(flag);
    expect(help).toContain(`default: ${defaultValue}; env: ${env}`);
  });

  test('starts with the usage line and lists --help', () => {
    expect(help.split('\n')[0]).toBe('Usage: pnpm --filter main-server start [PORT] [options]');
    expect(help).toContain('--help');
  });
});
