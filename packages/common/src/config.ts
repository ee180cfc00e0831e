/** Config shapes. Each server validates its own once at start-up and freezes it. */

export interface MainServerConfig {
  port: number;
  host: string;
  /** Directory served. */
  root: string;
  /** `Cache-Control` sent with every file response. */
  cacheControl: string;
  logLevel: string;
}

export interface CacheServerConfig {
  port: number;
  host: string;
  /** Base URL of the origin, e.g. http://localhost:8000 (no trailing path). */
  origin: string;
  cacheDir: string;
  /** `disk` (the embedded disk store), or a Redis URL / comma list of cluster nodes shared by several nodes. */
  store: string;
  /** With a shared store: milliseconds a node waits for another node's fetch of the same key (also its lock's TTL); 0 = off. */
  collapseWait: number;
  /** With Redis: milliseconds one call may wait for its reply before it fails (and counts towards the circuit breaker). */
  redisTimeout: number;
  /**
   * With Redis: milliseconds a node keeps using the metadata it holds in memory after its
   * invalidation channel last proved current (the bound on staleness when a message is lost); 0 = ask Redis every time.
   */
  redisMetaTrust: number;
  /** Whether a degraded store (Redis unavailable, disk refusing writes) makes `<prefix>/ready` answer 503. */
  readyNeedsStore: boolean;
  /** With Redis: the namespace of every key (`<prefix>:v1:…`), so that several caches can share one Redis. */
  redisPrefix: string;
  /** With rediss://: PEM files of the CA to trust, the client certificate and its key ('' = none); the name the server certificate must carry ('' = the host). */
  redisTlsCa: string;
  redisTlsCert: string;
  redisTlsKey: string;
  redisTlsServername: string;
  /** This node's name in logs and metrics (default: the host name). */
  nodeId: string;
  /** Upper bound of what the stored entries take on disk (bodies and metadata, in file-system blocks). */
  maxSize: number;
  /** Upper bound of the number of stored entries (variants), which also bounds the disk store's index in memory. */
  maxEntries: number;
  /** Most variants (Vary) kept per URL; storing one more evicts that URL's least recently used. */
  maxVariants: number;
  /** Largest body stored; larger responses are passed through (also when found out mid-stream). */
  maxObjectSize: number;
  /** Milliseconds after which an entry nobody used is removed; 0 = never. */
  inactive: number;
  /** Byte budget of the in-memory tier for small bodies; 0 = no memory tier. */
  memorySize: number;
  /** Bodies up to this many bytes are kept in the memory tier. */
  memoryObjectSize: number;
  /** Milliseconds to wait for the origin's response headers (and between body chunks). */
  originTimeout: number;
  /** Open client connections served; beyond them a new connection gets 503 + Retry-After. */
  maxConnections: number;
  /** Bytes of request line + headers accepted (Node's maxHeaderSize); more gets 431. */
  maxHeaderSize: number;
  /** Bytes of request body forwarded to the origin; more gets 413. */
  maxBodySize: number;
  /** Milliseconds a client may take to send the request head (slowloris); then 408. */
  headersTimeout: number;
  /** Milliseconds a client may take to send the whole request, body included; then 408. */
  requestTimeout: number;
  /** Milliseconds a connection may sit with no bytes moving (e.g. a client that stops reading); then closed. */
  idleTimeout: number;
  /** Event-loop delay (ms) beyond which new requests get 503 + Retry-After; 0 = never. */
  maxEventLoopDelay: number;
  /** Name this cache uses in `Cache-Status` and `Via`. */
  name: string;
  logLevel: string;
  /** One line per request: `json` (pino-shaped), `combined` (nginx's format plus the cache's fields), or `off`. */
  accessLog: AccessLogFormat;
  /** File the access log is appended to (reopened on SIGHUP); '' = stdout. */
  accessLogFile: string;
  /** Write query strings in the access log; off, a query is logged as `?[Redacted]` (it may carry tokens). */
  accessLogQuery: boolean;
  /** Path prefix reserved for the admin endpoints on the cache port, e.g. `/_cache` (never forwarded); '' = none there. */
  adminPrefix: string;
  /** Separate admin port on 127.0.0.1 (0 = any free port); null = off. */
  adminPort: number | null;
  /** Bearer token for state-changing admin calls; '' = none (then only loopback clients may change state). */
  adminToken: string;
  /** Lower-case response header names that carry purge tags (space or comma separated); never sent to clients. */
  tagHeaders: readonly string[];
  /** Heuristic freshness (RFC 9111 §4.2.2) for responses with Last-Modified and no explicit lifetime. */
  heuristics: boolean;
  /** Cap on a heuristic freshness lifetime, milliseconds. */
  heuristicMaxAge: number;
  /** Milliseconds a stale response may still be served while the origin fails, beyond stale-if-error. */
  grace: number;
  /** Milliseconds past expiry a stale response may be served while the origin cannot be reached (RFC 9111 §4.2.4). */
  disconnectedGrace: number;
  /** Lower-case name of the targeted Cache-Control field this cache obeys (RFC 9213), e.g. `cdn-cache-control`. */
  targetedField: string;
  /** Remove the targeted field from responses to clients (RFC 9213 §3: forwarding it is typical). */
  stripTargetedField: boolean;
  /** Largest body fetched whole (and stored) to answer a Range miss; above it the Range is passed through. */
  rangeFetchMax: number;
  /**
   * The TLS listener's certificate chain (PEM file), or `self-signed` for one generated for
   * localhost at first start; '' = no TLS listener. Re-read on reload (SIGHUP).
   */
  tlsCert: string;
  /** The certificate's private key (PEM file); '' with `self-signed`. */
  tlsKey: string;
  /** Port of the TLS listener (HTTP/2 and HTTP/1.1 by ALPN), beside the plain `port`. */
  tlsPort: number;
  /** Plain-port requests get 308 to the same URL over HTTPS (needs the TLS listener). */
  redirectHttp: boolean;
  /** Most concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxStreams: number;
  /** CA certificates (PEM file) an https origin's certificate must chain to; '' = the system's. */
  originCa: string;
  /** Name sent in SNI and checked against the origin's certificate; '' = the origin URL's host. */
  originServername: string;
  /** Client certificate (PEM file) presented to an https origin that asks for one; '' = none. */
  originCert: string;
  /** Its private key (PEM file). */
  originKey: string;
  /** Accept any certificate from an https origin: for tests only, logged loudly at start. */
  originInsecure: boolean;
  /** Compress compressible responses once, as they are stored, for clients that accept br or gzip. */
  compress: boolean;
  /** Media types compressed: `type/subtype`, `type/*`, `*\/*+suffix`. */
  compressTypes: readonly string[];
  /** Bodies smaller than this many bytes are not compressed. */
  compressMinSize: number;
  /** The config file read at start-up and on reload (`--config`); '' = none. */
  configFile: string;
  /** The operator's per-path rules (config file `rules:`), in file order; every matching one applies. */
  rules: readonly RuleConfig[];
  /** Worker processes serving on the port, sharing one cache (`--workers`); 1 = a single process, no primary. */
  workers: number;
}

/** The access log's formats (`--access-log`). */
export type AccessLogFormat = 'json' | 'combined' | 'off';

/** A duration as written: `5m`, `500ms`, `1d`, or a number of seconds. */
export type DurationText = string | number;

/**
 * One rule as written in the config file (validated against one schema, cache-server's
 * rules/rule-schema.ts; compiled by rules/compile.ts). Names are the file's own.
 */
export interface RuleConfig {
  name?: string;
  match: {
    /** Path globs: `*` within one segment, `**` across segments. */
    path?: string | readonly string[];
    /** Request methods; GET and HEAD when absent. */
    methods?: readonly string[];
    /** Response statuses or classes (`404`, `5xx`), for the settings that act on the response. */
    status?: number | string | readonly (number | string)[];
  };
  bypass?: boolean;
  ttl?: DurationText;
  force?: boolean;
  'default-ttl'?: DurationText;
  key?: { 'ignore-query'?: readonly string[]; 'sort-query'?: boolean; headers?: readonly string[] };
  'strip-cookies'?: boolean;
  grace?: DurationText;
  'stale-if-error'?: DurationText;
  'stale-while-revalidate'?: DurationText;
}
