/**
 * The `key:` settings' query part: which query parameters the cache key keeps, and in which
 * order. The origin still gets the URL the client sent; only the key changes, so
 * `/a?utm_source=x&b=1` and `/a?b=1` share one entry.
 */
export interface QueryKeyRule {
  /** Parameter names dropped from the key (matched decoded: `utm%5Fsource` is `utm_source`). */
  ignore?: RegExp;
  /** Sort the remaining parameters by name (stable: repeated names keep their order). */
  sort: boolean;
}

/** The key with its query rewritten by `rule`; unchanged when there is nothing to do. */
export function keyWithQuery(key: string, rule: QueryKeyRule): string {
  const at = key.indexOf('?');
  if (at === -1) return key;
  const query = key.slice(at + 1);
  let params = query === '' ? [] : query.split('&');
  const { ignore } = rule;
  if (ignore) params = params.filter((param) => !ignore.test(parameterName(param)));
  if (rule.sort) params = sortByName(params);
  return params.length === 0 ? key.slice(0, at) : `${key.slice(0, at)}?${params.join('&')}`;
}

function parameterName(param: string): string {
  const eq = param.indexOf('=');
  const raw = (eq === -1 ? param : param.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function sortByName(params: string[]): string[] {
  return params
    .map((param, index) => ({ param, index, name: parameterName(param) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index))
    .map(({ param }) => param);
}
