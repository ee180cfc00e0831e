// The explain view: the policy's steps for a URL, each with its RFC section.
import { element, formatBytes, formatSeconds } from './format.js';

function stepList(steps) {
  return element(
    'ol',
    { class: 'steps' },
    ...steps.map((step) =>
      element(
        'li',
        {},
        element('span', { class: 'check-name' }, step.check.replace('-', ' ')),
        element('span', {}, step.text),
        element('span', { class: 'rfc' }, step.rfc),
      ),
    ),
  );
}

export function verdict(outcome, text) {
  const label = outcome === 'stale-while-revalidate' ? 'serve stale + refresh' : outcome;
  return element(
    'div',
    { class: 'verdict' },
    element('span', { class: `pill ${outcome}` }, label),
    element('p', {}, ...text),
  );
}

export function explanationNodes(result) {
  const parts = [];
  if (result.rules?.bypass) {
    parts.push(
      verdict('miss', [
        'Rule ',
        element('code', {}, result.rules.bypass),
        ' bypasses the cache for this URL: it goes to the origin, and nothing is stored.',
      ]),
    );
  }
  if (result.stored === 0) {
    parts.push(
      verdict('miss', [
        'Nothing is stored for ',
        element('code', {}, result.key),
        ': the next request goes to the origin.',
      ]),
    );
    parts.push(stepList(result.steps));
  }
  for (const variant of result.variants) {
    const ttl = variant.ttl > 0 ? `fresh for ${formatSeconds(variant.ttl)}` : `stale by ${formatSeconds(-variant.ttl)}`;
    parts.push(
      verdict(variant.next.outcome, [
        'Next request: ',
        element('strong', {}, variant.next.outcome),
        ` — ${ttl}, lifetime ${formatSeconds(variant.freshness.lifetime)} from ${variant.freshness.source}, age ${formatSeconds(variant.age)}.`,
      ]),
    );
    const title = variant.variant
      ? `Variant ${variant.variant}`
      : `Stored response · ${variant.status} · ${formatBytes(variant.entry.size)}`;
    parts.push(element('div', { class: 'variant' }, element('h3', {}, title), stepList(variant.steps)));
  }
  if (result.probe) {
    if (!result.probe.ok) {
      parts.push(verdict('miss', [`The origin could not be asked: ${result.probe.error}.`]));
    } else {
      const stored = result.probe.storable.storable;
      parts.push(
        element(
          'div',
          { class: 'variant' },
          element(
            'h3',
            {},
            `The origin answers ${result.probe.status} now: ${stored ? 'the cache would store it' : 'the cache would not store it'}`,
          ),
          stepList(result.probe.steps),
        ),
      );
    }
  }
  return parts;
}
