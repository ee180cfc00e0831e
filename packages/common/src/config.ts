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
  /** Upper bound of body bytes kept on disk. */
  maxSize: number;
  /** Milliseconds to wait for the origin's response headers (and between body chunks). */
  originTimeout: number;
  /** Name this cache uses in `Cache-Status` and `Via`. */
  name: string;
  logLevel: string;
}
