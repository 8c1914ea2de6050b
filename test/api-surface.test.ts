/**
 * The public API a new user meets (issue 18): `await using` on runtimes and live sessions,
 * loading progress from `createRuntime`, and unknown option fields refused even from plain
 * JavaScript (where TypeScript's checks do not reach).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, InvalidOptionError, type CascadeOptions, type Frame, type LoadProgress, type Runtime } from '../src/index.js';

// What `await using` calls (Node 20 defines it); the test calls it explicitly.
const dispose: typeof Symbol.asyncDispose = Symbol.asyncDispose;

async function drain(frames: AsyncIterable<Frame>): Promise<number> {
  let n = 0;
  for await (const _ of frames) n++;
  return n;
}

/** An options object as plain JavaScript may pass it: any fields at all. */
const untyped = <T>(value: Record<string, unknown>): T => value as T;

describe('loading progress', () => {
  it('reports each model file, then each lane, counted', async () => {
    const events: LoadProgress[] = [];
    const runtime = await createRuntime({ lanes: 2, warmUp: false, onLoad: (e) => events.push(e) });
    try {
      const files = events.filter((e) => e.stage === 'file');
      expect(files.map((e) => e.stage === 'file' && e.file)).toEqual(['manifest', 'textEncoder', 'denoiser', 'vaeDecoder']);
      expect(files.map((e) => `${e.done}/${e.total}`)).toEqual(['1/4', '2/4', '3/4', '4/4']);
      const lanes = events.filter((e) => e.stage === 'lane');
      expect(lanes.map((e) => (e.stage === 'lane' ? e.lane : -1)).sort()).toEqual([0, 1]);
      expect(lanes.map((e) => `${e.done}/${e.total}`)).toEqual(['1/2', '2/2']);
      // Files come before lanes.
      expect(events.findIndex((e) => e.stage === 'lane')).toBe(files.length);
    } finally {
      await runtime.close();
    }
  });
});

describe('unknown option fields, from plain JavaScript', () => {
  it('createRuntime refuses an unknown field (and an unknown cascade field) before loading anything', async () => {
    const events: LoadProgress[] = [];
    await expect(createRuntime(untyped({ lanes: 1, warmup: false, onLoad: (e: LoadProgress) => events.push(e) }))).rejects.toThrow(/option "warmup": expected no such field \(model, lanes, cascade/);
    await expect(createRuntime(untyped({ cascade: { parallelsim: 4 } }))).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(createRuntime(untyped({ cascade: { parallelsim: 4 } }))).rejects.toThrow(/option "cascade\.parallelsim"/);
    expect(events).toEqual([]);
  });

  it('createRuntime refuses fields of the wrong type by name, before loading anything (they were ignored or failed deep inside)', async () => {
    const events: LoadProgress[] = [];
    const onLoad = (e: LoadProgress) => events.push(e);
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ model: 42 }, /option "model": expected the path of a model folder \(a string\), got 42/],
      [{ cascade: 5 }, /option "cascade": expected an object \{ parallelism, attention, exec/],
      [{ warmUp: 'yes' }, /option "warmUp": expected true or false, got "yes"/],
      [{ inspect: 5 }, /option "inspect": expected an inspection observer/],
      [{ faults: 5 }, /option "faults": expected an array of lane faults/],
    ];
    for (const [options, message] of refusals) {
      const refused = createRuntime(untyped({ ...options, onLoad }));
      await expect(refused).rejects.toBeInstanceOf(InvalidOptionError);
      await expect(createRuntime(untyped({ ...options, onLoad }))).rejects.toThrow(message);
    }
    expect(events).toEqual([]);
  });

  describe('on a runtime', () => {
    let runtime: Runtime;
    beforeAll(async () => {
      runtime = await createRuntime({ lanes: 1, warmUp: false });
    });
    afterAll(async () => {
      await runtime?.close();
    });

    it('generate and session refuse unknown fields of their options, cascade and request; $schema is let through', async () => {
      const request = { seed: 1, blocks: 1, prompt: 'red ball moving left' };
      await expect(drain(runtime.generate(request, untyped({ step: 4 })))).rejects.toThrow(/option "step": expected no such field/);
      await expect(drain(runtime.generate(request, untyped({ cascade: untyped<CascadeOptions>({ parallelism: 0, mode: 'x' }) })))).rejects.toThrow(/option "cascade\.mode"/);
      // A session refuses at the call, as it does a bad maxBufferedBlocks.
      expect(() => runtime.session(request, untyped({ maxBufferedBlock: 2 }))).toThrow(/option "maxBufferedBlock"/);
      await expect(drain(runtime.generate(request, untyped({ allowUnknownWords: 'yes' })))).rejects.toThrow(/option "allowUnknownWords": expected a boolean/);
      await expect(drain(runtime.generate(request, untyped({ cascade: 5 })))).rejects.toThrow(/option "cascade": expected an object/);
      await expect(drain(runtime.generate(untyped({ ...request, promt: 'red' })))).rejects.toThrow(/option "promt": expected no such field \(seed, blocks, prompt, switches\)/);
      await expect(drain(runtime.generate(untyped({ ...request, blocks: 4, switches: [{ atBlock: 2, prompt: 'red ball', at: 3 }] })))).rejects.toThrow(/option "switches\[0\]\.at"/);
      expect(await drain(runtime.generate(untyped({ ...request, $schema: 'x' }), untyped({ $schema: 'x', cascade: { $schema: 'x' } })))).toBe(runtime.manifest.framesPerBlock);
    });

    it('a live session closes with Symbol.asyncDispose: it stops, its frames end and the runtime is free', async () => {
      const session = runtime.session({ seed: 1, blocks: 1000, prompt: 'red ball moving left' });
      const frames = session.frames[Symbol.asyncIterator]();
      expect((await frames.next()).done).toBe(false);
      await session[dispose]();
      expect((await frames.next()).done).toBe(true);
      // The next generation runs: the disposed one let go of the runtime.
      expect(await drain(runtime.generate({ seed: 2, blocks: 1, prompt: 'blue ball' }))).toBe(runtime.manifest.framesPerBlock);
      // A session disposed before it ran never starts.
      const unused = runtime.session({ seed: 3, blocks: 1000, prompt: 'red ball' });
      await unused[dispose]();
      expect((await unused.frames[Symbol.asyncIterator]().next()).done).toBe(true);
    });
  });

  it('a runtime closes with Symbol.asyncDispose', async () => {
    const runtime = await createRuntime({ lanes: 1, warmUp: false });
    await runtime[dispose]();
    await expect(runtime.generate({ seed: 1, blocks: 1, prompt: 'red ball' }).next()).rejects.toThrow('the runtime is closed');
  });
});
