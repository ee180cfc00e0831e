import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigFileError } from './config-file-error.js';

/** The file as parsed: its data, and where each value was written (for errors naming lines). */
export interface ParsedFile {
  /** As given (`--config` / CACHE_CONFIG), for messages. */
  file: string;
  text: string;
  /** sha256 of the bytes read, hex: tells which version of the file is active. */
  hash: string;
  data: unknown;
  /** The line (1-based) where the value at this path is written: its key's line, else the nearest parent's. */
  lineOf(at: readonly (string | number)[]): number;
}

const FORMATS: Readonly<Record<string, 'yaml' | 'json'>> = { '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json' };

/**
 * Reads a config file: YAML (`.yaml`, `.yml`) or JSON (`.json`), both through the `yaml`
 * library, which keeps every node's position (JSON is also checked by JSON.parse, so a file
 * named .json holds JSON and nothing more). Duplicate keys are errors. Read synchronously: a
 * config file is a few kilobytes, read at start-up and on a reload, and a synchronous read keeps
 * loading the config one plain function, the same for start-up, --check-config and reload.
 */
export function readConfigFile(file: string): ParsedFile {
  const format = FORMATS[path.extname(file).toLowerCase()];
  if (format === undefined) throw new ConfigFileError([`${file}: expected a .yaml, .yml or .json file`]);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigFileError([`${file}: cannot read it (${code ?? (error as Error).message})`]);
  }
  const text = bytes.toString('utf8');
  if (format === 'json') checkJson(file, text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      doc.errors.map((error) => `${file}:${error.linePos?.[0].line ?? 1} ${firstLine(error.message)}`),
    );
  }
  return {
    file,
    text,
    hash: createHash('sha256').update(bytes).digest('hex'),
    data: doc.toJS({ maxAliasCount: 100 }) ?? {},
    lineOf: (at) => lineCounter.linePos(offsetOf(doc, at)).line,
  };
}

function checkJson(file: string, text: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = Number(/position (\d+)/.exec(message)?.[1] ?? 0);
    const line = text.slice(0, position).split('\n').length;
    throw new ConfigFileError([`${file}:${line} ${message.replace(/\s*\(line \d+ column \d+\)$/, '')}`]);
  }
}

/** yaml's messages end with " at line N, column M:" and a code frame; the line is given separately. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

function offsetOf(doc: Document, at: readonly (string | number)[]): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const segment of at) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
