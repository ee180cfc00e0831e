import os from 'node:os';
import path from 'node:path';
import type { AccessLogFormat, CacheServerConfig, OptionSpec } from '@simple-cache/common';
import { parseDuration, parseSize } from '@simple-cache/common';
import { DISK_STORE, parseRedisTarget } from '../store/redis/redis-url.js';

// How the options' values are read (parse…: text → value, throwing to name the option as bad)
// and shown (show…: value → text, in --help and --check-config). Each row of the option table
// (options/*.ts) names its pair; the rows' common shapes are here, once.

/** One row of the option table: a flag, its environment variable and config-file key, and the config field it sets. */
export type ConfigOption = OptionSpec & { field: keyof CacheServerConfig };

/** Most workers accepted: beyond a few per core they only add memory and context switches. */
export const MAX_WORKERS = 256;

export const NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;

/** The value `--tls-cert` takes for a certificate generated at start (listen/certificates.ts). */
export const SELF_SIGNED = 'self-signed';

export function parseConfigPath(text: string): string {
  const file = text.trim();
  if (!/\.(ya?ml|json)$/i.test(file) || file.includes('\0')) throw new Error('not a config file');
  return file;
}

/** `auto`: the cores this process may run on (its affinity mask); else a whole number. */
export function parseWorkers(text: string): number {
  if (text.trim().toLowerCase() === 'auto') return Math.min(MAX_WORKERS, os.availableParallelism());
  const workers = parsePositiveInteger(text);
  if (workers > MAX_WORKERS) throw new Error('too many workers');
  return workers;
}

export function parseHost(text: string): string {
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(text)) throw new Error('bad host');
  return text;
}

export function parseStore(text: string): string {
  const trimmed = text.trim();
  if (trimmed !== DISK_STORE) parseRedisTarget(trimmed);
  return trimmed;
}

/** `redis://user:secret@host` → `redis://user:(redacted)@host`, for every URL of a list. */
export function redactStorePasswords(store: string): string {
  return store.replace(/(\/\/[^:/@,]*:)[^@/,]*@/g, '$1(redacted)@');
}

/**
 * A file path, made absolute. `(none)`, as --help and --check-config show an unset one, is not a
 * path: --check-config's output must read back as the same config.
 */
export function parseFilePath(text: string): string {
  if (text.trim() === '' || text.includes('\0') || /^\(.*\)$/.test(text.trim())) throw new Error('bad file');
  return path.resolve(text.trim());
}

export function showFile(value: unknown): string {
  return (value as string) === '' ? '(none)' : (value as string);
}

/** An SNI name (RFC 6066 §3: a DNS host name, no IP literal, no trailing dot). */
export function parseServername(text: string): string {
  const name = text.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) throw new Error('bad name');
  return name;
}

/** Kept to characters that are not glob syntax: a SCAN pattern is built from it (redis-keys.ts). */
export function parseRedisPrefix(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/.test(text)) throw new Error('bad prefix');
  return text;
}

export function parseNodeId(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/.test(text)) throw new Error('bad node id');
  return text;
}

export function parseDir(text: string): string {
  if (text.trim() === '' || text.includes('\0')) throw new Error('bad dir');
  return path.resolve(text);
}

export function parsePositiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes <= 0) throw new Error('must be positive');
  return bytes;
}

export function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error('must be positive');
  return ms;
}

export function parsePositiveInteger(text: string): number {
  if (!/^\s*\d+\s*$/.test(text) || !(Number(text) > 0) || !Number.isSafeInteger(Number(text))) {
    throw new Error('not a positive integer');
  }
  return Number(text);
}

export function parseName(text: string): string {
  if (!NAME.test(text)) throw new Error('bad name');
  return text;
}

/** `/_cache`: one or more path segments of unreserved characters, no trailing slash; `off`: not on the cache port. */
export function parseAdminPrefix(text: string): string {
  if (text === 'off') return '';
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(text)) throw new Error('bad prefix');
  return text;
}

/** RFC 6750 §2.1 b64token, so it fits an `Authorization: Bearer` header as is. */
export function parseToken(text: string): string {
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(text)) throw new Error('bad token');
  return text;
}

/** Field names (RFC 9110 §5.1 tokens), lower-cased, at least one. */
export function parseHeaderNames(text: string): readonly string[] {
  const names = text.split(',').map((name) => name.trim().toLowerCase());
  if (names.length === 0 || names.some((name) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))) {
    throw new Error('bad header names');
  }
  return Object.freeze([...new Set(names)]);
}

/** Media-type patterns (RFC 9110 §8.3.1 tokens): `type/subtype`, `type/*`, `*\/*+suffix`; lower-cased, at least one. */
export function parseMediaTypes(text: string): readonly string[] {
  const token = '[a-z0-9!#$&^_.+-]+';
  const pattern = new RegExp(`^(${token}/(${token}|\\*)|\\*/\\*\\+${token})$`);
  const types = text.split(',').map((type) => type.trim().toLowerCase());
  if (types.length === 0 || types.some((type) => !pattern.test(type))) throw new Error('bad media types');
  return Object.freeze([...new Set(types)]);
}

export function parseAccessLogFormat(text: string): AccessLogFormat {
  const format = text.trim().toLowerCase();
  if (format !== 'json' && format !== 'combined' && format !== 'off') throw new Error('bad access log format');
  return format;
}

/**
 * `stdout` (the default: '') or a file path, made absolute (SIGHUP reopens the same file whatever
 * the working directory); `./stdout` is a file of that name.
 */
export function parseLogDestination(text: string): string {
  const value = text.trim();
  if (value === 'stdout') return '';
  if (value === '' || value.includes('\0')) throw new Error('bad path');
  return path.resolve(value);
}

/** `on` / `off` (also true/false, yes/no, 1/0), any case. */
export function parseSwitch(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(value)) return true;
  if (['off', 'false', 'no', '0'].includes(value)) return false;
  throw new Error('not a switch');
}

/** One field name (RFC 9110 §5.1 token), lower-cased. */
export function parseFieldName(text: string): string {
  const name = text.trim().toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new Error('bad field name');
  return name;
}

export function showSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

export function showDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
