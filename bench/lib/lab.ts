import { constants } from 'node:fs';
import { access, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { startCeiling } from '../peers/ceiling.js';
import { startNginx } from '../peers/nginx.js';
import { onCleanup } from './cleanup.js';
import { SHM } from './stale-runs.js';
import { HIT_BODIES, LARGE_PATH, TEMPLATE_PATH, TEMPLATE_SIZE, writeOriginFiles } from './fixtures.js';
import type { BenchOptions } from './options.js';
import { startCache, startOrigin, type Target } from './servers.js';

async function isWritableDir(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
}

/**
 * The servers most scenarios share, started on first use and stopped at cleanup: one origin
 * serving generated files, the ceiling, the cache in front of the origin and (with --peers)
 * nginx in front of the same origin. Scenarios that need their own servers (a slow origin, a
 * pre-filled store) start them with the same helpers.
 */
export class Lab {
  private readonly started = new Map<string, Promise<Target>>();

  constructor(
    readonly options: BenchOptions,
    /** The run's temp folder, removed at cleanup. */
    readonly tmp: string,
    /** nginx's version when --peers and nginx is available. */
    readonly nginxVersion: string | undefined,
  ) {}

  get withNginx(): boolean {
    return this.nginxVersion !== undefined;
  }

  /** A fresh folder inside the run's temp folder. */
  async dir(name: string): Promise<string> {
    const dir = path.join(this.tmp, name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * A folder in memory (tmpfs /dev/shm) when there is one, else on disk: for the start-up
   * scenario's 200,000 small files, which a busy disk takes minutes to create and delete. It
   * is named after the run's temp folder so that a sweep can tell whose it is.
   */
  async memoryDir(name: string): Promise<string> {
    if (!(await isWritableDir(SHM))) return this.dir(name);
    const dir = path.join(SHM, path.basename(this.tmp), name);
    await mkdir(dir, { recursive: true });
    if (!this.options.keepTemp) onCleanup(() => rm(path.dirname(dir), { recursive: true, force: true }));
    return dir;
  }

  logPath(name: string): string {
    return path.join(this.tmp, 'logs', `${name}.log`);
  }

  get cacheDir(): string {
    return path.join(this.tmp, 'cache');
  }

  /** Big enough that nothing a scenario stores is ever evicted. */
  get cacheMaxSize(): number {
    return 4 * this.options.largeSize + 1024 ** 3;
  }

  /** The cache's default (256 MiB), raised to the large-file scenario's body when that is larger. */
  get cacheMaxObjectSize(): number {
    return Math.max(this.options.largeSize, 256 * 1024 ** 2);
  }

  origin(): Promise<Target> {
    return this.once('origin', async () => {
      const root = await this.dir('origin-root');
      const { scenarios, largeSize } = this.options;
      await writeOriginFiles(root, scenarios.includes('large') ? largeSize : undefined, scenarios.includes('redis'));
      return startOrigin({ root, logPath: this.logPath('origin'), logLevel: this.options.logLevel });
    });
  }

  ceiling(): Promise<Target> {
    return this.once('ceiling', () => {
      const bodies: Record<string, number> = Object.fromEntries(HIT_BODIES.map((body) => [body.path, body.size]));
      bodies[TEMPLATE_PATH] = TEMPLATE_SIZE;
      if (this.options.scenarios.includes('large')) bodies[LARGE_PATH] = this.options.largeSize;
      return startCeiling(bodies, this.logPath('ceiling'));
    });
  }

  cache(): Promise<Target> {
    return this.once('cache', async () => {
      const origin = await this.origin();
      return startCache({
        origin: origin.url,
        cacheDir: await this.dir('cache'),
        logPath: this.logPath('cache'),
        logLevel: this.options.logLevel,
        maxSize: this.cacheMaxSize,
        maxObjectSize: this.cacheMaxObjectSize,
      });
    });
  }

  /** undefined without --peers (or without nginx). */
  async nginx(): Promise<Target | undefined> {
    if (!this.withNginx) return undefined;
    return this.once('nginx', async () => startNginx((await this.origin()).url, await this.dir('nginx')));
  }

  /** Every shared server, in table order: references first, then the caches. */
  async all(): Promise<Target[]> {
    const targets = [await this.ceiling(), await this.origin()];
    const nginx = await this.nginx();
    if (nginx) targets.push(nginx);
    targets.push(await this.cache());
    return targets;
  }

  private once(name: string, start: () => Promise<Target>): Promise<Target> {
    let target = this.started.get(name);
    if (!target) {
      target = start();
      this.started.set(name, target);
    }
    return target;
  }
}
