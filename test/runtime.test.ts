import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, GenerationAbortedError, type Frame, type Runtime } from '../src/index.js';
import { loadModelPackage } from '../src/engine/model/loader.js';
import { defaultModelDir } from '../src/engine/model/paths.js';
import { referenceFrames } from './helpers/reference-pipeline.js';

const request = { seed: 11, blocks: 8, prompt: 'red ball moving left' };

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

describe('runtime, sequential (P0)', () => {
  let oneLane: Runtime;
  let twoLanes: Runtime;
  beforeAll(async () => {
    // oneLane runs one generation at a time (maxSessions 1): the queue tests below wait behind a running one.
    [oneLane, twoLanes] = await Promise.all([createRuntime({ lanes: 1, maxSessions: 1 }), createRuntime({ lanes: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([oneLane?.close(), twoLanes?.close()]);
  });

  it('yields blocks × framesPerBlock frames in order', async () => {
    const frames = await collect(oneLane.generate(request));
    const m = oneLane.manifest;
    expect(frames).toHaveLength(request.blocks * m.framesPerBlock);
    expect(frames.map((f) => f.index)).toEqual(frames.map((_, i) => i));
    expect(frames.map((f) => f.block)).toEqual(frames.map((_, i) => Math.floor(i / m.framesPerBlock)));
    for (const f of frames) expect(f.rgb.length).toBe(m.video.width * m.video.height * 3);
  });

  it('equals a straight-line loop over the same ONNX files, byte for byte (KV window eviction included)', async () => {
    const pkg = await loadModelPackage(defaultModelDir());
    // 8 blocks of 3 frames overflow the 3-frame sink + 9-frame window, so eviction is exercised.
    expect(request.blocks * pkg.manifest.framesPerBlock).toBeGreaterThan(pkg.manifest.kv.sinkFrames + pkg.manifest.kv.windowFrames);
    const [expected, actual] = await Promise.all([
      referenceFrames(pkg, request.seed, request.blocks, request.prompt),
      collect(oneLane.generate(request)),
    ]);
    expect(actual).toHaveLength(expected.length);
    actual.forEach((frame, i) => expect(Buffer.from(frame.rgb).equals(Buffer.from(expected[i]!)), `frame ${i}`).toBe(true));
  });

  it('gives byte-identical frames for the same seed, twice and with 1 or 2 lanes', async () => {
    const a = await collect(oneLane.generate(request));
    const b = await collect(oneLane.generate(request));
    const c = await collect(twoLanes.generate(request));
    const bytes = (frames: Frame[]) => Buffer.concat(frames.map((f) => f.rgb));
    expect(bytes(b).equals(bytes(a))).toBe(true);
    expect(bytes(c).equals(bytes(a))).toBe(true);
    const other = await collect(oneLane.generate({ ...request, seed: request.seed + 1 }));
    expect(bytes(other).equals(bytes(a))).toBe(false);
  });

  it('a scheduled prompt switch changes the blocks from the switch on and nothing before it', async () => {
    const bytes = (frames: Frame[], block: number) => Buffer.concat(frames.filter((f) => f.block === block).map((f) => f.rgb));
    const plain = await collect(oneLane.generate({ ...request, blocks: 4 }));
    const switched = await collect(oneLane.generate({ ...request, blocks: 4, switches: [{ atBlock: 2, prompt: 'blue square moving up' }] }));
    for (const b of [0, 1]) expect(bytes(switched, b).equals(bytes(plain, b)), `block ${b}`).toBe(true);
    for (const b of [2, 3]) expect(bytes(switched, b).equals(bytes(plain, b)), `block ${b}`).toBe(false);
    // The same prompt again is no switch at all.
    const same = await collect(oneLane.generate({ ...request, blocks: 4, switches: [{ atBlock: 2, prompt: request.prompt }] }));
    expect(Buffer.concat(same.map((f) => f.rgb)).equals(Buffer.concat(plain.map((f) => f.rgb)))).toBe(true);
  });

  it('refuses switches outside the video or out of order, naming the field', async () => {
    const attempt = (switches: { atBlock: number; prompt: string }[]) => collect(oneLane.generate({ ...request, blocks: 4, switches }));
    await expect(attempt([{ atBlock: 4, prompt: 'x' }])).rejects.toThrow(/switches\[0\]\.atBlock/);
    await expect(attempt([{ atBlock: 2, prompt: 'x' }, { atBlock: 2, prompt: 'y' }])).rejects.toThrow(/switches\[1\]\.atBlock/);
    await expect(attempt([{ atBlock: 0, prompt: 'x' }])).rejects.toThrow(/switches\[0\]\.atBlock/);
  });

  it('uses both lanes when it has two', async () => {
    const before = twoLanes.lanes.map((lane) => lane.tasksRun);
    // `lanes` spreads every tick's frames over the lanes; at P0 a block's steps go to whichever
    // lane is least busy, which can be the same one every time on a quick machine.
    await collect(twoLanes.generate({ ...request, blocks: 4 }, { cascade: { parallelism: 4, attention: 'causal', exec: 'lanes' } }));
    const after = twoLanes.lanes.map((lane) => lane.tasksRun);
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
  });

  it('stops on abort with a typed error, and the runtime keeps working', async () => {
    const controller = new AbortController();
    const frames: Frame[] = [];
    await expect(async () => {
      for await (const frame of oneLane.generate({ ...request, blocks: 50 }, { signal: controller.signal })) {
        frames.push(frame);
        controller.abort();
      }
    }).rejects.toBeInstanceOf(GenerationAbortedError);
    expect(frames.length).toBeLessThan(50 * oneLane.manifest.framesPerBlock);
    const again = await collect(oneLane.generate({ ...request, blocks: 2 }));
    const fresh = await collect(oneLane.generate({ ...request, blocks: 2 }));
    expect(Buffer.concat(again.map((f) => f.rgb)).equals(Buffer.concat(fresh.map((f) => f.rgb)))).toBe(true);
  });

  it('ends the wait of a generation aborted behind another: it never runs, the lock passes on in order', async () => {
    const before = oneLane.stats().forwards;
    // The first generation holds the runtime until its frames are drained.
    const first = oneLane.generate({ ...request, blocks: 2 })[Symbol.asyncIterator]();
    const head = await first.next();
    const controller = new AbortController();
    const waiting = oneLane.generate({ ...request, blocks: 50 }, { signal: controller.signal })[Symbol.asyncIterator]();
    const second = waiting.next();
    const third = collect(oneLane.generate({ ...request, blocks: 2 }));
    controller.abort();
    // Settles while the first still holds the runtime (without the fix it would wait for it: a hang here).
    await expect(second).rejects.toBeInstanceOf(GenerationAbortedError);
    const rest = await collect({ [Symbol.asyncIterator]: () => first });
    expect([head.value as Frame, ...rest]).toHaveLength(2 * oneLane.manifest.framesPerBlock);
    expect(await third).toHaveLength(2 * oneLane.manifest.framesPerBlock);
    // Only the first and the third ran: five forwards a block, none of the aborted one's 50 blocks.
    expect(oneLane.stats().forwards - before).toBe(20);
    // Aborted before the start: the same typed error.
    await expect(collect(oneLane.generate(request, { signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(GenerationAbortedError);
  }, 20_000);

  it('counts forwards: five per block', async () => {
    const before = oneLane.stats().forwards;
    await collect(oneLane.generate({ ...request, blocks: 3 }));
    expect(oneLane.stats().forwards - before).toBe(15);
  });
});

describe('closing a runtime', () => {
  it('lets a task already on a lane land before the worker goes (no thread termination, no stray worker reply)', async () => {
    const runtime = await createRuntime({ lanes: 1 });
    const lane = runtime.lanes[0]!;
    const stray = lane.encode({ kind: 'encode', tokens: new Array<number>(runtime.manifest.text.maxTokens).fill(0), contextSlot: 0 });
    await runtime.close();
    await expect(stray).resolves.toMatchObject({ runMs: expect.any(Number) });
    expect(lane.pending).toBe(0);
  });
});
