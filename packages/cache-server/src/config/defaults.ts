import os from 'node:os';
import path from 'node:path';
import type { CacheServerConfig, RuleConfig } from '@simple-cache/common';
import { DEFAULT_CACHE_NAME, DEFAULT_TARGETED_FIELD } from '../policy/types.js';
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_VARIANTS } from '../store/disk-bounds.js';
import { DISK_STORE } from '../store/redis/redis-url.js';

/**
 * The one defaults object: every option's value when no flag, environment variable or config
 * file sets it. The option table (option-table.ts) shows these in --help; resolveConfig()
 * (load-config.ts) fills a partial config from them.
 */
export const DEFAULTS: Readonly<CacheServerConfig> = Object.freeze({
  port: 8001,
  host: '0.0.0.0',
  origin: 'http://localhost:8000',
  cacheDir: path.resolve(import.meta.dirname, '..', '..', '.cache'),
  store: DISK_STORE,
  collapseWait: 5_000,
  redisTimeout: 1_000,
  redisMetaTrust: 1_000,
  readyNeedsStore: false,
  redisPrefix: 'sc',
  redisTlsCa: '',
  redisTlsCert: '',
  redisTlsKey: '',
  redisTlsServername: '',
  nodeId: os.hostname(),
  maxSize: 1024 ** 3,
  maxObjectSize: 256 * 1024 ** 2,
  // Why these two: store/disk-bounds.ts.
  maxEntries: DEFAULT_MAX_ENTRIES,
  maxVariants: DEFAULT_MAX_VARIANTS,
  inactive: 0,
  memorySize: 64 * 1024 ** 2,
  // A hit from memory costs about what bare node:http does; one read through libuv's thread pool
  // costs 85 % (issue 6), so bodies up to a MiB (256 KiB hits included) stay in memory.
  memoryObjectSize: 1024 ** 2,
  originTimeout: 10_000,
  maxConnections: 10_000,
  maxHeaderSize: 16 * 1024,
  maxBodySize: 64 * 1024 ** 2,
  headersTimeout: 10_000,
  requestTimeout: 60_000,
  idleTimeout: 60_000,
  maxEventLoopDelay: 1_000,
  name: DEFAULT_CACHE_NAME,
  logLevel: 'info',
  // One line per request, as the two lines Fastify wrote before did, to stdout beside the rest.
  accessLog: 'json',
  accessLogFile: '',
  accessLogQuery: false,
  adminPrefix: '/_cache',
  adminPort: null,
  adminToken: '',
  tagHeaders: Object.freeze(['surrogate-key', 'cache-tag']),
  heuristics: true,
  heuristicMaxAge: 86_400_000,
  grace: 0,
  // An outage is covered for a day (RFC 9111 §4.2.4 "disconnected"; nginx's use_stale error
  // timeout, Varnish's grace): long enough for a night without an operator, short enough that a
  // response days out of date is an error rather than a surprise. 5xx answers stay with --grace.
  disconnectedGrace: 86_400_000,
  targetedField: DEFAULT_TARGETED_FIELD,
  stripTargetedField: false,
  rangeFetchMax: 16 * 1024 ** 2,
  configFile: '',
  rules: Object.freeze([]) as readonly RuleConfig[],
  // One process unless asked: a worker is a whole server (memory tier, connections), and `auto`
  // cannot see a container's CPU quota (docs/design.md, Workers).
  workers: 1,
  tlsCert: '',
  tlsKey: '',
  tlsPort: 8443,
  redirectHttp: false,
  // nginx's http2_max_concurrent_streams is 128, the RFC 9113 §6.5.2 recommended floor 100.
  maxStreams: 100,
  originCa: '',
  originServername: '',
  originCert: '',
  originKey: '',
  originInsecure: false,
  compress: true,
  // What nginx's gzip_types and Cloudflare compress: text, scripts, data, vector images, WebAssembly.
  compressTypes: Object.freeze([
    'text/*',
    'application/javascript',
    'application/json',
    'application/xml',
    'application/wasm',
    'application/manifest+json',
    'image/svg+xml',
    '*/*+json',
    '*/*+xml',
  ]),
  // Under a KiB the framing and the coding's own header eat most of the saving.
  compressMinSize: 1024,
});
