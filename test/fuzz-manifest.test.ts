/**
 * Fuzzing model manifests (`model.json`, src/engine/model/manifest.ts): a valid manifest with
 * fields replaced, removed or added, and arbitrary JSON and text, decode to a manifest or are
 * refused with a ModelPackageError naming the file and each field at fault. See docs/fuzzing.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelPackageError } from '../src/engine/model/errors.js';
import { readManifest } from '../src/engine/model/loader.js';
import { decodeManifest, MANIFEST_FORMAT } from '../src/engine/model/manifest.js';
import { hostileJson, nested, outcome, outcomeAsync, params } from './support/fuzz.js';

const FILE = 'fuzz/model.json';
const VALID = JSON.parse(readFileSync(new URL('../models/random/model.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** Every path to a value inside `root` (objects and arrays), the root's own fields first. */
function paths(root: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (root !== null && typeof root === 'object') {
    for (const [k, v] of Object.entries(root)) {
      const p = [...at, Array.isArray(root) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}
const PATHS = paths(VALID);

type Edit = { path: (string | number)[]; how: 'set' | 'delete' | 'add'; value: unknown };

function edited(edits: readonly Edit[]): unknown {
  const copy = structuredClone(VALID) as Record<string, unknown>;
  for (const { path, how, value } of edits) {
    let parent: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = parent[key];
      if (next === null || typeof next !== 'object') return copy;
      parent = next as Record<string | number, unknown>;
    }
    const leaf = path.at(-1) as string | number;
    if (how === 'delete') delete parent[leaf];
    else if (how === 'add') parent[`${String(leaf)}_extra`] = value;
    else parent[leaf] = value;
  }
  return copy;
}

/** Numbers near the ones a manifest holds, with the corners (0, negatives, fractions, huge). */
const nearValue = fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constantFrom(0, 0.5, 2 ** 53, 1e308, -0, 1000, 1000.5, 'block-cascade/model@1', MANIFEST_FORMAT, 'toString', 'constructor', '__proto__', '', '/abs.onnx', '../up.onnx', 'a\\b.onnx'));
const edit: fc.Arbitrary<Edit> = fc.record({
  path: fc.constantFrom(...PATHS),
  how: fc.constantFrom('set', 'set', 'delete', 'add') as fc.Arbitrary<Edit['how']>,
  value: fc.oneof(nearValue, hostileJson),
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function decodesOrRefuses(json: unknown): void {
  const result = outcome(() => decodeManifest(json, FILE), [ModelPackageError], /^fuzz\/model\.json: /);
  if (result.ok) return;
  const error = result.error as ModelPackageError;
  expect(error.code).toBe('E_MODEL_MANIFEST_INVALID');
  for (const issue of error.issues) {
    expect(issue.file).toBe(FILE);
    expect(issue.message).toMatch(issue.field === undefined ? /^fuzz\/model\.json: / : new RegExp(`^fuzz/model\\.json: field "${escape(issue.field)}": `));
    // The project's sentences: no schema type dumps, no function source for an inherited key.
    expect(issue.message).not.toMatch(/Expected \{|actual |\[native code\]|function /);
  }
}

describe('fuzz: model manifests', () => {
  it('the unedited manifest decodes', () => {
    expect(decodeManifest(VALID, FILE).name).toBe(VALID.name);
  });

  it('decodes a manifest with fields replaced, removed or added, or refuses it naming each field', () => {
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => decodesOrRefuses(edited(edits))), params(2500));
  });

  it('refuses any other JSON value naming the file', () => {
    fc.assert(fc.property(hostileJson, decodesOrRefuses), params(1500));
  });

  it('refuses a format named like an inherited property with the expected format (regression: "toString" printed a function)', () => {
    fc.assert(
      fc.property(fc.constantFrom('toString', 'constructor', 'hasOwnProperty', 'valueOf', '__proto__', 'isPrototypeOf'), fc.boolean(), (format, whole) => {
        const json = whole ? { ...VALID, format } : { format };
        decodesOrRefuses(json);
        expect(() => decodeManifest(json, FILE)).toThrow(`fuzz/model.json: field "format": expected "${MANIFEST_FORMAT}", got ${JSON.stringify(format)}`);
      }),
      params(50),
    );
  });

  it('refuses values nested far deeper than any manifest in every field, naming the field', () => {
    const deep = nested(100_000);
    for (const path of PATHS.filter((p) => p.length <= 2)) {
      const json = edited([{ path, how: 'set', value: deep }]);
      decodesOrRefuses(json);
      expect(() => decodeManifest(json, FILE)).toThrow(`field "${path.join('.')}`);
    }
  });

  describe('as text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fuzz-manifest-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads any model.json text or refuses it naming the file', async () => {
      const valid = JSON.stringify(VALID);
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.nat(valid.length).map((n) => valid.slice(0, n)),
        fc.array(edit, { maxLength: 3 }).map((edits) => JSON.stringify(edited(edits))),
      );
      const file = join(dir, 'model.json');
      await fc.assert(
        fc.asyncProperty(text, async (content) => {
          writeFileSync(file, content);
          await outcomeAsync(() => readManifest(dir), [ModelPackageError], new RegExp(`^${escape(file)}: `));
        }),
        params(500),
      );
    });
  });
});
