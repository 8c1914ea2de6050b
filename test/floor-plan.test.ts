/**
 * The floor plan of docs/design.md holds: no folder of src/ imports a folder on a higher
 * floor, every folder is on the plan, and the folders' import graph has no cycle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

/** Floors as docs/design.md's table gives them: folder → floor. */
function floorsFromDesign(): Map<string, number> {
  const floors = new Map<string, number>();
  for (const line of readFileSync(join(ROOT, 'docs', 'design.md'), 'utf8').split('\n')) {
    const row = /^\| (\d+) \| ([^|]+) \|/.exec(line);
    if (!row) continue;
    for (const folder of (row[2] as string).matchAll(/`([^`]+)`/g)) floors.set(folder[1] as string, Number(row[1]));
  }
  return floors;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** `src/a/b/c.ts` → `a`; `src/index.ts` → `.`. */
const folderOf = (path: string) => {
  const parts = posix.relative('src', path).split('/');
  return parts.length === 1 ? '.' : (parts[0] as string);
};

/** Every import of one src folder from another: [from, to, file]. */
function folderImports(): [string, string, string][] {
  const edges: [string, string, string][] = [];
  const specifier = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const absolute of sources(join(ROOT, 'src'))) {
    const file = posix.relative(ROOT, absolute.split('\\').join('/'));
    for (const match of readFileSync(absolute, 'utf8').matchAll(specifier)) {
      const target = posix.normalize(posix.join(posix.dirname(file), match[1] as string));
      const from = folderOf(file);
      const to = target.startsWith('src/') ? folderOf(target) : `outside src (${target})`;
      if (from !== to) edges.push([from, to, file]);
    }
  }
  return edges;
}

/** The edges that point to a higher floor or to a folder off the plan, as messages. */
function upward(edges: readonly [string, string, string][], floors: Map<string, number>): string[] {
  return edges
    .filter(([from, to]) => !floors.has(to) || (floors.get(to) as number) > (floors.get(from) as number))
    .map(([from, to, file]) => `${file}: ${from} (floor ${floors.get(from)}) imports ${to} (floor ${floors.get(to)})`);
}

describe('floor plan', () => {
  const floors = floorsFromDesign();
  const edges = folderImports();

  it('docs/design.md places every folder of src/', () => {
    const folders = new Set(sources(join(ROOT, 'src')).map((p) => folderOf(posix.relative(ROOT, p.split('\\').join('/')))));
    expect([...folders].filter((f) => !floors.has(f))).toEqual([]);
    expect(floors.get('core')).toBe(0);
  });

  it('no import points up a floor or out of src/', () => {
    expect(upward(edges, floors)).toEqual([]);
  });

  it('the folders import each other without a cycle', () => {
    const next = new Map<string, Set<string>>();
    for (const [from, to] of edges) next.set(from, (next.get(from) ?? new Set()).add(to));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (folder: string, path: string[]) => {
      if (state.get(folder) === 'done') return;
      if (state.get(folder) === 'open') {
        cycles.push([...path.slice(path.indexOf(folder)), folder].join(' → '));
        return;
      }
      state.set(folder, 'open');
      for (const to of next.get(folder) ?? []) visit(to, [...path, folder]);
      state.set(folder, 'done');
    };
    for (const folder of next.keys()) visit(folder, []);
    expect(cycles).toEqual([]);
  });

  it('sees the imports it checks, and flags an upward one', () => {
    expect(edges.some(([from, to]) => from === 'api' && to === 'actors')).toBe(true);
    expect(upward([['core', 'api', 'src/core/x.ts'], ['api', 'core', 'src/api/y.ts']], floors)).toEqual(['src/core/x.ts: core (floor 0) imports api (floor 4)']);
  });
});
