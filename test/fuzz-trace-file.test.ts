/**
 * Fuzzing trace files (src/inspector/trace-file.ts): recorded traces with lines cut, edited,
 * swapped or replaced, and arbitrary text, parse to records or are refused with a TraceFileError
 * naming the file and the line. A trace cut off mid-line by a crash keeps its whole records when
 * the caller asks for warnings. See docs/fuzzing.md.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TraceFileError } from '../src/inspector/errors.js';
import { generations, MAX_TRACE_LINE_CHARS, parseTrace } from '../src/inspector/trace-file.js';
import { hostileJson, outcome, params } from './support/fuzz.js';

const FILE = 'fuzz/run.jsonl';
const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
const TRACES = [fixture('p0-recache.jsonl'), fixture('p4-lanes.jsonl')];
const LINES = TRACES.map((t) => t.split('\n'));

/** Parses or refuses; a refusal names the file and a line that exists (0: the file as a whole). */
function parsesOrRefuses(text: string, onWarning?: (w: string) => void) {
  const result = outcome(() => parseTrace(text, FILE, onWarning), [TraceFileError], /^fuzz\/run\.jsonl(:\d+)?: /);
  if (!result.ok) {
    const error = result.error as TraceFileError;
    expect(error.file).toBe(FILE);
    expect(error.line).toBeGreaterThanOrEqual(0);
    expect(error.line).toBeLessThanOrEqual(text.split('\n').length);
    expect(error.message.startsWith(error.line === 0 ? `${FILE}: ` : `${FILE}:${error.line}: `)).toBe(true);
  } else {
    // What the inspector does next with the records.
    expect(generations(result.value).flat()).toHaveLength(result.value.length);
  }
  return result;
}

type LineEdit = { line: number; how: 'field' | 'delete-field' | 'replace' | 'swap' | 'drop' | 'cut'; key: string; value: unknown; at: number };
const lineEdit: fc.Arbitrary<LineEdit> = fc.record({
  line: fc.nat(),
  how: fc.constantFrom('field', 'field', 'delete-field', 'replace', 'swap', 'drop', 'cut') as fc.Arbitrary<LineEdit['how']>,
  key: fc.constantFrom('kind', 't', 'version', 'lane', 'phase', 'task', 'blocks', 'stages', 'free', 'actor', 'state', 'event', 'prompt', 'fromBlock', 'tick', 'runMs', 'layerWaitsMs', 'outcome', 'error', '__proto__', 'extra'),
  value: fc.oneof(hostileJson, fc.constantFrom('meta', 'lane', 'kv', 'end', 'unknown-kind', 'constructor', 'toString', 1, -1, 2 ** 53)),
  at: fc.nat(),
});

function apply(lines: readonly string[], edits: readonly LineEdit[]): string {
  const out = [...lines];
  for (const e of edits) {
    const i = e.line % out.length;
    const line = out[i] as string;
    if (e.how === 'drop') out.splice(i, 1);
    else if (e.how === 'swap') [out[i], out[(i + 1) % out.length]] = [out[(i + 1) % out.length] as string, line];
    else if (e.how === 'cut') out[i] = line.slice(0, e.at % (line.length + 1));
    else if (e.how === 'replace') out[i] = JSON.stringify(e.value) ?? '';
    else {
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        continue;
      }
      if (record === null || typeof record !== 'object') continue;
      if (e.how === 'delete-field') delete (record as Record<string, unknown>)[e.key];
      else Object.defineProperty(record, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
      out[i] = JSON.stringify(record);
    }
    if (out.length === 0) out.push('');
  }
  return out.join('\n');
}

describe('fuzz: trace files', () => {
  it('refuses a line over the size limit, naming the file and line', () => {
    // Refused before it is parsed: even valid JSON.
    const huge = `{"kind":"meta","t":0,"pad":"${'x'.repeat(MAX_TRACE_LINE_CHARS)}"}`;
    expect(() => parseTrace(`\n${huge}\n`, 'big.jsonl')).toThrow(/^big\.jsonl:2: a line of \d+ characters \(a record has at most 1048576\)$/);
  });

  it('the recorded traces parse', () => {
    for (const t of TRACES) expect(parseTrace(t, FILE).length).toBeGreaterThan(100);
  });

  it('parses a recorded trace with lines edited, swapped, dropped or cut, or refuses it naming the line', () => {
    fc.assert(
      fc.property(fc.nat(LINES.length - 1), fc.array(lineEdit, { minLength: 1, maxLength: 4 }), fc.boolean(), (which, edits, warn) => {
        parsesOrRefuses(apply(LINES[which] as string[], edits), warn ? () => {} : undefined);
      }),
      params(1500),
    );
  });

  it('parses arbitrary text or refuses it naming the line', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 120 }),
      fc.array(hostileJson.map((v) => JSON.stringify(v) ?? ''), { maxLength: 5 }).map((lines) => lines.join('\n')),
      fc.array(hostileJson.map((v) => JSON.stringify(v) ?? ''), { maxLength: 5 }).map((lines) => [LINES[0]?.[0], ...lines].join('\n')),
    );
    fc.assert(fc.property(text, fc.boolean(), (t, warn) => void parsesOrRefuses(t, warn ? () => {} : undefined)), params(2000));
  });

  it('keeps the whole records of a trace cut off mid-line, with one warning naming the line', () => {
    fc.assert(
      fc.property(fc.nat(LINES.length - 1), fc.nat(), (which, where) => {
        const text = TRACES[which] as string;
        const first = text.indexOf('\n') + 1;
        // Cut after the meta line, inside a later one (not at a line's end).
        const cut = first + (where % (text.length - first));
        const cutText = text.slice(0, cut);
        if (cutText.endsWith('\n') || cutText.endsWith('}')) return;
        const warnings: string[] = [];
        const result = parsesOrRefuses(cutText, (w) => warnings.push(w));
        expect(result.ok).toBe(true);
        const whole = cutText.slice(0, cutText.lastIndexOf('\n') + 1);
        expect(result.ok && result.value).toEqual(parseTrace(whole, FILE));
        const line = cutText.split('\n').length;
        expect(warnings).toHaveLength(cutText.endsWith('\n') || whole === cutText ? 0 : 1);
        if (warnings.length > 0) expect(warnings[0]).toMatch(new RegExp(`^fuzz/run\\.jsonl:${line}: the last line was cut off`));
      }),
      params(600),
    );
  });

  it('refuses values nested far deeper than any trace in any field, naming the line', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const meta = LINES[0]?.[0] as string;
    for (const key of ['t', 'version', 'lanes', 'blockStates', 'model']) {
      const result = parsesOrRefuses(`${meta.slice(0, -1)},"${key}":${deep}}`);
      expect(result.ok).toBe(false);
      expect(result.ok ? '' : result.error.message).toMatch(/^fuzz\/run\.jsonl:1: /);
    }
    expect(parsesOrRefuses(`${meta}\n{"kind":"lane","t":1,"lane":0,"phase":"start","task":"tick","blocks":${deep},"stages":[]}`).ok).toBe(false);
  });
});
