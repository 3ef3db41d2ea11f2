import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/paths.js';

/**
 * docs/ARCHITECTURE.md's "Layering rules", held against the sources' imports (type-only
 * imports count: a type that one layer takes from another ties the two together too).
 */
const SRC = join(REPO_ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative module paths (`src/...` without extension) and packages each file imports. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  const local = specs.filter((s) => s.startsWith('.')).map((s) => relative(SRC, resolve(dirname(file), s.replace(/\.js$/, ''))));
  const packages = specs.filter((s) => !s.startsWith('.') && !s.startsWith('node:'));
  return { local, packages };
}

const graph = new Map(sources(SRC).map((f) => [relative(SRC, f).replace(/\.ts$/, ''), importsOf(f)]));
const inDir = (module: string, dir: string) => module.startsWith(`${dir}/`);

function offenders(from: string, forbidden: readonly string[]): string[] {
  const out: string[] = [];
  for (const [module, { local }] of graph) {
    if (!inDir(module, from)) continue;
    for (const target of local) if (forbidden.some((d) => inDir(target, d))) out.push(`${module} -> ${target}`);
  }
  return out;
}

describe('layering rules (docs/ARCHITECTURE.md)', () => {
  it('config is a leaf: it imports nothing from http/, webhooks/, app/, cli/ or the adapters', () => {
    assert.deepEqual(offenders('config', ['http', 'webhooks', 'app', 'cli', 'db', 'queue', 'storage']), []);
  });

  it('engine/ imports nothing from http/, tasks/, queue/, db/, storage/, webhooks/ or worker/', () => {
    assert.deepEqual(offenders('engine', ['http', 'tasks', 'queue', 'db', 'storage', 'webhooks', 'worker', 'app']), []);
  });

  it('the webhook dispatcher imports nothing from the HTTP server (the payload is the tasks\' envelope)', () => {
    assert.deepEqual(offenders('webhooks', ['http']), []);
  });

  it('tasks/ (the domain) imports no front end and no database adapter', () => {
    assert.deepEqual(offenders('tasks', ['http', 'db', 'app', 'cli']), []);
  });

  it('only engine/models/onnx-session.ts imports onnxruntime-node', () => {
    const users = [...graph].filter(([, i]) => i.packages.includes('onnxruntime-node')).map(([m]) => m);
    assert.deepEqual(users, ['engine/models/onnx-session']);
  });

  it('no circle of imports anywhere in src/ (engine/ included)', () => {
    // Tarjan's strongly connected components: any component of two or more is a circle.
    let index = 0;
    const stack: string[] = [];
    const onStack = new Set<string>();
    const idx = new Map<string, number>();
    const low = new Map<string, number>();
    const circles: string[][] = [];
    const visit = (v: string) => {
      idx.set(v, index);
      low.set(v, index);
      index++;
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v)?.local ?? []) {
        if (!graph.has(w)) continue;
        if (!idx.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
      if (low.get(v) === idx.get(v)) {
        const c: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          c.push(w);
        } while (w !== v);
        if (c.length > 1) circles.push(c.sort());
      }
    };
    for (const v of graph.keys()) if (!idx.has(v)) visit(v);
    assert.deepEqual(circles, []);
  });

  it('the checker sees imports at all (a guard against a silently empty graph)', () => {
    assert.ok(graph.size > 50, `only ${graph.size} modules found under ${SRC}`);
    assert.ok(graph.get('engine/steps/decode-step')!.local.includes('engine/image/decode'));
    assert.ok(graph.get('engine/local-engine')!.local.includes('engine/engine-config'));
  });
});
