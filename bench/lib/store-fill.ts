import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  bodyPath,
  createBodyId,
  createLayout,
  hashKey,
  hashVariant,
  metaPath,
} from '../../packages/cache-server/src/store/layout.js';
import { SERVER_CORE, runPinned } from './processes.js';

/** One meta file: one variant (packages/cache-server/src/store/meta-file.ts). */
export interface MetaDocument {
  format: number;
  entry: { key: string; variant: string; bodyId: string } & Record<string, unknown>;
}

export interface TemplateEntry {
  doc: MetaDocument;
  body: Buffer;
}

/** The stored key of generated entry `i` ends with this path. */
export const entryPath = (i: number): string => `/entries/${i}.bin`;

/**
 * Finds the meta document a real cache wrote for the key ending in `pathname`, so that the
 * filled store holds exactly what the cache itself writes, whatever headers or fields it keeps.
 */
export async function readTemplateEntry(cacheDir: string, pathname: string): Promise<TemplateEntry> {
  const layout = createLayout(cacheDir);
  for (const fanOut of await readdir(layout.metaDir)) {
    for (const name of await readdir(path.join(layout.metaDir, fanOut))) {
      const text = await readFile(path.join(layout.metaDir, fanOut, name), 'utf8').catch(() => '');
      if (!text.includes(pathname)) continue;
      const doc = JSON.parse(text) as MetaDocument;
      if (!doc.entry.key.endsWith(pathname)) continue;
      return { doc, body: await readFile(bodyPath(layout, doc.entry.bodyId)) };
    }
  }
  throw new Error(`no stored entry for ${pathname} in ${cacheDir}`);
}

/**
 * Writes copies `from`..`to`-1 of the template into a store folder, each under its own key
 * (`pathname` replaced by `entryPath(i)`) with its own body file, as the disk store lays them
 * out. Synchronous writes: without the thread pool's round trips this is several times faster.
 */
export function writeEntries(dir: string, template: TemplateEntry, pathname: string, from: number, to: number): void {
  const layout = createLayout(dir);
  const base = template.doc.entry.key.slice(0, -pathname.length);
  for (let i = from; i < to; i += 1) {
    const key = `${base}${entryPath(i)}`;
    const entry = { ...template.doc.entry, key, bodyId: createBodyId() };
    writeFileSync(bodyPath(layout, entry.bodyId), template.body);
    writeFileSync(
      metaPath(layout, hashKey(key), hashVariant(entry.variant)),
      JSON.stringify({ ...template.doc, entry }),
    );
  }
}

/**
 * Fills a store with `count` entries. Creating files is CPU work in the kernel, so half of them
 * are written by a child process on the server core (idle at this point) while this process
 * writes the other half on its own core.
 */
export async function fillStore(
  dir: string,
  workDir: string,
  template: TemplateEntry,
  pathname: string,
  count: number,
): Promise<void> {
  const layout = createLayout(dir);
  for (const root of [layout.metaDir, layout.bodyDir]) {
    for (let i = 0; i < 256; i += 1) mkdirSync(path.join(root, i.toString(16).padStart(2, '0')), { recursive: true });
  }
  mkdirSync(layout.tmpDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const templateFile = path.join(workDir, 'template.json');
  await writeFile(templateFile, JSON.stringify({ doc: template.doc, body: template.body.toString('base64') }));
  const half = Math.floor(count / 2);
  const child = runPinned(SERVER_CORE, process.execPath, [
    '--import',
    'tsx',
    path.join(import.meta.dirname, 'store-fill-child.ts'),
    dir,
    templateFile,
    pathname,
    String(half),
    String(count),
  ]);
  writeEntries(dir, template, pathname, 0, half);
  const result = await child;
  if (result.code !== 0) throw new Error(`store-fill-child.ts failed (${result.code}): ${result.stderr}`);
}
