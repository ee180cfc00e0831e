import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { canonicalAcceptLanguage } from '../../src/policy/accept-language.js';
import { secondaryKey, withCanonicalSelectingFields } from '../../src/policy/keys.js';

const variantOf = (value: string | string[]) => secondaryKey(['accept-language'], { 'accept-language': value }).variant;

/** RFC 9110 §12.5.4, §12.4.2: which Accept-Language values share a variant (the rule in accept-language.ts). */
describe('Accept-Language: the same variant only for the same preference', () => {
  test.each<[string, string | string[], string | string[], boolean]>([
    ['the same value', 'en, de;q=0.5', 'en, de;q=0.5', true],
    ['whitespace and empty members (RFC 9110 §5.6.1)', 'en,de;q=0.5', ' en ,, de ; q=0.5 ', true],
    ['case of the tags (RFC 4647 §2.1)', 'en-US, de', 'EN-us, DE', true],
    ['case of "q"', 'de;q=0.5', 'de;Q=0.5', true],
    ['q=1, q=1.0, q=1.000 and no weight are one weight', 'en, de', 'en;q=1.0, de;q=1', true],
    ['q=0.5 and q=0.500', 'de;q=0.5', 'de;q=0.500', true],
    ['several lines (RFC 9110 §5.3)', 'en, de;q=0.5', ['en', 'de;q=0.5'], true],
    ['different weights in a different order: same preference', 'en;q=0.9, de;q=0.8', 'de;q=0.8, en;q=0.9', true],
    ['the highest weight written last', 'de, fr;q=0.5', 'fr;q=0.5, de', true],
    ['q=0 members anywhere', 'en, fr;q=0', 'fr;q=0, en', true],
    ['equal weights in another order: order may be priority (§12.5.4)', 'en, de', 'de, en', false],
    ['equal explicit weights in another order', 'en;q=0.5, de;q=0.5', 'de;q=0.5, en;q=0.5', false],
    ['other weights, same order (the weights are the client’s)', 'en;q=0.9, de;q=0.8', 'en;q=0.7, de;q=0.1', false],
    ['a tie against a strict preference', 'en, de', 'en, de;q=0.5', false],
    ['another member', 'en, de;q=0.5', 'en, de;q=0.5, fr;q=0.1', false],
    ['another tag', 'en-US', 'en-GB', false],
    ['"*" is a member like any other', 'en, *;q=0.1', '*;q=0.1, en', true],
    ['an invalid value never shares a valid one’s variant', 'en, de;q=0.5', 'en, de;q=0.50000', false],
    ['an invalid value: compared as before (case, whitespace)', 'en;q=2', ' EN;q=2 ', true],
    ['an invalid value: its order kept', 'x_y, en', 'en, x_y', false],
  ])('%s', (_rule, a, b, same) => {
    expect(variantOf(a) === variantOf(b)).toBe(same);
  });

  test.each<[string, string | undefined]>([
    ['en', 'en'],
    ['de;q=0.8, en;q=0.9', 'en;q=0.9,de;q=0.8'],
    ['fr;q=0.5, de;q=1.0', 'de,fr;q=0.5'],
    ['en, de, fr;q=0.000', 'en,de,fr;q=0'],
    ['EN-us;Q=0.50', 'en-us;q=0.5'],
    ['zh-Hant-TW, *;q=0.1', 'zh-hant-tw,*;q=0.1'],
    ['', undefined],
    [' , ', undefined],
    ['en;q=1.5', undefined],
    ['en;q=0.1234', undefined],
    ['en;level=1', undefined],
    ['toolongtag', undefined],
    ['en_US', undefined],
    ['"en"', undefined],
  ])('canonical form of %j', (value, canonical) => {
    expect(canonicalAcceptLanguage(value)).toBe(canonical);
  });

  const member = fc.record({
    range: fc.oneof(fc.constantFrom('en', 'de', 'fr', 'en-US', 'pt-BR', '*'), fc.stringMatching(/^[a-z]{1,8}$/)),
    q: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
  });
  const written = ({ range, q }: { range: string; q: number | undefined }) =>
    q === undefined ? range : `${range};q=${q === 1000 ? '1' : (q / 1000).toFixed(3)}`;

  test('the canonical form is a valid value whose canonical form is itself', () => {
    fc.assert(
      fc.property(fc.array(member, { minLength: 1, maxLength: 6 }), (members) => {
        const canonical = canonicalAcceptLanguage(members.map(written).join(', '));
        expect(canonical).toBeDefined();
        expect(canonicalAcceptLanguage(canonical as string)).toBe(canonical);
      }),
    );
  });

  test('moving members of different weights past each other never changes the variant; ties keep their order', () => {
    fc.assert(
      fc.property(
        fc
          .array(member, { minLength: 2, maxLength: 6 })
          .chain((members) =>
            fc.tuple(fc.constant(members), fc.shuffledSubarray(members, { minLength: members.length })),
          ),
        ([members, permuted]) => {
          // The permutation's slots of each weight are refilled with that weight's members in
          // their original order: members of equal weight never pass each other.
          const weight = (m: { q: number | undefined }) => m.q ?? 1000;
          const queues = new Map<number, typeof members>();
          for (const m of members) queues.set(weight(m), [...(queues.get(weight(m)) ?? []), m]);
          const reordered = permuted.map(
            (m) => (queues.get(weight(m)) as typeof members).shift() as (typeof members)[0],
          );
          expect(variantOf(reordered.map(written).join(', '))).toBe(variantOf(members.map(written).join(', ')));
        },
      ),
    );
  });

  test('a fetch for the cache asks the origin with the canonical value; an invalid one goes as it came', () => {
    expect(withCanonicalSelectingFields({ 'accept-language': 'de;q=0.8, EN;q=0.9', foo: 'x' })).toEqual({
      'accept-language': 'en;q=0.9,de;q=0.8',
      foo: 'x',
    });
    expect(withCanonicalSelectingFields({ 'accept-language': 'en;q=2' })).toEqual({ 'accept-language': 'en;q=2' });
    expect(withCanonicalSelectingFields({ foo: 'x' })).toEqual({ foo: 'x' });
  });
});
