/**
 * The layout rules of DESIGN.md that a reader relies on: no import cycle between the folders of
 * src/ (type imports count: a reader follows them too; each file at the top of src/ is a node of
 * its own, and src/backends/<name>/ is one folder), and no source file over about 450 lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}

/** The node a file belongs to: its folder under src/ (backends/<name> for a backend), or the file itself at the top. */
function nodeOf(file: string): string {
  const parts = relative(src, file).split('/');
  if (parts.length === 1) return parts[0];
  return parts.slice(0, parts[0] === 'backends' ? 2 : 1).join('/');
}

const files = sources(src);

/** Folder edges: node -> the nodes it imports from, each with one import that makes the edge. */
function folderEdges(): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'";]*?from '(\.[^']+)'/g)) {
      if (m[1].includes('?raw')) continue;
      const target = normalize(join(dirname(file), m[1])).replace(/\.js$/, '.ts');
      const [a, b] = [nodeOf(file), nodeOf(target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, `${relative(src, file)} imports ${relative(src, target)}`);
    }
  }
  return edges;
}

describe('source layout', () => {
  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it('has no import cycle between folders', () => {
    const edges = folderEdges();
    const cycles: string[] = [];
    // A cycle through a node shows as a path back to it; depth-first from every node.
    for (const start of edges.keys()) {
      const seen = new Set<string>();
      const walk = (node: string, path: string[]): void => {
        for (const [next, why] of edges.get(node) ?? []) {
          if (next === start) cycles.push([...path, why].join(' -> '));
          else if (!seen.has(next)) {
            seen.add(next);
            walk(next, [...path, why]);
          }
        }
      };
      walk(start, []);
    }
    expect(cycles).toEqual([]);
  });

  it('keeps every source file within about 450 lines', () => {
    const long = files.map((f) => [relative(src, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 460);
    expect(long).toEqual([]);
  });
});
