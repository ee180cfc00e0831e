// Types for scripts/build.mjs (plain JavaScript so that `pnpm start` needs neither tsx nor a build of itself).
export declare const RUN_COMPILED: readonly string[];
export declare function build(): boolean;
export declare function buildIfStale(): boolean;
