import { spawnSync } from 'node:child_process';

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$0" >/dev/null`, command], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure a Debian-packaged tool is there: installs it with apt-get when missing and root
 * (refreshing the package lists once if the first try fails). Returns an explanation instead
 * when it cannot, so the caller decides whether that is fatal.
 */
export function ensureCommand(command: string, debianPackage: string): { ok: true } | { ok: false; reason: string } {
  if (hasCommand(command)) return { ok: true };
  const how = `install the Debian package: sudo apt-get install ${debianPackage}`;
  if (process.getuid?.() !== 0) return { ok: false, reason: `${command} is missing; ${how}` };
  if (!hasCommand('apt-get')) return { ok: false, reason: `${command} is missing and apt-get is not available` };
  process.stderr.write(`· installing ${debianPackage} with apt-get…\n`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    install();
  }
  return hasCommand(command)
    ? { ok: true }
    : { ok: false, reason: `apt-get could not install ${debianPackage}; ${how}` };
}

/** A tool's version line, for the report (e.g. `wrk 4.1.0`, `nginx/1.22.1`). */
export function readVersion(command: string, args: readonly string[], pattern: RegExp): string | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${result.stdout ?? ''}${result.stderr ?? ''}`)?.[0];
}
