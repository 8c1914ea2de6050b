/**
 * Untrusted JSON nested far deeper than any real file (100,000 `[`) is refused with an error that
 * names the file and field, not "Maximum call stack size exceeded": the messages show the value
 * briefly without serialising all of it.
 */
import { describe, expect, it } from 'vitest';
import { ModelPackageError } from '../src/engine/model/errors.js';
import { decodeManifest } from '../src/engine/model/manifest.js';
import { TraceFileError } from '../src/inspector/errors.js';
import { parseTrace } from '../src/inspector/trace-file.js';
import { show } from '../src/protocol/json-value.js';
import { decodeSessionFile, SessionFileError } from '../src/protocol/session-file.js';

const DEPTH = 100_000;
const deepText = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
const deep = JSON.parse(deepText) as unknown;

describe('deeply nested JSON', () => {
  it('is shown briefly, and short values as JSON.stringify shows them', () => {
    expect(show(deep)).toBe(`${'['.repeat(57)}...`);
    for (const v of [null, 4, 'x', [1, 'a', null], { a: [1, { b: 2 }], c: undefined }, [undefined], []]) expect(show(v)).toBe(JSON.stringify(v));
    expect(show(Array.from({ length: 1e6 }, (_, i) => i))).toHaveLength(60);
  });

  it('is refused naming the file and field: session file, model manifest, trace line', () => {
    expect(() => decodeSessionFile(deep, 'deep.json')).toThrow(SessionFileError);
    expect(() => decodeSessionFile(deep, 'deep.json')).toThrow(/^deep\.json: expected a JSON object, got \[\[\[/);
    expect(() => decodeSessionFile({ seed: deep, blocks: 1, prompt: 'x' }, 'deep.json')).toThrow(/deep\.json: field "seed": expected a non-negative integer, got \[\[\[/);
    expect(() => decodeManifest({ format: deep }, 'model.json')).toThrow(ModelPackageError);
    expect(() => decodeManifest({ format: deep }, 'model.json')).toThrow(/model\.json/);
    expect(() => parseTrace(`{"kind":"meta","t":${deepText}}`, 'run.jsonl')).toThrow(TraceFileError);
    expect(() => parseTrace(`{"kind":"meta","t":${deepText}}`, 'run.jsonl')).toThrow(/^run\.jsonl:1: record without a time "t" \(milliseconds ≥ 0\), got \[\[\[/);
  });
});
