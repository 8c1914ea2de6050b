import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionFileError, loadSessionFile } from '../src/protocol/session-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'block-cascade-session-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sessionFile(content: unknown): Promise<string> {
  const file = join(dir, 'session.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/** The SessionFileError that loading `content` throws. */
async function failure(content: unknown): Promise<SessionFileError> {
  const file = await sessionFile(content);
  const err = await loadSessionFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SessionFileError);
  const error = err as SessionFileError;
  expect(error.file).toBe(file);
  expect(error.message.startsWith(`${file}: `)).toBe(true);
  return error;
}

describe('loadSessionFile', () => {
  it('decodes the example sessions', async () => {
    expect(await loadSessionFile('examples/sessions/sprite.json')).toEqual({ seed: 7, blocks: 8, prompt: 'red ball moving left' });
    expect(await loadSessionFile('examples/sessions/long.json')).toMatchObject({ seed: 1, blocks: 64 });
  });

  it('resolves model against the session file folder and keeps lanes', async () => {
    const file = await sessionFile({ model: '../models/tiny', seed: 0, blocks: 2, prompt: 'a', lanes: 2 });
    expect(await loadSessionFile(file)).toEqual({ model: resolve(dir, '../models/tiny'), seed: 0, blocks: 2, prompt: 'a', lanes: 2 });
  });

  it('names the field and the value for a wrong type or range', async () => {
    const err = await failure({ seed: 7, blocks: -2, prompt: 'a' });
    expect(err.code).toBe('E_SESSION_INVALID');
    expect(err.field).toBe('blocks');
    expect(err.message).toBe(`${err.file}: field "blocks": expected a positive integer, got -2`);
    const typed = await failure({ seed: '7', blocks: 1, prompt: 'a' });
    expect(typed.field).toBe('seed');
    expect(typed.message).toContain('field "seed": expected a non-negative integer, got "7"');
  });

  it('names a missing field and what it should be', async () => {
    const err = await failure({ seed: 7, blocks: 2 });
    expect(err.field).toBe('prompt');
    expect(err.message).toContain('field "prompt": is missing (expected a non-empty string)');
  });

  it('rejects unknown keys, naming them', async () => {
    const err = await failure({ seed: 7, blocks: 2, prompt: 'a', promt: 'typo' });
    expect(err.field).toBe('promt');
    expect(err.message).toContain('field "promt": is not a session field');
  });

  it('reports every bad field', async () => {
    const err = await failure({ seed: -1, blocks: 0, prompt: '', lanes: 1.5 });
    expect(err.issues.map((i) => i.field).sort()).toEqual(['blocks', 'lanes', 'prompt', 'seed']);
  });

  it('reports invalid JSON with the file and the parse position', async () => {
    const err = await failure('{\n  "seed": 7,\n  "blocks": 2\n  "prompt": "a"\n}');
    expect(err.code).toBe('E_SESSION_JSON');
    expect(err.field).toBeUndefined();
    expect(err.message).toMatch(/: invalid JSON at line 4, column 3 \(position 31\): /);
  });

  it('reports a non-object and an unreadable file', async () => {
    expect((await failure([1, 2])).message).toContain('expected a JSON object, got [1,2]');
    const missing = join(dir, 'nope.json');
    await expect(loadSessionFile(missing)).rejects.toThrow(`${missing}: cannot read session file`);
  });

  it('decodes a timeline into prompt switches and a stop', async () => {
    expect(await loadSessionFile('examples/sessions/switch.json')).toMatchObject({
      blocks: 12,
      switches: [{ atBlock: 4, prompt: 'blue triangle moving right' }, { atBlock: 8, prompt: 'red triangle moving up' }],
      stopAtBlock: 10,
    });
  });

  it('names the bad timeline field and what was expected', async () => {
    const base = { seed: 1, blocks: 8, prompt: 'red ball moving left' };
    const cases: [unknown, string, RegExp][] = [
      ['nope', 'timeline', /expected an array of .* got "nope"/],
      [[{ atBlock: 'x', prompt: 'a' }], 'timeline.0.atBlock', /expected a positive integer .* got "x"/],
      [[{ atBlock: 4 }], 'timeline.0', /exactly one of "prompt" or "stop"/],
      [[{ atBlock: 4, prompt: 'a', stop: true }], 'timeline.0', /exactly one of "prompt" or "stop"/],
      [[{ atBlock: 9, prompt: 'a' }], 'timeline.0.atBlock', /not inside the video's 8 blocks/],
      [[{ atBlock: 4, prompt: 'a' }, { atBlock: 4, prompt: 'b' }], 'timeline.1.atBlock', /after the entry before it \(block 4\)/],
      [[{ atBlock: 4, stop: true }, { atBlock: 5, prompt: 'a' }], 'timeline.0', /a stop must be the last entry/],
      [[{ atBlock: 4, prompt: 'a', colour: 'red' }], 'timeline.0.colour', /not a timeline field/],
    ];
    for (const [timeline, field, message] of cases) {
      const err = await failure({ ...base, timeline });
      expect(err.field, JSON.stringify(timeline)).toBe(field);
      expect(err.message).toMatch(message);
    }
  });
});

