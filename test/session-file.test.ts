import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SESSION_FILE_BYTES, SessionFileError, blockAtSecond, loadSessionFile, resolveTimeline } from '../src/protocol/session-file.js';
import { planSession } from '../src/api/session-plan.js';

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
    expect(await loadSessionFile('examples/sessions/sprite.json')).toEqual({ seed: 0, blocks: 8, prompt: 'red ball moving left' });
    expect(await loadSessionFile('examples/sessions/long.json')).toMatchObject({ seed: 1, blocks: 64 });
  });

  it('refuses a file over the size limit before reading it, naming it', async () => {
    const file = join(dir, 'huge.json');
    await writeFile(file, `{"seed":0,"blocks":1,"prompt":"a","pad":"${'x'.repeat(MAX_SESSION_FILE_BYTES)}"}`);
    await expect(loadSessionFile(file)).rejects.toThrow(`${file}: a session file of ${MAX_SESSION_FILE_BYTES + 43} bytes (at most ${MAX_SESSION_FILE_BYTES})`);
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
    const session = await loadSessionFile('examples/sessions/switch.json');
    expect(session.blocks).toBe(12);
    expect(resolveTimeline(session, { framesPerBlock: 3, fps: 16 }, 'switch.json')).toEqual({
      switches: [{ atBlock: 4, prompt: 'blue triangle moving right' }, { atBlock: 8, prompt: 'red triangle moving up' }],
      stopAtBlock: 10,
    });
  });

  it('places entries given in seconds on the first block that starts at or after that time', async () => {
    const clock = { framesPerBlock: 3, fps: 16 };
    expect([0.1, 0.75, 1, 1.125, 2].map((t) => blockAtSecond(t, clock))).toEqual([1, 4, 6, 6, 11]);
    const file = await sessionFile({ seed: 1, blocks: 20, prompt: 'red ball moving left', fps: 16, timeline: [{ atSecond: 0.75, prompt: 'blue ball moving up' }, { atBlock: 8, prompt: 'red ball moving up' }, { atSecond: 2, stop: true }] });
    const session = await loadSessionFile(file);
    expect(resolveTimeline(session, clock, file)).toEqual({
      switches: [{ atBlock: 4, prompt: 'blue ball moving up' }, { atBlock: 8, prompt: 'red ball moving up' }],
      stopAtBlock: 11,
    });
    // The default model has 3 frames per block; the plan applies the file's fps and the stop.
    const plan = await planSession(session, file, { lanes: 2 });
    expect(plan.request).toEqual({ seed: 1, blocks: 11, prompt: 'red ball moving left', switches: [{ atBlock: 4, prompt: 'blue ball moving up' }, { atBlock: 8, prompt: 'red ball moving up' }] });
    expect(plan.runtime.lanes).toBe(2);
    // A faster clock moves the same second to a later block.
    expect((await planSession(session, file, { fps: 24 })).request.switches?.[0]?.atBlock).toBe(6);
  });

  it('rejects times that land out of order or outside the video, naming the entry', async () => {
    const clock = { framesPerBlock: 3, fps: 16 };
    const base = { seed: 1, blocks: 8, prompt: 'red ball moving left' };
    const cases: [unknown, string, RegExp][] = [
      [[{ atBlock: 5, prompt: 'a' }, { atSecond: 0.8, prompt: 'b' }], 'timeline.1.atSecond', /0.8 s is block 5, which must be after the entry before it \(block 5\)/],
      [[{ atSecond: 1.5, prompt: 'a' }], 'timeline.0.atSecond', /1.5 s is block 8, which is not inside the video's 8 blocks/],
    ];
    for (const [timeline, field, message] of cases) {
      const file = await sessionFile({ ...base, timeline });
      const session = await loadSessionFile(file);
      let error: unknown;
      try {
        resolveTimeline(session, clock, file);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(timeline)).toBeInstanceOf(SessionFileError);
      expect((error as SessionFileError).field).toBe(field);
      expect((error as SessionFileError).message).toMatch(message);
    }
  });

  it('names the bad timeline field and what was expected', async () => {
    const base = { seed: 1, blocks: 8, prompt: 'red ball moving left' };
    const cases: [unknown, string, RegExp][] = [
      ['nope', 'timeline', /expected an array of .* got "nope"/],
      [[{ atBlock: 'x', prompt: 'a' }], 'timeline.0.atBlock', /expected a positive integer .* got "x"/],
      [[{ atBlock: 4 }], 'timeline.0', /exactly one of "prompt" or "stop"/],
      [[{ prompt: 'a' }], 'timeline.0', /exactly one of "atBlock" or "atSecond"/],
      [[{ atBlock: 2, atSecond: 1, prompt: 'a' }], 'timeline.0', /exactly one of "atBlock" or "atSecond"/],
      [[{ atSecond: -1, prompt: 'a' }], 'timeline.0.atSecond', /expected a positive number of seconds/],
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

