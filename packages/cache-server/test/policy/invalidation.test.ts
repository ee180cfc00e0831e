import { describe, expect, test } from '@jest/globals';
import { invalidationTargets } from '../../src/policy/invalidation.js';
import type { HeaderMap } from '../../src/policy/types.js';

const KEY = 'http://h.test/base/items/1';

describe('invalidationTargets (RFC 9111 §4.4)', () => {
  test.each<[string, string, number, HeaderMap, string[]]>([
    ['POST with 200 invalidates the target', 'POST', 200, {}, [KEY]],
    ['PUT with 201', 'PUT', 201, {}, [KEY]],
    ['DELETE with 204', 'DELETE', 204, {}, [KEY]],
    ['PATCH with 303 (3xx is not an error)', 'PATCH', 303, {}, [KEY]],
    ['unknown method counts as unsafe (M-SEARCH)', 'M-SEARCH', 200, {}, [KEY]],
    ['method names are case-sensitive: "get" is not GET (RFC 9110 §9.1)', 'get', 200, {}, [KEY]],
    ['GET is safe (RFC 9110 §9.2.1)', 'GET', 200, {}, []],
    ['HEAD is safe', 'HEAD', 200, {}, []],
    ['OPTIONS is safe', 'OPTIONS', 200, {}, []],
    ['TRACE is safe', 'TRACE', 200, {}, []],
    ['4xx is an error: nothing', 'POST', 404, {}, []],
    ['5xx is an error: nothing', 'POST', 500, {}, []],
    ['1xx is not final: nothing', 'POST', 100, {}, []],
    [
      'relative Location resolved against the key',
      'POST',
      201,
      { location: '/base/items/2' },
      [KEY, 'http://h.test/base/items/2'],
    ],
    ['relative-path Location', 'POST', 201, { location: '2' }, [KEY, 'http://h.test/base/items/2']],
    [
      'Content-Location too',
      'PUT',
      200,
      { 'content-location': '/base/items/1.json' },
      [KEY, 'http://h.test/base/items/1.json'],
    ],
    [
      'both Location and Content-Location',
      'POST',
      200,
      { location: '/a', 'content-location': '/b' },
      [KEY, 'http://h.test/a', 'http://h.test/b'],
    ],
    ['absolute same-origin URL', 'POST', 200, { location: 'http://h.test/x' }, [KEY, 'http://h.test/x']],
    [
      'same origin with explicit default port',
      'POST',
      200,
      { location: 'http://h.test:80/x' },
      [KEY, 'http://h.test/x'],
    ],
    ['other host ignored (denial of service guard)', 'POST', 200, { location: 'http://evil.test/x' }, [KEY]],
    ['other scheme ignored', 'POST', 200, { location: 'https://h.test/x' }, [KEY]],
    ['other port ignored', 'POST', 200, { location: 'http://h.test:8080/x' }, [KEY]],
    ['scheme-relative to another host ignored', 'POST', 200, { location: '//evil.test/x' }, [KEY]],
    ['normalised like cacheKey', 'POST', 200, { location: '/a/../b/%7e%2f#frag' }, [KEY, 'http://h.test/b/~%2F']],
    ['listed once', 'POST', 200, { location: KEY, 'content-location': '/base/items/./1' }, [KEY]],
    ['unparsable Location ignored', 'POST', 200, { location: 'http://[bad' }, [KEY]],
    ['empty Location ignored', 'POST', 200, { location: ' ' }, [KEY]],
    ['only the first of several Location lines', 'POST', 200, { location: ['/a', '/b'] }, [KEY, 'http://h.test/a']],
    ['no invalidation through Location on an error', 'POST', 500, { location: '/a' }, []],
  ])('%s', (_rule, method, status, headers, expected) => {
    expect(invalidationTargets(method, KEY, { status, headers })).toEqual(expected);
  });
});
