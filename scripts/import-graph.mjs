#!/usr/bin/env node
// `node scripts/import-graph.mjs [src dir]`: facts about the import graph of the cache server's
// sources (issue 17), so that a reshape can be measured rather than described: imports between
// folders, import cycles, which files one request can reach from proxy/proxy.ts, and imports
// between route modules. Type-only imports count (they are design dependencies too) and are
// shown separately. Reads the files with a regex over import/export-from lines: no build needed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.resolve(process.argv[2] ?? path.join(ROOT, 'packages/cache-server/src'));

/** Before the reshape the routes were files beside the rest of proxy/; after it, proxy/routes/*. */
const OLD_ROUTE_FILES = new Set(
  ['serve-stored', 'send-fetched', 'pass-through', 'revalidate-head', 'fetch-and-serve', 'distributed-collapse'].map(
    (name) => `proxy/${name}.ts`,
  ),
);
export const isRoute = (file) => file.startsWith('proxy/routes/') || OLD_ROUTE_FILES.has(file);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return walk(full);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
  });
}

const IMPORT =
  /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'|^\s*import\s+'(\.[^']+)'|import\('(\.[^']+)'\)/gm;

/**
 * The import graph of the sources under `src`: its files (relative paths) and its edges
 * ({ from, to, typeOnly }), all of them and the runtime ones (not type-only). Also used by
 * scripts/test/import-graph.test.mjs, which holds the graph to the shape's rules.
 */
export function readImportGraph(src) {
  const files = walk(src).map((full) => path.relative(src, full));
  /** file → [{ to, typeOnly }] */
  const edges = new Map();
  for (const file of files) {
    const text = readFileSync(path.join(src, file), 'utf8');
    const list = [];
    for (const match of text.matchAll(IMPORT)) {
      const spec = match[3] ?? match[4] ?? match[5];
      const to = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
      if (!files.includes(to)) continue;
      const typeOnly = match[2] !== undefined;
      const known = list.find((edge) => edge.to === to);
      if (known) known.typeOnly &&= typeOnly;
      else list.push({ to, typeOnly });
    }
    edges.set(file, list);
  }
  const all = [...edges].flatMap(([from, list]) => list.map((edge) => ({ from, ...edge })));
  return { files, all, runtime: all.filter((edge) => !edge.typeOnly) };
}

const folderOf = (file) => (file.includes('/') ? file.split('/')[0] : '.');

/** Strongly connected components (Tarjan) of the graph `list` spans with more than one file: its import cycles. */
export function findCycles(files, list) {
  const next = new Map(files.map((file) => [file, []]));
  for (const edge of list) next.get(edge.from).push(edge.to);
  let index = 0;
  const stack = [];
  const info = new Map();
  const found = [];
  function visit(v) {
    info.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of next.get(v)) {
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).onStack) {
        info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
      }
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  }
  for (const file of files) if (!info.has(file)) visit(file);
  return found;
}

function reachable(from, list) {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length > 0) {
    const file = queue.shift();
    for (const edge of list) {
      if (edge.from !== file || seen.has(edge.to)) continue;
      seen.add(edge.to);
      queue.push(edge.to);
    }
  }
  return seen;
}

// Run as a command (not imported by the test): print the facts.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { files, all, runtime } = readImportGraph(SRC);
  const out = [];
  out.push(
    `import graph of ${path.relative(ROOT, SRC) || SRC}: ${files.length} files, ${all.length} imports (${runtime.length} not type-only)`,
  );

  const byFolder = new Map();
  for (const edge of all) {
    const from = folderOf(edge.from);
    const to = folderOf(edge.to);
    if (from === to) continue;
    const key = `${from} → ${to}`;
    byFolder.set(key, (byFolder.get(key) ?? 0) + 1);
  }
  out.push('', 'imports between top-level folders (all kinds):');
  for (const [key, count] of [...byFolder].sort()) out.push(`  ${key}: ${count}`);

  const cyc = findCycles(files, runtime);
  out.push('', `import cycles (runtime imports): ${cyc.length}`);
  for (const component of cyc) out.push(`  ${component.join(' ⇄ ')}`);

  const entry = 'proxy/proxy.ts';
  if (files.includes(entry)) {
    const reach = [...reachable(entry, runtime)];
    const proxyFiles = reach.filter((file) => file.startsWith('proxy/'));
    out.push(
      '',
      `files reachable from ${entry} (runtime imports): ${reach.length}, of which in proxy/: ${proxyFiles.length}`,
    );
  }

  const routeEdges = all.filter((edge) => isRoute(edge.from) && isRoute(edge.to));
  out.push('', `imports from one route module to another: ${routeEdges.length}`);
  for (const edge of routeEdges) out.push(`  ${edge.from} → ${edge.to}${edge.typeOnly ? ' (type)' : ''}`);

  const forbidden = all.filter(
    (edge) =>
      (edge.from.startsWith('policy/') && !edge.to.startsWith('policy/')) ||
      (edge.from.startsWith('store/') && (edge.to.startsWith('proxy/') || edge.to.startsWith('admin/'))),
  );
  out.push('', `imports out of policy/, and from store/ into proxy/ or admin/: ${forbidden.length}`);
  for (const edge of forbidden) out.push(`  ${edge.from} → ${edge.to}`);

  const proxySizes = files
    .filter((file) => file.startsWith('proxy/'))
    .map((file) => [file, readFileSync(path.join(SRC, file), 'utf8').split('\n').length - 1])
    .sort((a, b) => b[1] - a[1]);
  out.push(
    '',
    `proxy/ files: ${proxySizes.length}; largest: ${proxySizes
      .slice(0, 5)
      .map(([f, n]) => `${f} ${n}`)
      .join(', ')}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
