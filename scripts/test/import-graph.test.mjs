import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { findCycles, isRoute, readImportGraph } from '../import-graph.mjs';

// The shape's rules that the import graph can check (docs/design.md, The proxy's shape): no import
// cycle (a module evaluated before one it needs, and two files that can only be understood
// together), none at all inside policy/ (type-only imports included), and no route module
// importing another (a route never calls a route: it returns a Retry).
const src = path.resolve(import.meta.dirname, '..', '..', 'packages/cache-server/src');
const graph = readImportGraph(src);

describe('the import graph of packages/cache-server/src', () => {
  it('is read (the files and the imports are found)', () => {
    expect(graph.files.length).toBeGreaterThan(150);
    expect(graph.all).toContainEqual({ from: 'proxy/proxy.ts', to: 'proxy/route.ts', typeOnly: false });
  });

  it('finds a cycle when there is one', () => {
    const files = ['a.ts', 'b.ts', 'c.ts'];
    const list = [
      { from: 'a.ts', to: 'b.ts' },
      { from: 'b.ts', to: 'a.ts' },
      { from: 'b.ts', to: 'c.ts' },
    ];
    expect(findCycles(files, list)).toEqual([['a.ts', 'b.ts']]);
  });

  it('has no runtime import cycle', () => {
    expect(findCycles(graph.files, graph.runtime)).toEqual([]);
  });

  it('has no cycle inside policy/, type-only imports included', () => {
    const policy = graph.all.filter((edge) => edge.from.startsWith('policy/') && edge.to.startsWith('policy/'));
    expect(findCycles(graph.files, policy)).toEqual([]);
  });

  it('has no route module importing another', () => {
    expect(graph.all.filter((edge) => isRoute(edge.from) && isRoute(edge.to))).toEqual([]);
  });
});
