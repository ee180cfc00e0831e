import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { measureHitVariants, renderHitVariants, type Variant } from '../lib/hit-variants.js';
import type { Lab } from '../lib/lab.js';
import type { Progress, ScenarioReport } from '../lib/report.js';

/**
 * Twenty rules of the kinds real sites write (issue 14). Several match the hit paths, so every
 * hit asks the rules, merges settings and rewrites the key: what is measured is the cost of a
 * matching config, not of a config that never matches. None changes a hit into something else.
 */
export const TWENTY_RULES = `rules:
  - { name: api, match: { path: /api/** }, bypass: true }
  - { name: api-public, match: { path: /api/public/** }, bypass: false, ttl: 30s }
  - { name: admin, match: { path: [/admin/**, /wp-admin/**] }, bypass: true }
  - { name: login, match: { path: /login, methods: [GET, HEAD, POST] }, bypass: true }
  - { name: static, match: { path: [/static/**, /assets/**] }, ttl: 365d, strip-cookies: true }
  - { name: images, match: { path: ["/**/*.png", "/**/*.jpg", "/**/*.webp"] }, ttl: 30d }
  - { name: fonts, match: { path: "/**/*.woff2" }, ttl: 365d, force: true }
  - { name: favicon, match: { path: /favicon.ico, status: [404] }, ttl: 1m }
  - { name: not-found, match: { status: [404, 410] }, ttl: 30s }
  - { name: errors, match: { status: 5xx }, ttl: 5s }
  - { name: campaign, match: { path: /** }, key: { ignore-query: [utm_*, fbclid, gclid], sort-query: true } }
  - { name: lang, match: { path: /i18n/** }, key: { headers: [Accept-Language] } }
  - { name: binaries, match: { path: "/*.bin" }, default-ttl: 1h, grace: 10m }
  - { name: html, match: { path: ["/**/*.html", /] }, default-ttl: 1m, stale-while-revalidate: 30s }
  - { name: feeds, match: { path: [/feed, /rss.xml] }, ttl: 5m }
  - { name: search, match: { path: /search/** }, bypass: true }
  - { name: resilient, match: { path: /** }, stale-if-error: 1h }
  - { name: docs, match: { path: /docs/** }, default-ttl: 10m }
  - { name: downloads, match: { path: /downloads/** }, grace: 1d }
  - { name: health, match: { path: /healthz }, bypass: true }
`;

/**
 * Hit throughput with a 20-rule config (`--config`) against no config: two caches started alike,
 * the config their only difference, each round of the rules' cache between two of the plain one
 * (lib/hit-variants.ts). Rules are compiled once per load and their answers memoised per path, so
 * the ratio should stay within noise of 1.
 */
export async function runRules(lab: Lab, progress: Progress): Promise<ScenarioReport> {
  const configFile = path.join(await lab.dir('rules'), 'rules.yaml');
  await writeFile(configFile, TWENTY_RULES);
  const variants: Variant<'plain' | 'rules'>[] = [
    { id: 'plain', label: 'simple-cache, no config', env: {} },
    { id: 'rules', label: 'simple-cache, 20 rules', env: { CACHE_CONFIG: configFile } },
  ];
  const cells = await measureHitVariants(lab, progress, 'rules', variants);
  const { table, notes } = renderHitVariants(lab, variants, cells);
  const { connections, durationSec, warmupSec, rounds } = lab.options;
  return {
    title: `Hits with a 20-rule config against no config (${connections} connections)`,
    table,
    notes: [
      'Several of the 20 rules match every hit path (key rewrite, grace, default-ttl, stale-if-error).',
      ...notes,
    ],
    data: { connections, durationSec, warmupSec, rounds, rules: 20, cells },
  };
}
