import os from 'node:os';
import path from 'node:path';
import type { AccessLogFormat, ActionSpec, CacheServerConfig, OptionSource, RuleConfig } from '@simple-cache/common';
import {
  OptionError,
  parseDuration,
  parseLogLevel,
  parseOptions,
  parseOriginUrl,
  parsePort,
  parseSize,
  type OptionSpec,
} from '@simple-cache/common';
import { checkRules, loadConfigFile } from './config-file/index.js';
import { DEFAULT_CACHE_NAME, DEFAULT_TARGETED_FIELD, HEURISTIC_FRACTION, type PolicyOptions } from './policy/types.js';
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_VARIANTS } from './store/disk-bounds.js';
import { DISK_STORE, parseRedisTarget } from './store/redis/redis-url.js';

export const DEFAULTS: Readonly<CacheServerConfig> = Object.freeze({
  port: 8001,
  host: '0.0.0.0',
  origin: 'http://localhost:8000',
  cacheDir: path.resolve(import.meta.dirname, '..', '.cache'),
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

/** Most workers accepted: beyond a few per core they only add memory and context switches. */
const MAX_WORKERS = 256;

const NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;

/** The one table of options: parsing, defaults, `--help` and error messages all come from it. */
export const OPTIONS: readonly (OptionSpec & { field: keyof CacheServerConfig })[] = [
  {
    flag: 'config',
    field: 'configFile',
    env: 'CACHE_CONFIG',
    description:
      'YAML (.yaml, .yml) or JSON (.json) file: any option below under its flag name, and rules; re-read on SIGHUP',
    default: DEFAULTS.configFile,
    expected: 'a .yaml, .yml or .json file',
    placeholder: 'file',
    showDefault: (v) => ((v as string) === '' ? '(none)' : (v as string)),
    parse: parseConfigPath,
  },
  {
    flag: 'port',
    field: 'port',
    env: 'CACHE_PORT',
    description: 'port to listen on (0 = any free port)',
    default: DEFAULTS.port,
    expected: 'a port number 0-65535',
    placeholder: 'port',
    parse: parsePort,
  },
  {
    flag: 'host',
    field: 'host',
    env: 'CACHE_HOST',
    description: 'address to listen on',
    default: DEFAULTS.host,
    expected: 'a host name or IP address',
    placeholder: 'host',
    parse: parseHost,
  },
  {
    flag: 'origin',
    field: 'origin',
    env: 'CACHE_ORIGIN',
    description: 'base URL of the origin server',
    default: DEFAULTS.origin,
    expected: 'an http(s) URL with scheme, e.g. http://localhost:8000',
    placeholder: 'url',
    parse: parseOriginUrl,
  },
  {
    flag: 'cache-dir',
    field: 'cacheDir',
    env: 'CACHE_DIR',
    description: 'directory for stored responses',
    default: DEFAULTS.cacheDir,
    expected: 'a directory path',
    placeholder: 'dir',
    parse: parseDir,
  },
  {
    flag: 'store',
    field: 'store',
    env: 'CACHE_STORE',
    description: 'where entries live: disk, or a Redis shared by several nodes',
    default: DEFAULTS.store,
    expected: 'disk, redis://host:port/db, rediss://host:port/db, or a comma list of redis:// cluster nodes',
    placeholder: 'disk|url',
    parse: parseStore,
    redact: (v) => redactStorePasswords(v as string),
  },
  {
    flag: 'collapse-wait',
    field: 'collapseWait',
    env: 'CACHE_COLLAPSE_WAIT',
    description:
      'with a shared store: how long a miss waits for another node fetching the same key, then fetches itself',
    default: DEFAULTS.collapseWait,
    expected: 'a duration such as 5s, 500ms or 0 (off)',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'redis-timeout',
    field: 'redisTimeout',
    env: 'CACHE_REDIS_TIMEOUT',
    description:
      'with Redis: how long one call waits for its reply; a few failures in 2s open the circuit breaker (calls then fail at once)',
    default: DEFAULTS.redisTimeout,
    expected: 'a duration such as 1s or 500ms',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'redis-meta-trust',
    field: 'redisMetaTrust',
    env: 'CACHE_REDIS_META_TRUST',
    description:
      'with Redis: how long a node serves hits from metadata held in memory after its invalidation channel last proved current (0 = ask Redis on every lookup)',
    default: DEFAULTS.redisMetaTrust,
    expected: 'a duration such as 1s, 250ms or 0',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'redis-prefix',
    field: 'redisPrefix',
    env: 'CACHE_REDIS_PREFIX',
    description: 'with Redis: the namespace of every key (<prefix>:v1:…), so that several caches can share one Redis',
    default: DEFAULTS.redisPrefix,
    expected: 'letters, digits and : . _ - (starting with a letter or digit), such as shop or team-a:cache',
    placeholder: 'name',
    parse: parseRedisPrefix,
  },
  ...tlsFileOptions(),
  {
    flag: 'redis-tls-servername',
    field: 'redisTlsServername',
    env: 'CACHE_REDIS_TLS_SERVERNAME',
    description: 'with rediss://: the name the server certificate must carry, when it is not the host connected to',
    default: DEFAULTS.redisTlsServername,
    expected: 'a host name such as redis.internal',
    placeholder: 'name',
    showDefault: (value) => ((value as string) === '' ? '(the host)' : (value as string)),
    parse: parseServername,
  },
  {
    flag: 'ready-needs-store',
    field: 'readyNeedsStore',
    env: 'CACHE_READY_NEEDS_STORE',
    description: 'whether a degraded store (Redis unavailable, disk refusing writes) makes /ready answer 503',
    default: DEFAULTS.readyNeedsStore,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'max-size',
    field: 'maxSize',
    env: 'CACHE_MAX_SIZE',
    description: 'most disk space the entries take, bodies and metadata in file-system blocks (LRU eviction beyond)',
    default: DEFAULTS.maxSize,
    expected: 'a size such as 500MB, 2GiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'max-entries',
    field: 'maxEntries',
    env: 'CACHE_MAX_ENTRIES',
    description: 'most entries (variants) kept on disk (LRU eviction beyond); bounds the index in memory too',
    default: DEFAULTS.maxEntries,
    expected: 'a positive whole number',
    placeholder: 'n',
    parse: parsePositiveInteger,
  },
  {
    flag: 'max-variants',
    field: 'maxVariants',
    env: 'CACHE_MAX_VARIANTS',
    description: "most variants (Vary) kept per URL; one more evicts that URL's least recently used",
    default: DEFAULTS.maxVariants,
    expected: 'a positive whole number',
    placeholder: 'n',
    parse: parsePositiveInteger,
  },
  {
    flag: 'max-object-size',
    field: 'maxObjectSize',
    env: 'CACHE_MAX_OBJECT_SIZE',
    description: 'largest response body stored; larger ones are passed through',
    default: DEFAULTS.maxObjectSize,
    expected: 'a size such as 256MiB, 10MB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'inactive',
    field: 'inactive',
    env: 'CACHE_INACTIVE',
    description: 'remove entries not used (served or stored) for this long',
    default: DEFAULTS.inactive,
    expected: 'a duration such as 10m, 7d, or off',
    placeholder: 'duration',
    showDefault: (v) => ((v as number) === 0 ? 'off' : showDuration(v as number)),
    parse: (text) => (text.trim().toLowerCase() === 'off' ? 0 : parseDuration(text)),
  },
  {
    flag: 'memory-size',
    field: 'memorySize',
    env: 'CACHE_MEMORY_SIZE',
    description: 'memory for small bodies served without disk I/O (0 = no memory tier)',
    default: DEFAULTS.memorySize,
    expected: 'a size such as 64MiB, 500MB or 0',
    placeholder: 'size',
    showDefault: (v) => ((v as number) === 0 ? '0' : showSize(v as number)),
    parse: parseSize,
  },
  {
    flag: 'memory-object-size',
    field: 'memoryObjectSize',
    env: 'CACHE_MEMORY_OBJECT_SIZE',
    description: 'largest body kept in the memory tier',
    default: DEFAULTS.memoryObjectSize,
    expected: 'a size such as 64KiB, 1MiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'origin-timeout',
    field: 'originTimeout',
    env: 'CACHE_ORIGIN_TIMEOUT',
    description:
      'how long to wait for the origin (connecting, the head once the request is sent, between body bytes) before 504',
    default: DEFAULTS.originTimeout,
    expected: 'a duration such as 2s, 500ms or 1m',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'max-connections',
    field: 'maxConnections',
    env: 'CACHE_MAX_CONNECTIONS',
    description: 'open client connections served; a new one beyond gets 503 with Retry-After',
    default: DEFAULTS.maxConnections,
    expected: 'a positive whole number',
    placeholder: 'n',
    parse: parsePositiveInteger,
  },
  {
    flag: 'max-header-size',
    field: 'maxHeaderSize',
    env: 'CACHE_MAX_HEADER_SIZE',
    description: 'most bytes of request line and headers; more gets 431',
    default: DEFAULTS.maxHeaderSize,
    expected: 'a size such as 16KiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'max-body-size',
    field: 'maxBodySize',
    env: 'CACHE_MAX_BODY_SIZE',
    description: 'most request body bytes forwarded to the origin; more gets 413',
    default: DEFAULTS.maxBodySize,
    expected: 'a size such as 64MiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'headers-timeout',
    field: 'headersTimeout',
    env: 'CACHE_HEADERS_TIMEOUT',
    description: 'time a client may take to send the request head; then 408',
    default: DEFAULTS.headersTimeout,
    expected: 'a duration such as 10s',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'request-timeout',
    field: 'requestTimeout',
    env: 'CACHE_REQUEST_TIMEOUT',
    description: 'time a client may take to send the whole request, body included; then 408',
    default: DEFAULTS.requestTimeout,
    expected: 'a duration such as 60s',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'idle-timeout',
    field: 'idleTimeout',
    env: 'CACHE_IDLE_TIMEOUT',
    description: 'a connection with no bytes moving this long is closed (e.g. a client that stops reading)',
    default: DEFAULTS.idleTimeout,
    expected: 'a duration such as 60s',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'max-event-loop-delay',
    field: 'maxEventLoopDelay',
    env: 'CACHE_MAX_EVENT_LOOP_DELAY',
    description: 'event-loop delay beyond which new requests get 503 with Retry-After (0 = never)',
    default: DEFAULTS.maxEventLoopDelay,
    expected: 'a duration such as 1s or 0',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'node-id',
    field: 'nodeId',
    env: 'CACHE_NODE_ID',
    description: 'this node’s name in logs (node) and metrics (simple_cache_node_info)',
    default: DEFAULTS.nodeId,
    expected: 'letters, digits and . _ : - (at most 64), such as cache-2',
    placeholder: 'id',
    showDefault: () => '(the host name)',
    parse: parseNodeId,
  },
  {
    flag: 'name',
    field: 'name',
    env: 'CACHE_NAME',
    description: 'this cache’s name in Cache-Status and Via',
    default: DEFAULTS.name,
    expected: 'a token such as simple-cache',
    placeholder: 'name',
    parse: parseName,
  },
  {
    flag: 'log-level',
    field: 'logLevel',
    env: 'CACHE_LOG_LEVEL',
    description: 'pino log level',
    default: DEFAULTS.logLevel,
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    placeholder: 'level',
    parse: parseLogLevel,
  },
  {
    flag: 'access-log',
    field: 'accessLog',
    env: 'CACHE_ACCESS_LOG',
    description: 'one line per request: json, combined (nginx’s format plus the cache status), or off',
    default: DEFAULTS.accessLog,
    expected: 'json, combined or off',
    placeholder: 'json|combined|off',
    parse: parseAccessLogFormat,
  },
  {
    flag: 'access-log-file',
    field: 'accessLogFile',
    env: 'CACHE_ACCESS_LOG_FILE',
    description: 'file the access log is appended to, reopened on SIGHUP (log rotation)',
    default: DEFAULTS.accessLogFile,
    expected: 'a file path, or stdout',
    placeholder: 'path',
    showDefault: (v) => ((v as string) === '' ? 'stdout' : (v as string)),
    parse: parseLogDestination,
  },
  {
    flag: 'access-log-query',
    field: 'accessLogQuery',
    env: 'CACHE_ACCESS_LOG_QUERY',
    description: 'write query strings in the access log (off: `?[Redacted]`, as they may carry tokens)',
    default: DEFAULTS.accessLogQuery,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'admin-prefix',
    field: 'adminPrefix',
    env: 'CACHE_ADMIN_PREFIX',
    description: 'path prefix of the admin endpoints on the cache port (never forwarded to the origin); off = none',
    default: DEFAULTS.adminPrefix,
    expected: 'a path such as /_cache, or off',
    placeholder: 'path',
    parse: parseAdminPrefix,
  },
  {
    flag: 'admin-port',
    field: 'adminPort',
    env: 'CACHE_ADMIN_PORT',
    description: 'also serve the admin endpoints on this port, bound to 127.0.0.1',
    default: DEFAULTS.adminPort,
    expected: 'a port number 0-65535',
    placeholder: 'port',
    showDefault: () => 'off',
    parse: parsePort,
  },
  {
    flag: 'admin-token',
    field: 'adminToken',
    env: 'CACHE_ADMIN_TOKEN',
    description: 'bearer token for purges (without one, only loopback clients may purge)',
    default: DEFAULTS.adminToken,
    expected: 'a token of letters, digits and -._~+/',
    placeholder: 'token',
    parse: parseToken,
    redact: (v) => ((v as string) === '' ? '' : '(redacted)'),
  },
  {
    flag: 'tag-header',
    field: 'tagHeaders',
    env: 'CACHE_TAG_HEADER',
    description: 'response headers carrying purge tags (comma separated; stripped before clients see them)',
    default: DEFAULTS.tagHeaders,
    expected: 'header names such as Surrogate-Key,Cache-Tag',
    placeholder: 'names',
    showDefault: (v) => (v as string[]).join(','),
    parse: parseHeaderNames,
  },
  {
    flag: 'heuristics',
    field: 'heuristics',
    env: 'CACHE_HEURISTICS',
    description: 'heuristic freshness (RFC 9111 §4.2.2) for responses with Last-Modified and no explicit lifetime',
    default: DEFAULTS.heuristics,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'heuristic-max-age',
    field: 'heuristicMaxAge',
    env: 'CACHE_HEURISTIC_MAX_AGE',
    description: 'cap on a heuristic freshness lifetime (10% of the time since Last-Modified)',
    default: DEFAULTS.heuristicMaxAge,
    expected: 'a duration such as 1d, 1h or 0',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'grace',
    field: 'grace',
    env: 'CACHE_GRACE',
    description: 'how long past stale-if-error a stale response is still served while the origin fails',
    default: DEFAULTS.grace,
    expected: 'a duration such as 10m, 1h or 0',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'disconnected-grace',
    field: 'disconnectedGrace',
    env: 'CACHE_DISCONNECTED_GRACE',
    description:
      'how long past expiry a stale response is served while the origin cannot be reached (refused, dropped, timed out)',
    default: DEFAULTS.disconnectedGrace,
    expected: 'a duration such as 1d, 1h or 0 (off)',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parseDuration,
  },
  {
    flag: 'targeted-field',
    field: 'targetedField',
    env: 'CACHE_TARGETED_FIELD',
    description: 'targeted Cache-Control field (RFC 9213) that overrides Cache-Control for this cache',
    default: DEFAULTS.targetedField,
    expected: 'a header name such as CDN-Cache-Control',
    placeholder: 'name',
    parse: parseFieldName,
  },
  {
    flag: 'strip-targeted-field',
    field: 'stripTargetedField',
    env: 'CACHE_STRIP_TARGETED_FIELD',
    description: 'remove the targeted field from responses to clients (RFC 9213 §3: forwarding is typical)',
    default: DEFAULTS.stripTargetedField,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'range-fetch-max',
    field: 'rangeFetchMax',
    env: 'CACHE_RANGE_FETCH_MAX',
    description: 'largest body fetched whole to answer a Range miss; larger ones pass the Range through, unstored',
    default: DEFAULTS.rangeFetchMax,
    expected: 'a size such as 16MiB, or 0 to pass every Range miss through',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parseSize,
  },
  {
    flag: 'workers',
    field: 'workers',
    env: 'CACHE_WORKERS',
    description: 'worker processes serving on the port and sharing one cache (auto = one per core; 1 = one process)',
    default: DEFAULTS.workers,
    expected: `a number of workers 1-${MAX_WORKERS}, or auto`,
    placeholder: 'n|auto',
    parse: parseWorkers,
  },
  {
    flag: 'tls-cert',
    field: 'tlsCert',
    env: 'CACHE_TLS_CERT',
    description:
      'certificate chain (PEM) of a TLS listener speaking HTTP/2 and HTTP/1.1, or self-signed for one made for localhost; re-read on SIGHUP',
    default: DEFAULTS.tlsCert,
    expected: 'a PEM file, or self-signed',
    placeholder: 'file',
    showDefault: (v) => ((v as string) === '' ? '(no TLS)' : (v as string)),
    parse: (text) => (text.trim() === SELF_SIGNED ? SELF_SIGNED : parseFilePath(text)),
  },
  {
    flag: 'tls-key',
    field: 'tlsKey',
    env: 'CACHE_TLS_KEY',
    description: "the certificate's private key (PEM); re-read on SIGHUP",
    default: DEFAULTS.tlsKey,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'tls-port',
    field: 'tlsPort',
    env: 'CACHE_TLS_PORT',
    description: 'port of the TLS listener, beside the plain --port',
    default: DEFAULTS.tlsPort,
    expected: 'a port number 0-65535',
    placeholder: 'port',
    parse: parsePort,
  },
  {
    flag: 'redirect-http',
    field: 'redirectHttp',
    env: 'CACHE_REDIRECT_HTTP',
    description: 'answer every request on the plain port with 308 to the same URL over HTTPS',
    default: DEFAULTS.redirectHttp,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'max-streams',
    field: 'maxStreams',
    env: 'CACHE_MAX_STREAMS',
    description: 'most concurrent HTTP/2 streams (requests) per client connection',
    default: DEFAULTS.maxStreams,
    expected: 'a positive whole number',
    placeholder: 'n',
    parse: parsePositiveInteger,
  },
  {
    flag: 'origin-ca',
    field: 'originCa',
    env: 'CACHE_ORIGIN_CA',
    description: "CA certificates (PEM) an https origin's certificate must chain to, instead of the system's",
    default: DEFAULTS.originCa,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-servername',
    field: 'originServername',
    env: 'CACHE_ORIGIN_SERVERNAME',
    description: "name sent in SNI and checked against an https origin's certificate (default: the origin URL's host)",
    default: DEFAULTS.originServername,
    expected: 'a host name',
    placeholder: 'name',
    showDefault: (v) => ((v as string) === '' ? "(the origin's host)" : (v as string)),
    parse: parseServername,
  },
  {
    flag: 'origin-cert',
    field: 'originCert',
    env: 'CACHE_ORIGIN_CERT',
    description: 'client certificate (PEM) presented to an https origin that asks for one',
    default: DEFAULTS.originCert,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-key',
    field: 'originKey',
    env: 'CACHE_ORIGIN_KEY',
    description: "the client certificate's private key (PEM)",
    default: DEFAULTS.originKey,
    expected: 'a PEM file',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  },
  {
    flag: 'origin-insecure',
    field: 'originInsecure',
    env: 'CACHE_ORIGIN_INSECURE',
    description:
      "accept any certificate from an https origin (tests only: anyone between can read and change what's cached)",
    default: DEFAULTS.originInsecure,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'compress',
    field: 'compress',
    env: 'CACHE_COMPRESS',
    description:
      'store br and gzip copies of compressible responses, made once as they are stored, for clients that accept them',
    default: DEFAULTS.compress,
    expected: 'on or off',
    placeholder: 'on|off',
    showDefault: (v) => (v ? 'on' : 'off'),
    parse: parseSwitch,
  },
  {
    flag: 'compress-types',
    field: 'compressTypes',
    env: 'CACHE_COMPRESS_TYPES',
    description: 'media types compressed (comma separated; type/*, */*+suffix allowed)',
    default: DEFAULTS.compressTypes,
    expected: 'media types such as text/*,application/json',
    placeholder: 'types',
    showDefault: (v) => (v as string[]).join(','),
    parse: parseMediaTypes,
  },
  {
    flag: 'compress-min-size',
    field: 'compressMinSize',
    env: 'CACHE_COMPRESS_MIN_SIZE',
    description: 'smallest body compressed',
    default: DEFAULTS.compressMinSize,
    expected: 'a size such as 1KiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parseSize,
  },
];

export const USAGE = 'pnpm --filter cache-server start [PORT] [options]';

/**
 * The policy's options from the server config: the one place where the config's milliseconds
 * become the policy's seconds (RFC 9111 counts ages and lifetimes in delta-seconds).
 */
export function policyOptionsFrom(config: Readonly<CacheServerConfig>): Readonly<PolicyOptions> {
  return Object.freeze({
    heuristics: config.heuristics,
    heuristicFraction: HEURISTIC_FRACTION,
    heuristicMaxAge: Math.floor(config.heuristicMaxAge / 1000),
    grace: Math.floor(config.grace / 1000),
    disconnectedGrace: Math.floor(config.disconnectedGrace / 1000),
    targetedField: config.targetedField,
    cacheName: config.name,
    stripTargetedField: config.stripTargetedField,
  });
}

/** The policy's options with every default (tests and embedders that build no config). */
export const DEFAULT_POLICY_OPTIONS: Readonly<PolicyOptions> = policyOptionsFrom(DEFAULTS);

/** Flags that ask for an action instead of setting an option. */
export const ACTIONS: readonly ActionSpec[] = [
  {
    flag: 'check-config',
    description: 'validate the options and the config file, print the resolved config and exit: 0 if valid, 2 if not',
  },
];

/** How the option layers rank, for --help. */
export const PRECEDENCE = 'flag > environment variable > config file (--config) > default';

/** Options whose relative paths, written in the config file, are relative to that file. */
const FILE_RELATIVE = new Set([
  'cache-dir',
  'tls-cert',
  'tls-key',
  'origin-ca',
  'origin-cert',
  'origin-key',
  'redis-tls-ca',
  'redis-tls-cert',
  'redis-tls-key',
]);

/** A loaded config and where it came from. */
export interface LoadedConfig {
  config: Readonly<CacheServerConfig>;
  help: boolean;
  /** `--check-config` was given. */
  checkConfig: boolean;
  /** Which layer set each option (flag name → flag, env, file or default). */
  sources: Readonly<Record<string, OptionSource>>;
  /** The config file's sha256 (hex); undefined without a file. */
  fileHash: string | undefined;
}

/**
 * argv + env + the config file they name → a validated, frozen config. Throws OptionError
 * naming the bad option, or ConfigFileError naming file, line and path. Precedence: flag > env >
 * file > default. The same function serves start-up, --check-config and reload (cli.ts).
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  const first = parseOptions(OPTIONS, argv, env, 'port', { actions: ACTIONS });
  const configFile = first.values.config as string;
  const checkConfig = first.actions.has('check-config');
  if (first.help || configFile === '')
    return { ...resolved(first), help: first.help, checkConfig, fileHash: undefined };
  const file = loadConfigFile(configFile, OPTIONS, FILE_RELATIVE, new Set([SELF_SIGNED]));
  const parsed = parseOptions(OPTIONS, argv, env, 'port', { actions: ACTIONS, file: file.options });
  return { ...resolved(parsed, file.rules), help: false, checkConfig, fileHash: file.hash };
}

function resolved(
  parsed: ReturnType<typeof parseOptions>,
  rules: readonly RuleConfig[] = [],
): Pick<LoadedConfig, 'config' | 'sources'> {
  const fields = Object.fromEntries(OPTIONS.map((o) => [o.field, parsed.values[o.flag]]));
  return { config: resolveConfig({ ...fields, rules }), sources: parsed.sources };
}

/**
 * Fills defaults for a partial config (used by tests and embedders) and freezes it. Rules given
 * here are checked against the config file's schema (ConfigFileError when invalid).
 */
export function resolveConfig(partial: Partial<CacheServerConfig>): Readonly<CacheServerConfig> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  if (partial.rules !== undefined && partial.rules.length > 0) checkRules(OPTIONS, partial.rules);
  const config = Object.freeze({ ...DEFAULTS, ...defined });
  checkPairs(config);
  return config;
}

/** The value `--tls-cert` takes for a certificate generated at start (listen/certificates.ts). */
export const SELF_SIGNED = 'self-signed';

/** Options that mean nothing, or something unsafe, without another one. */
function checkPairs(config: Readonly<CacheServerConfig>): void {
  const tls = config.tlsCert !== '';
  if (config.tlsCert === SELF_SIGNED ? config.tlsKey !== '' : tls !== (config.tlsKey !== '')) {
    throw new OptionError(
      config.tlsCert === SELF_SIGNED
        ? '--tls-key: a self-signed certificate brings its own key; leave --tls-key out'
        : '--tls-cert and --tls-key go together: give both, or neither',
    );
  }
  if (config.redirectHttp && !tls) throw new OptionError('--redirect-http needs the TLS listener (--tls-cert)');
  if ((config.originCert === '') !== (config.originKey === '')) {
    throw new OptionError('--origin-cert and --origin-key go together: give both, or neither');
  }
}

function parseConfigPath(text: string): string {
  const file = text.trim();
  if (!/\.(ya?ml|json)$/i.test(file) || file.includes('\0')) throw new Error('not a config file');
  return file;
}

/** `auto`: the cores this process may run on (its affinity mask); else a whole number. */
function parseWorkers(text: string): number {
  if (text.trim().toLowerCase() === 'auto') return Math.min(MAX_WORKERS, os.availableParallelism());
  const workers = parsePositiveInteger(text);
  if (workers > MAX_WORKERS) throw new Error('too many workers');
  return workers;
}

function parseHost(text: string): string {
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(text)) throw new Error('bad host');
  return text;
}

