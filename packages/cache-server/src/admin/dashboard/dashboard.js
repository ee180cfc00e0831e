// The admin dashboard. Plain browser JavaScript, served as is: every URL is relative to the page
// (`<prefix>/`), so it works under any --admin-prefix and on the admin port alike.
/* global sessionStorage, URLSearchParams */

import { renderChart } from './chart.js';
import { explanationNodes, verdict } from './explain-view.js';
import { element, formatBytes, formatRate, formatSeconds, formatVariant, integer } from './format.js';

const STATS_EVERY_MS = 2000;
const ENTRIES_EVERY_MS = 5000;
const TOKEN_KEY = 'simple-cache-admin-token';

const state = { seconds: 300, sort: 'hits', purgeKind: 'url', stats: undefined };
const $ = (id) => document.getElementById(id);

// ---------- talking to the cache ----------

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function setLive(stateName, text) {
  $('live').dataset.state = stateName;
  $('live-text').textContent = text;
}

// ---------- key figures ----------

/** A degraded store (the disk refuses writes, Redis does not answer): since when and why. */
function renderStoreHealth(health) {
  const line = $('store-health');
  const degraded = health !== undefined && health.state !== 'ok';
  line.hidden = !degraded;
  if (!degraded) return;
  const since = new Date(health.since).toLocaleTimeString();
  line.textContent = `${health.partial ? 'partly degraded' : 'degraded'} since ${since}: ${health.message}`;
}

function renderStats(stats) {
  state.stats = stats;
  $('cache-name').textContent = stats.name;
  $('origin-url').textContent = stats.origin.url;
  $('uptime').textContent = formatSeconds(stats.uptimeSeconds);
  document.title = `${stats.name} · dashboard`;

  const { requests, bytes, store, history } = stats;
  const ratio = requests.hitRatio;
  $('hit-ratio').textContent = ratio === null ? '—' : `${(ratio * 100).toFixed(1)} %`;
  $('hit-ring').style.strokeDasharray = `${ratio === null ? 0 : ratio * 100} 100`;
  $('hit-note').textContent =
    requests.cacheable === 0
      ? 'no cacheable requests yet'
      : `${integer.format(requests.fromCache)} of ${integer.format(requests.cacheable)} from the cache`;

  const recent = history.requests.slice(-60);
  const rate = recent.reduce((sum, n) => sum + n, 0) / Math.max(1, recent.length);
  $('req-rate').textContent = formatRate(rate);
  $('req-note').textContent = `last minute · ${integer.format(requests.total)} since start`;

  const served = bytes.fromCache + bytes.fromOrigin;
  $('bytes-saved').textContent = formatBytes(bytes.fromCache);
  $('bytes-note').textContent =
    served === 0
      ? 'served from the cache, not the origin'
      : `${((bytes.fromCache / served) * 100).toFixed(0)} % of ${formatBytes(served)} served`;

  const fill = store.fill ?? 0;
  $('store-fill').textContent = `${(fill * 100).toFixed(fill < 0.1 ? 2 : 1)} %`;
  $('store-meter').style.width = `${Math.max(fill * 100, store.size > 0 ? 1 : 0)}%`;
  $('store-meter').dataset.level = fill > 0.9 ? 'high' : 'normal';
  const extras = [
    store.evictions > 0 ? `${integer.format(store.evictions)} evicted` : '',
    store.hotTier ? `${formatBytes(store.hotTier.size ?? 0)} in memory` : '',
  ].filter(Boolean);
  $('store-note').textContent = [
    `${formatBytes(store.size)} of ${formatBytes(store.maxSize)}`,
    `${integer.format(store.entries)} entries`,
    ...extras,
  ].join(' · ');

  renderStoreHealth(store.health);

  $('token-hint').textContent = stats.auth.tokenRequired
    ? '(required: the cache has --admin-token)'
    : '(not configured: purges only from this machine)';
  renderChart($('chart'), history, state.seconds);
}

// ---------- entries ----------

function freshnessPill(ttl) {
  return ttl > 0
    ? element('span', { class: 'pill fresh' }, `fresh ${formatSeconds(ttl)}`)
    : element('span', { class: 'pill stale' }, `stale ${formatSeconds(-ttl)}`);
}

function renderEntries(page) {
  const body = $('top-entries').tBodies[0];
  if (page.items.length === 0) {
    body.replaceChildren(element('tr', { class: 'empty' }, element('td', { colspan: '5' }, 'Nothing stored yet.')));
  } else {
    body.replaceChildren(
      ...page.items.map((entry) => {
        const tags = entry.tags.length
          ? element(
              'span',
              { class: 'tags' },
              ...entry.tags.slice(0, 4).map((tag) => element('span', { class: 'tag' }, tag)),
            )
          : undefined;
        const link = element(
          'button',
          { type: 'button', title: `Explain ${entry.path}`, onclick: () => explain(entry.path) },
          entry.path,
        );
        // A URL's variants (its br and gzip copies, a Vary) are rows of their own: say which is which.
        const variant = entry.variant
          ? element('span', { class: 'variant', title: 'Stored variant (Vary)' }, formatVariant(entry.variant))
          : undefined;
        return element(
          'tr',
          { 'data-key': entry.key },
          element('td', { class: 'url' }, link, variant, tags),
          element('td', { class: 'num' }, integer.format(entry.hits)),
          element('td', { class: 'num' }, formatBytes(entry.size)),
          element('td', { class: 'num' }, formatSeconds(entry.age)),
          element('td', {}, freshnessPill(entry.ttl)),
        );
      }),
    );
  }
  $('entries-foot').textContent =
    page.total > page.items.length ? `Top ${page.items.length} of ${integer.format(page.total)} entries` : '';
}

