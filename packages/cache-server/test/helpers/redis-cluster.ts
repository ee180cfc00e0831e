import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './http.js';
import { findFreePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** The masters, in the order their slot ranges were assigned (0-5460, 5461-10922, 10923-16383). */
  readonly masters: RedisServer[];
  /** `redis://a,redis://b,…`: the cache's --store for this cluster. */
  readonly url: string;
  cleanup(): Promise<void>;
}

/**
 * A real Redis Cluster of `size` masters (no replicas) on free loopback ports, made with
 * `redis-cli --cluster create` (Debian package redis-tools, installed with redis-server).
 * `cluster-require-full-coverage no` keeps the other masters serving their slots when one
 * master dies: the partial failure a circuit breaker per slot owner is for.
 */
export async function startRedisCluster(size = 3, args: string[] = []): Promise<RedisCluster> {
  const masters: RedisServer[] = [];
  try {
    for (let i = 0; i < size; i += 1) {
      // The cluster bus gets a free port of its own (by default port + 10000: in the ephemeral range).
      const port = await findFreePort();
      let busPort = await findFreePort();
      while (busPort === port) busPort = await findFreePort();
      masters.push(
        await startRedisServer(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
            '--cluster-require-full-coverage',
            'no',
            '--cluster-port',
            String(busPort),
            ...args,
          ],
          port,
        ),
      );
    }
    const addresses = masters.map((master) => `127.0.0.1:${master.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    await Promise.all(masters.map((master) => waitForClusterOk(master.port)));
  } catch (error) {
    await Promise.all(masters.map((master) => master.cleanup()));
    throw error;
  }
  return {
    masters,
    url: masters.map((master) => master.url).join(','),
    cleanup: async () => {
      await Promise.all(masters.map((master) => master.cleanup()));
    },
  };
}

async function waitForClusterOk(port: number): Promise<void> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    await waitFor(async () => /cluster_state:ok/.test(await client.cluster('INFO')), 'the cluster to be ok', 30_000);
  } finally {
    client.disconnect();
  }
}

export interface RedisSentinelSetup {
  master: RedisServer;
  replica: RedisServer;
  /** The sentinel's port. */
  sentinelPort: number;
  /** `redis-sentinel://127.0.0.1:<sentinel>/<name>`: the cache's --store. */
  url: string;
  /** The master's port, as the sentinel reports it now. */
  masterPort(): Promise<number>;
  cleanup(): Promise<void>;
}

/**
 * A master, its replica and one sentinel (quorum 1) monitoring them as `name`, on free loopback
 * ports: the single-master-with-failover set-up. The sentinel is `redis-server --sentinel` (the
 * same binary; Debian's redis-sentinel package only adds a service for it).
 */
export async function startRedisSentinel(name = 'cache'): Promise<RedisSentinelSetup> {
  const master = await startRedisServer();
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const sentinelPort = await findFreePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'simple-cache-sentinel-'));
  const config = path.join(dir, 'sentinel.conf');
  await writeFile(
    config,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = spawn('redis-server', [config, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    sentinel.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('+monitor master')) resolve();
    });
    sentinel.once('exit', (code) => reject(new Error(`redis-server --sentinel exited with ${code}:\n${output}`)));
  });
  const ask = new Redis(sentinelPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const masterPort = async () => Number(((await ask.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]);
  // A failover needs the sentinel to know the replica, and the replica to be in sync: its first
  // full sync done (a loaded machine takes seconds over it, and until then WAIT counts no replica).
  await waitFor(
    async () => ((await ask.call('SENTINEL', 'REPLICAS', name)) as unknown[]).length > 0,
    'the sentinel to discover the replica',
    30_000,
  );
  const replicaClient = new Redis(replica.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    await waitFor(
      async () => /\r\nmaster_link_status:up\r\n/.test(await replicaClient.info('replication')),
      'the replica to finish its first sync',
      30_000,
    );
  } finally {
    replicaClient.disconnect();
  }
  return {
    master,
    replica,
    sentinelPort,
    url: `redis-sentinel://127.0.0.1:${sentinelPort}/${name}`,
    masterPort,
    cleanup: async () => {
      ask.disconnect();
      const exited = new Promise((resolve) => sentinel.once('exit', resolve));
      sentinel.kill('SIGTERM');
      await exited;
      await Promise.all([master.cleanup(), replica.cleanup()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