function parseStore(text: string): string {
  const trimmed = text.trim();
  if (trimmed !== DISK_STORE) parseRedisTarget(trimmed);
  return trimmed;
}

/** `redis://user:secret@host` → `redis://user:(redacted)@host`, for every URL of a list. */
function redactStorePasswords(store: string): string {
  return store.replace(/(\/\/[^:/@,]*:)[^@/,]*@/g, '$1(redacted)@');
}

/**
 * A file path, made absolute. `(none)`, as --help and --check-config show an unset one, is not a
 * path: --check-config's output must read back as the same config.
 */
function parseFilePath(text: string): string {
  if (text.trim() === '' || text.includes('\0') || /^\(.*\)$/.test(text.trim())) throw new Error('bad file');
  return path.resolve(text.trim());
}

function showFile(value: unknown): string {
  return (value as string) === '' ? '(none)' : (value as string);
}

/** An SNI name (RFC 6066 §3: a DNS host name, no IP literal, no trailing dot). */
function parseServername(text: string): string {
  const name = text.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) throw new Error('bad name');
  return name;
}

/** Kept to characters that are not glob syntax: a SCAN pattern is built from it (redis-keys.ts). */
function parseRedisPrefix(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/.test(text)) throw new Error('bad prefix');
  return text;
}

