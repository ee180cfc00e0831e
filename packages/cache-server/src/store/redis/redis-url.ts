/**
 * The `--store` setting: `disk` (the default, the embedded disk store) or where Redis is.
 * Pure parsing, no client: config validation uses it before anything connects.
 *
 *   redis://[user:password@]host[:port][/db]     one server (db defaults to 0)
 *   rediss://…                                   the same over TLS
 *   redis://a:7000,redis://b:7001,…              Redis Cluster seed nodes (db 0 only)
 *   redis-sentinel://[user:password@]s1:26379[,s2:26379…]/<master name>[/db]
 *                                                a master found through Redis Sentinel (the
 *                                                credentials are the master's); rediss-sentinel://
 *                                                reaches the master (and the sentinels) over TLS
 */
export const DISK_STORE = 'disk';

export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface RedisTarget {
  /** One server, the seed nodes of a cluster (the client discovers the rest), or the sentinels to ask. */
  mode: 'single' | 'cluster' | 'sentinel';
  nodes: RedisEndpoint[];
  /** Sentinel only: the name of the master group the sentinels monitor. */
  masterName?: string;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
}

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

export function isRedisStore(setting: string): boolean {
  return setting !== DISK_STORE;
}

/** Throws an Error saying what is wrong; the config layer turns it into an option error. */
export function parseRedisTarget(text: string): RedisTarget {
  if (/^rediss?-sentinel:\/\//.test(text.trim())) return parseSentinelUrl(text.trim());
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new Error('no Redis URL');
  const urls = parts.map(parseRedisUrl);
  const first = urls[0]!;
  if (urls.some((url) => url.tls !== first.tls)) throw new Error('cluster nodes mix redis:// and rediss://');
  if (urls.length > 1 && urls.some((url) => url.db !== 0)) throw new Error('Redis Cluster has only database 0');
  const target: RedisTarget = {
    mode: urls.length > 1 ? 'cluster' : 'single',
    nodes: urls.map(({ host, port }) => ({ host, port })),
    db: first.db,
    tls: first.tls,
  };
  const withAuth = urls.find((url) => url.password !== undefined || url.username !== undefined);
  if (withAuth?.username !== undefined) target.username = withAuth.username;
  if (withAuth?.password !== undefined) target.password = withAuth.password;
  return target;
}

/** The setting with any password masked, for logs. */
export function describeRedisTarget(target: RedisTarget): string {
  const scheme = target.tls ? 'rediss' : 'redis';
  const nodes = target.nodes.map((node) => `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`);
  if (target.mode === 'sentinel') return `${scheme}-sentinel://${nodes.join(',')}/${target.masterName}/${target.db}`;
  return `${scheme}://${nodes.join(',')}/${target.db}${target.mode === 'cluster' ? ' (cluster)' : ''}`;
}

/**
 * `redis-sentinel://[user:password@]host:port[,host:port…]/<master name>[/db]`: the host list is
 * not a URL host, so it is split off before the rest is read as one.
 */
function parseSentinelUrl(text: string): RedisTarget {
  const match = /^(rediss?)-sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/]+)(?:\/(\d+))?\/?$/.exec(text);
  if (!match) throw new Error('a sentinel URL is redis-sentinel://host:port[,host:port…]/<master name>[/db]');
  const [, scheme, auth, hosts, masterName, db] = match;
  const nodes = hosts!.split(',').map((host) => {
    const { hostname, port } = new URL(`redis://${host.trim()}`);
    if (hostname === '') throw new Error('a sentinel without a host');
    return { host: hostname.replace(/^\[|\]$/g, ''), port: port === '' ? DEFAULT_SENTINEL_PORT : Number(port) };
  });
  if (!/^[A-Za-z0-9._-]+$/.test(masterName!)) throw new Error('the master name may only contain A-Z a-z 0-9 . _ -');
  const target: RedisTarget = {
    mode: 'sentinel',
    nodes,
    masterName: masterName!,
    db: db === undefined ? 0 : Number(db),
    tls: scheme === 'rediss',
  };
  if (auth !== undefined && auth !== '') {
    const [user, password] = auth.split(':', 2);
    if (user !== undefined && user !== '') target.username = decodeURIComponent(user);
    if (password !== undefined) target.password = decodeURIComponent(password);
  }
  return target;
}

interface ParsedUrl extends RedisEndpoint {
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
}

function parseRedisUrl(text: string): ParsedUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${text}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('the scheme must be redis or rediss');
  if (url.hostname === '') throw new Error('no host');
  const path = url.pathname.replace(/^\//, '');
  if (!/^\d*$/.test(path)) throw new Error('the path must be a database number');
  const parsed: ParsedUrl = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? DEFAULT_PORT : Number(url.port),
    db: path === '' ? 0 : Number(path),
    tls: url.protocol === 'rediss:',
  };
  if (url.username !== '') parsed.username = decodeURIComponent(url.username);
  if (url.password !== '') parsed.password = decodeURIComponent(url.password);
  return parsed;
}
