import { deltaSeconds, parseCacheControl, splitListMembers, type Directives } from './cache-control.js';

/**
 * Surrogate-Control (W3C Edge Architecture Specification 1.0, §2.2, §3): cache directives an
 * origin addresses to surrogates, the caches that act on its behalf, as this one does.
 *
 * - Members are Cache-Control-like (`max-age=60`, `no-store`), each optionally targeted at one
 *   surrogate by a device token: `no-store;abc`. A surrogate announces its token in
 *   Surrogate-Capability (forwardRequestHeaders); ours is the cache's name (`--name`), compared
 *   without regard to case. Members targeted at other surrogates are ignored.
 * - "If more than one is targeted at a surrogate, the most specific applies" (§3): when some
 *   members name this cache, only those apply; otherwise the untargeted ones do. (Squid merges
 *   the two sets; the specification's own example, `max-age=60, no-store;abc`, has `abc` apply
 *   no-store and nothing else.)
 * - `max-age=X+Y`: X seconds of freshness; the optional `+Y` is the freshness extension, a time
 *   the response may still be served stale when the origin cannot be used; it is read as
 *   `stale-if-error=Y` (RFC 5861 §4). An invalid `+Y` is dropped and X kept, as Squid does.
 * - `no-store-remote` is for surrogates far from the origin (a CDN node); a reverse proxy in
 *   front of its origin is a local one (Squid's default, `surrogate_is_remote off`), so it does
 *   not stop this cache from storing. `content="…"` (ESI) is not a caching directive.
 * - Other Cache-Control directives given here (stale-while-revalidate, stale-if-error,
 *   must-revalidate, as Fastly reads them) apply as they would in Cache-Control.
 *
 * Members with invalid values are dropped first (`max-age=abc`, as Squid does and as RFC 9213
 * §2.2 has for a targeted field). When anything is left for this cache, the field governs it:
 * it replaces Cache-Control and Expires, as a targeted field does (RFC 9213 §2.1), so
 * `Surrogate-Control: max-age=600` with `Cache-Control: no-store` is stored, and the reverse is
 * not. Otherwise (absent, only invalid values, only members for others, only no-store-remote or
 * content) it is ignored and Cache-Control decides.
 */
export function parseSurrogateControl(value: string | string[] | undefined, cacheName: string): Directives | undefined {
  if (value === undefined) return undefined;
  const generic: string[] = [];
  const ours: string[] = [];
  const name = cacheName.toLowerCase();
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const member of splitListMembers(line)) {
      const { directive, target } = splitTarget(member.trim());
      const expanded = expandFreshnessExtension(directive);
      if (!isCachingDirective(expanded)) continue;
      if (target === undefined) generic.push(expanded);
      else if (target.toLowerCase() === name) ours.push(expanded);
    }
  }
  const directives = parseCacheControl((ours.length > 0 ? ours : generic).join(', '));
  return directives.size > 0 ? directives : undefined;
}

/**
 * A member that tells this cache something: a well-formed directive other than those for remote
 * surrogates or content processing, and not a max-age without valid delta-seconds (an invalid
 * value is ignored, like an invalid targeted field, RFC 9213 §2.2, and as Squid does).
 */
function isCachingDirective(member: string): boolean {
  const directives = parseCacheControl(member);
  if (directives.size === 0 || directives.has('no-store-remote') || directives.has('content')) return false;
  return !directives.has('max-age') || deltaSeconds(directives, 'max-age') !== undefined;
}

/** RFC 9110 §5.6.2 token: a device token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/** `no-store;abc` → the directive and its device token; a `;` inside a quoted value does not count. */
function splitTarget(member: string): { directive: string; target?: string } {
  const at = member.lastIndexOf(';');
  if (at === -1 || member.indexOf('"', at) !== -1) return { directive: member };
  const target = member.slice(at + 1).trim();
  if (!TOKEN.test(target)) return { directive: member };
  return { directive: member.slice(0, at).trim(), target };
}

/** `max-age=60+30` → `max-age=60, stale-if-error=30`; `max-age=60+x` → `max-age=60`. */
function expandFreshnessExtension(directive: string): string {
  const match = /^max-age=(\d+)\+(.*)$/i.exec(directive);
  if (!match) return directive;
  const [, lifetime, extension] = match;
  return /^\d+$/.test(extension ?? '') ? `max-age=${lifetime}, stale-if-error=${extension}` : `max-age=${lifetime}`;
}