function parseNodeId(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/.test(text)) throw new Error('bad node id');
  return text;
}

/**
 * A file, as an absolute path ('' = none). Read when the store opens (a file that cannot be read
 * stops start-up then, naming the option): a path in a config file is relative to that file,
 * which only the file layer knows when it resolves it after checking the value.
 */

function tlsFileOptions(): (OptionSpec & { field: keyof CacheServerConfig })[] {
  const files = [
    ['ca', 'redisTlsCa', 'CA certificates to trust (PEM), beside the system’s'],
    ['cert', 'redisTlsCert', 'a client certificate (PEM), for servers that ask for one (tls-auth-clients)'],
    ['key', 'redisTlsKey', 'the client certificate’s private key (PEM)'],
  ] as const;
  return files.map(([name, field, what]) => ({
    flag: `redis-tls-${name}`,
    field,
    env: `CACHE_REDIS_TLS_${name.toUpperCase()}`,
    description: `with rediss://: ${what}`,
    default: DEFAULTS[field],
    expected: 'a file name',
    placeholder: 'file',
    showDefault: showFile,
    parse: parseFilePath,
  }));
}

function parseDir(text: string): string {
  if (text.trim() === '' || text.includes('\0')) throw new Error('bad dir');
  return path.resolve(text);
}

function parsePositiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes <= 0) throw new Error('must be positive');
  return bytes;
}

function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error('must be positive');
  return ms;
}

function parsePositiveInteger(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || !(Number(text) > 0) || !Number.isSafeInteger(Number(text))) {
    throw new Error('not a positive integer');
  }
  return Number(text);
}

function parseName(text: string): string {
  if (!NAME.test(text)) throw new Error('bad name');
  return text;
}

/** `/_cache`: one or more path segments of unreserved characters, no trailing slash; `off`: not on the cache port. */
function parseAdminPrefix(text: string): string {
  if (text === 'off') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(text)) throw new Error('bad prefix');
  return text;
}

/** RFC 6750 §2.1 b64token, so it fits an `Authorization: Bearer` header as is. */
function parseToken(text: string): string {
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(text)) throw new Error('bad token');
  return text;
}

/** Field names (RFC 9110 §5.1 tokens), lower-cased, at least one. */
function parseHeaderNames(text: string): readonly string[] {
  const names = text.split(',').map((name) => name.trim().toLowerCase());
  if (names.length === 0 || names.some((name) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))) {
    throw new Error('bad header names');
  }
  return Object.freeze([...new Set(names)]);
}

/** Media-type patterns (RFC 9110 §8.3.1 tokens): `type/subtype`, `type/*`, `*\/*+suffix`; lower-cased, at least one. */
function parseMediaTypes(text: string): readonly string[] {
  const token = '[a-z0-9!#$&^_.+-]+';
  const pattern = new RegExp(`^(${token}/(${token}|\\*)|\\*/\\*\\+${token})$`);
  const types = text.split(',').map((type) => type.trim().toLowerCase());
  if (types.length === 0 || types.some((type) => !pattern.test(type))) throw new Error('bad media types');
  return Object.freeze([...new Set(types)]);
}

function parseAccessLogFormat(text: string): AccessLogFormat {
  const format = text.trim().toLowerCase();
  if (format !== 'json' && format !== 'combined' && format !== 'off') throw new Error('bad access log format');
  return format;
}

/**
 * `stdout` (the default: '') or a file path, made absolute (SIGHUP reopens the same file whatever
 * the working directory); `./stdout` is a file of that name.
 */
function parseLogDestination(text: string): string {
  const value = text.trim();
  if (value === 'stdout') return '';
  if (value === '' || value.includes('\0')) throw new Error('bad path');
  return path.resolve(value);
}

/** `on` / `off` (also true/false, yes/no, 1/0), any case. */
function parseSwitch(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(value)) return true;
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  throw new Error('not a switch');
}

/** One field name (RFC 9110 §5.1 token), lower-cased. */
function parseFieldName(text: string): string {
  const name = text.trim().toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new Error('bad field name');
  return name;
}

function showSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

function showDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
