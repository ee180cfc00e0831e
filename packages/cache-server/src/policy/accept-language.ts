/**
 * When do two Accept-Language values (RFC 9110 §12.5.4) select the same variant? Only when the
 * origin cannot have meant a different answer, so the rule is narrow:
 *
 * - the same language ranges (any case, RFC 4647 §2.1) with the same weights (`q=1`, `q=1.0` and
 *   no weight are one weight, RFC 9110 §12.4.2), whitespace and empty members aside;
 * - in the same order of preference: sorted by weight, highest first. Members of different
 *   weights may be written in any order, since the weight says which is preferred (§12.4.2);
 *   members of EQUAL weight keep the order they were written in, because "some recipients treat
 *   the order in which language tags are listed as an indicator of descending priority,
 *   particularly for tags that are assigned equal quality values" (§12.5.4).
 *
 * So `de;q=0.8, en;q=0.9` and `en;q=0.9, de;q=0.8` share a variant; `en, de` and `de, en` do not,
 * nor do `en;q=0.9` and `en;q=0.8` (the weights themselves are the client's statement, and an
 * origin may apply thresholds to them). Choosing a variant from the stored Content-Language (the
 * conformance suite's optional vary-normalise-lang-select) is not done: the origin may hold
 * variants the cache has never seen.
 *
 * The canonical form is itself a valid Accept-Language value that maps to itself, and the cache
 * sends it to the origin on every fetch whose response may be stored (proxy/forward-headers.ts),
 * so every request sharing a variant gets the origin's answer to one and the same value, even
 * from an origin that reads only the order. A value outside the grammar has no canonical form
 * (undefined): it is compared and forwarded as it was, so it can never share a variant with a
 * valid one.
 */
export function canonicalAcceptLanguage(value: string): string | undefined {
  const members: { range: string; q: number }[] = [];
  for (const raw of value.split(',')) {
    const text = raw.trim();
    if (text === '') continue;
    const match = MEMBER.exec(text);
    if (!match) return undefined;
    members.push({ range: (match[1] as string).toLowerCase(), q: match[2] === undefined ? 1 : Number(match[2]) });
  }
  if (members.length === 0) return undefined;
  // Array.prototype.sort is stable: members of equal weight keep their written order.
  members.sort((a, b) => b.q - a.q);
  return members.map(({ range, q }) => (q === 1 ? range : `${range};q=${q}`)).join(',');
}

/**
 * `language-range [ weight ]` (RFC 4647 §2.1, RFC 9110 §12.4.2): 1*8ALPHA *("-" 1*8alphanum) or
 * "*", then optionally OWS ";" OWS "q=" qvalue.
 */
const MEMBER = /^([a-z]{1,8}(?:-[a-z0-9]{1,8})*|\*)(?:[ \t]*;[ \t]*q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?))?$/i;
