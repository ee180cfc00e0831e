import type { CacheServerConfig } from '@simple-cache/common';
import { ConfigFileError } from './config/file/index.js';
import type { PolicyOptions } from './policy/index.js';
import type { LoadedConfig } from './config/load-config.js';
import { policyOptionsFrom } from './config/policy-options.js';
import { compileRules, type CompiledRules } from './rules/index.js';

/**
 * The config in force, swapped whole on a reload (SIGHUP, `POST <admin>/config/reload`).
 *
 * A request reads `live.current` once, when it starts, and keeps that object to its end: requests
 * running during a reload finish under the old rules, the next ones get the new, and nothing is
 * half-swapped. Open connections are not touched.
 *
 * What a reload can change while running: the rules, the options that only feed the policy's
 * decisions (heuristics, heuristic-max-age, grace), and the log level (RELOADABLE). Everything else (ports, store, sizes, timeouts, the origin)
 * was used to build the server: a changed value is reported as "needs a restart" and the running
 * value stays in force (and is what `GET <admin>/config` shows).
 */
export interface ActiveConfig {
  readonly config: Readonly<CacheServerConfig>;
  /** The base policy (durations in seconds) that rules refine per request. */
  readonly policy: Readonly<PolicyOptions>;
  readonly rules: CompiledRules;
  /** sha256 of the config file read (hex); undefined without one. */
  readonly fileHash: string | undefined;
  /** Wall clock (ms) of the load. */
  readonly loadedAt: number;
}

export type ReloadResult =
  | {
      ok: true;
      fileHash: string | undefined;
      loadedAt: number;
      /** Options (flag names, and `rules`) whose new value is now in force. */
      applied: string[];
      /** Options whose new value differs from the running one but only takes effect after a restart. */
      needsRestart: string[];
    }
  | { ok: false; error: string; code: string };

/** Config fields a reload applies; their flag names are what the reload reports. */
const RELOADABLE: ReadonlySet<keyof CacheServerConfig> = new Set([
  'rules',
  'heuristics',
  'heuristicMaxAge',
  'grace',
  'logLevel',
]);

export interface LiveConfigOptions {
  /** Loads the config again from the same sources (argv, env, the file they name). */
  load(): Pick<LoadedConfig, 'config' | 'fileHash'>;
  /** Field name → flag name, for reports. */
  flagOf(field: keyof CacheServerConfig): string;
  /** Told of every reload (metrics, logs). */
  onReload?(result: ReloadResult): void;
  /** Sets the log level (pino's `level`). */
  setLogLevel?(level: string): void;
  /**
   * Called with the config about to be put in force, before anything changes: throws (an error
   * with a `code`) to refuse the reload, else returns what to do once it is in force (the TLS
   * listener re-reads its certificate files here).
   */
  prepare?(config: Readonly<CacheServerConfig>): () => unknown;
  now?(): number;
}

export class LiveConfig {
  #current: ActiveConfig;

  constructor(
    initial: Pick<LoadedConfig, 'config' | 'fileHash'>,
    private readonly options: LiveConfigOptions,
  ) {
    this.#current = activate(initial.config, initial.fileHash, this.now());
  }

  get current(): ActiveConfig {
    return this.#current;
  }

  /**
   * Re-reads the sources. A valid config is swapped in at once (one assignment); an invalid one
   * leaves the running config as it was and says why.
   */
  reload(): ReloadResult {
    const result = this.#reload();
    this.options.onReload?.(result);
    return result;
  }

  #reload(): ReloadResult {
    let loaded: Pick<LoadedConfig, 'config' | 'fileHash'>;
    try {
      loaded = this.options.load();
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'CACHE_ERR_BAD_CONFIG';
      const message = error instanceof ConfigFileError ? error.message : (error as Error).message;
      return { ok: false, error: message, code };
    }
    const running = this.#current.config;
    const applied: string[] = [];
    const needsRestart: string[] = [];
    const next: Record<string, unknown> = { ...running };
    for (const field of Object.keys(running) as (keyof CacheServerConfig)[]) {
      if (sameValue(running[field], loaded.config[field])) continue;
      if (RELOADABLE.has(field)) {
        next[field] = loaded.config[field];
        applied.push(this.options.flagOf(field));
      } else {
        needsRestart.push(this.options.flagOf(field));
      }
    }
    const config = Object.freeze(next) as unknown as Readonly<CacheServerConfig>;
    let commit: (() => unknown) | undefined;
    try {
      commit = this.options.prepare?.(config);
    } catch (error) {
      return {
        ok: false,
        error: (error as Error).message,
        code: (error as { code?: string }).code ?? 'CACHE_ERR_BAD_CONFIG',
      };
    }
    if (config.logLevel !== running.logLevel) this.options.setLogLevel?.(config.logLevel);
    const loadedAt = this.now();
    this.#current = activate(config, loaded.fileHash, loadedAt);
    commit?.();
    return { ok: true, fileHash: loaded.fileHash, loadedAt, applied, needsRestart };
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

/** Compiles what the proxy reads per request: done once per load, never per request. */
export function activate(
  config: Readonly<CacheServerConfig>,
  fileHash: string | undefined,
  loadedAt: number,
): ActiveConfig {
  const policy = policyOptionsFrom(config);
  return Object.freeze({
    config,
    policy,
    rules: compileRules(config.rules, policy, config.origin),
    fileHash,
    loadedAt,
  });
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