// ---------- purge ----------

const PURGE_KINDS = {
  url: { label: 'URL or path', placeholder: '/style.css', param: 'url' },
  prefix: { label: 'Every URL starting with', placeholder: '/images/', param: 'prefix' },
  tag: { label: 'Tag (from Surrogate-Key / Cache-Tag)', placeholder: 'product-42', param: 'tag' },
  all: { label: 'Everything stored', placeholder: 'every entry will be removed', param: 'all' },
};

function selectPurgeKind(kind) {
  state.purgeKind = kind;
  for (const button of $('purge-kind').querySelectorAll('button')) {
    button.setAttribute('aria-pressed', String(button.dataset.kind === kind));
  }
  const spec = PURGE_KINDS[kind];
  $('purge-target-label').textContent = spec.label;
  $('purge-target').placeholder = spec.placeholder;
  $('purge-target').disabled = kind === 'all';
  if (kind === 'all') $('purge-target').value = '';
}

function showResult(id, kind, text) {
  const node = $(id);
  node.dataset.kind = kind;
  node.textContent = text;
}

async function purge(event) {
  event.preventDefault();
  const kind = state.purgeKind;
  const target = $('purge-target').value.trim();
  if (kind !== 'all' && target === '') return showResult('purge-result', 'error', 'Enter what to purge.');
  const token = $('purge-token').value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  const query = new URLSearchParams({ [PURGE_KINDS[kind].param]: kind === 'all' ? '1' : target });
  if ($('purge-soft').checked) query.set('soft', '1');
  $('purge-submit').disabled = true;
  try {
    const response = await fetch(`entries?${query}`, {
      method: 'DELETE',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) return showResult('purge-result', 'error', body.message ?? `HTTP ${response.status}`);
    const noun = body.purged === 1 ? 'entry' : 'entries';
    showResult('purge-result', 'ok', `${body.soft ? 'Marked stale' : 'Purged'}: ${body.purged} ${noun}.`);
    void refreshEntries();
  } catch (error) {
    showResult('purge-result', 'error', String(error.message ?? error));
  } finally {
    $('purge-submit').disabled = false;
  }
}

// ---------- explain ----------

async function explain(url) {
  $('explain-url').value = url;
  $('explain-submit').disabled = true;
  try {
    const response = await fetch(`explain?${new URLSearchParams({ url })}`, { cache: 'no-store' });
    const body = await response.json();
    if (!response.ok) {
      $('explain-result').replaceChildren(verdict('miss', [body.message ?? `HTTP ${response.status}`]));
      return;
    }
    $('explain-result').replaceChildren(...explanationNodes(body));
  } catch (error) {
    $('explain-result').replaceChildren(verdict('miss', [String(error.message ?? error)]));
  } finally {
    $('explain-submit').disabled = false;
  }
}

// ---------- wiring ----------

async function refreshStats() {
  try {
    renderStats(await getJson('stats?history=600'));
    setLive('live', 'live');
  } catch {
    setLive('offline', 'offline');
  }
}

async function refreshEntries() {
  try {
    renderEntries(await getJson(`entries?${new URLSearchParams({ sort: state.sort, limit: '8' })}`));
  } catch {
    // The stats poll already shows the connection state.
  }
}

function every(ms, task) {
  const run = async () => {
    await task();
    setTimeout(run, ms);
  };
  void run();
}

function pressOne(group, button) {
  for (const other of group.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === button));
}

function start() {
  $('range').addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    pressOne($('range'), button);
    state.seconds = Number(button.dataset.seconds);
    if (state.stats) renderChart($('chart'), state.stats.history, state.seconds);
  });
  $('entry-sort').addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    pressOne($('entry-sort'), button);
    state.sort = button.dataset.sort;
    void refreshEntries();
  });
  $('purge-kind').addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (button) selectPurgeKind(button.dataset.kind);
  });
  $('purge-form').addEventListener('submit', purge);
  $('explain-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const url = $('explain-url').value.trim();
    if (url) void explain(url);
  });
  $('purge-token').value = sessionStorage.getItem(TOKEN_KEY) ?? '';
  window.addEventListener('resize', () => state.stats && renderChart($('chart'), state.stats.history, state.seconds));
  every(STATS_EVERY_MS, refreshStats);
  every(ENTRIES_EVERY_MS, refreshEntries);
}

start();
