// Types for scripts/system-packages.mjs (plain JavaScript: the test command runs it before any install of tsx).
export interface SystemPackage {
  name: string;
  binary: string;
  alsoInstall?: string[];
  neededBy: string;
}
export declare const SYSTEM_PACKAGES: readonly SystemPackage[];
export declare const ROOT: string;
export declare function findExecutable(binary: string): string | undefined;
export declare function missingSystemPackages(): SystemPackage[];
export declare function isRoot(): boolean;
export declare function missingReason(pkg: SystemPackage): string;
export declare function declaredSystemPackages(file: string): string[];
export declare function skippedTestFiles(): { file: string; missing: SystemPackage[] }[];
export declare function skippedBanner(skipped: { file: string; missing: SystemPackage[] }[]): string;
