/**
 * Fuzzing the prompt lines `block-cascade run` reads from stdin (src/cli/run-command.ts): any
 * bytes, split into chunks anyhow, give blank lines, prompts (trimmed, one line, at most
 * MAX_PROMPT_CHARS characters, tokenized as a switch tokenizes them) or a refusal that says
 * why; what is echoed to the terminal has no control characters. See docs/fuzzing.md.
 */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PROMPT_CHARS } from '../src/core/options.js';
import { printable, stdinPrompt, type StdinLine } from '../src/cli/run-command.js';
import { LineSplitter, readLines } from '../src/cli/stdin-lines.js';
import { tokenizePrompt } from '../src/engine/model/tokenizer.js';
import { params } from './support/fuzz.js';

const TEXT = (JSON.parse(readFileSync(new URL('../models/random/model.json', import.meta.url), 'utf8')) as { text: { vocabulary: string[]; maxTokens: number; contextDim: number } }).text;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function checkLine(line: string): StdinLine {
  const read = stdinPrompt(line);
  if (read === null) {
    expect(line.trim()).toBe('');
  } else if ('ignored' in read) {
    expect(read.ignored).toBe(`a prompt of ${line.trim().length} characters ignored (at most ${MAX_PROMPT_CHARS})`);
  } else {
    expect(read.prompt).toBe(line.trim());
    expect(read.prompt.length).toBeGreaterThan(0);
    expect(read.prompt.length).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
    const tokens = tokenizePrompt(read.prompt, TEXT);
    expect(tokens).toHaveLength(TEXT.maxTokens);
    for (const t of tokens) expect(t >= 0n && t < BigInt(TEXT.vocabulary.length)).toBe(true);
    const echoed = printable(read.prompt);
    expect(echoed).not.toMatch(CONTROL);
    // Escaping only adds: the printable characters are the prompt's, in order.
    expect(echoed.replace(/\\x[0-9a-f]{2}/g, '')).toBe(read.prompt.replace(new RegExp(CONTROL, 'g'), '').replace(/\\x[0-9a-f]{2}/g, ''));
  }
  return read;
}

/** The non-blank lines `run` reads from `chunks` (stdin as it arrives), through `readLines`. */
async function linesOf(chunks: readonly Uint8Array[]): Promise<string[]> {
  const lines: string[] = [];
  const input = Readable.from(chunks.map((c) => Buffer.from(c)));
  const ended = once(input, 'end');
  readLines(input, MAX_PROMPT_CHARS, (line) => {
    if ('overlong' in line) lines.push(`<${line.overlong} characters>`);
    else if (line.line.trim() !== '') lines.push(line.line);
  });
  await ended;
  return lines;
}

const lineText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(' ', '\t', '\u00a0', '\u2028', '\u001b[2J', '\u009b31m', '\ud800', 'blue ball moving up'),
  fc.nat(6000).map((n) => 'a'.repeat(n)),
);

describe('fuzz: stdin prompt lines', () => {
  it('every line is blank, a prompt or a refusal naming its length', () => {
    fc.assert(fc.property(lineText, (line) => void checkLine(line)), params(3000));
    expect(stdinPrompt('x'.repeat(MAX_PROMPT_CHARS + 1))).toEqual({ ignored: `a prompt of ${MAX_PROMPT_CHARS + 1} characters ignored (at most ${MAX_PROMPT_CHARS})` });
    expect(stdinPrompt(`  ${'x'.repeat(MAX_PROMPT_CHARS)}  `)).toEqual({ prompt: 'x'.repeat(MAX_PROMPT_CHARS) });
  });

  it('a line without a newline is counted, never kept whole: 10 MB arrive, one overlong line comes out', () => {
    const lines = new LineSplitter(MAX_PROMPT_CHARS);
    for (let i = 0; i < 100; i++) expect(lines.push('y'.repeat(100_000))).toEqual([]);
    expect(lines.push('\nblue ball moving up\r\n')).toEqual([{ overlong: 10_000_000 }, { line: 'blue ball moving up' }]);
    expect(lines.push('x'.repeat(MAX_PROMPT_CHARS))).toEqual([]);
    expect(lines.end()).toEqual([{ line: 'x'.repeat(MAX_PROMPT_CHARS) }]);
  });

  it('random bytes in random chunks give the same prompts as in one chunk, none spanning a line', async () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(lineText, { maxLength: 8 }).map((lines) => new Uint8Array(Buffer.from(lines.join(['\n', '\r\n'][lines.length % 2] as string)))),
    );
    await fc.assert(
      fc.asyncProperty(input, fc.array(fc.nat(), { maxLength: 6 }), async (bytes, cuts) => {
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i) => bytes.subarray(from, [...at, bytes.length][i])).filter((c) => c.length > 0);
        const lines = await linesOf(chunks);
        expect(lines).toEqual(await linesOf([bytes]));
        for (const line of lines) {
          expect(line).not.toMatch(/[\n\r]/);
          checkLine(line);
        }
      }),
      params(1000),
    );
  });
});
