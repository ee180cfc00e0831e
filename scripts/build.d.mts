// Types for scripts/build.mjs (plain JavaScript so that `pnpm start` needs neither tsx nor a build of itself).
/** The V8 flag every server runs with (`pnpm start`, the demo, the bench), the bench's ceiling too. */
export declare const HEAP_GROWING: string;
export declare const RUN_COMPILED: readonly string[];
export declare function build(): boolean;
export declare function buildIfStale(): boolean;
