/**
 * Path globs of `match.path`, compiled once per config load into one regular expression each.
 *
 * Only two wildcards, so that everything else in a real path (`(`, `[`, `+`, `!`, `{`) means
 * itself: `*` is any run of characters within one segment (no `/`), `**` any run across
 * segments. `/**` at the end also matches the bare prefix (`/api/**` matches `/api`), and `/**\/`
 * in the middle also matches a single `/` (`/a/**\/b` matches `/a/b`). Matching is against the
 * normalised path (dot segments removed, percent-encoding normalised: policy/keys.ts), so
 * `/static/../api/x` and `/%61pi/x` are matched as `/api/x`, and is case-sensitive, as paths are.
 * (picomatch and friends read `(…)`, `[…]`, `{a,b}` and `+(…)` as syntax, which would make a rule
 * for `/docs/(draft)` match `/docs/draft`.)
 */
export function globToRegExpSource(glob: string, star = '[^/]*'): string {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char !== '*') {
      source += char.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
      continue;
    }
    if (glob[i + 1] !== '*') {
      source += star;
      continue;
    }
    while (glob[i + 1] === '*') i++;
    const afterSlash = source.endsWith('\\/');
    const next = glob[i + 1];
    if (afterSlash && next === undefined) {
      // `/api/**`: the prefix itself, or anything below it.
      source = `${source.slice(0, -2)}(?:\\/.*)?`;
    } else if (afterSlash && next === '/') {
      // `/a/**/b`: zero or more whole segments between.
      source = `${source.slice(0, -2)}(?:\\/.*)?\\/`;
      i++;
    } else {
      source += '.*';
    }
  }
  return source;
}

/** One expression matching any of `globs` (whole path, anchored). */
export function compileGlobs(globs: readonly string[]): RegExp {
  return new RegExp(`^(?:${globs.map((glob) => globToRegExpSource(glob)).join('|')})$`);
}

/**
 * Query parameter name globs (`utm_*`): `*` is any run of characters, everything else literal,
 * matched against the decoded name.
 */
export function compileNameGlobs(globs: readonly string[]): RegExp {
  return new RegExp(`^(?:${globs.map((glob) => globToRegExpSource(glob, '.*')).join('|')})$`);
}

/** What a path glob must look like (the schema's check; the message names what is expected). */
export function isPathGlob(text: string): boolean {
  return /^[/*]/.test(text) && !/[?#\s]/.test(text);
}
