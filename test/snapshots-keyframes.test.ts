/**
 * K/V keyframes (docs/snapshots.md): at parallelism 0 a snapshot between two keyframes holds the
 * latents of the blocks cached since the keyframe instead of their K/V, and a resume runs their
 * cache steps again. Every snapshot, merged with the parts it refers to, must resume to the
 * uninterrupted run's frames byte for byte; a re-cache since the keyframe forces a new one; at
 * parallelism 4 every snapshot is a keyframe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, inspectSnapshot, mergeSnapshots, type Frame, type GenerateOptions, type GenerateRequest, type GenerationSnapshot, type Runtime, type TraceRecord } from '../src/index.js';
import { RANDOM_MODEL } from './support/models.js';

const b64 = (frames: readonly Frame[]) => frames.map((f) => Buffer.from(f.rgb).toString('base64'));

async function collect(runtime: Runtime, request: GenerateRequest, options: GenerateOptions): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of runtime.generate(request, options)) frames.push(frame);
  return frames;
}

async function withSnapshots(runtime: Runtime, request: GenerateRequest, options: GenerateOptions, keyframeEvery?: number): Promise<{ frames: Frame[]; snapshots: GenerationSnapshot[] }> {
  const snapshots: GenerationSnapshot[] = [];
  const snapshotOptions = { every: 1, onSnapshot: (s: GenerationSnapshot) => snapshots.push(s), incremental: { kept: () => true }, ...(keyframeEvery ? { keyframeEvery } : {}) };
  const frames = await collect(runtime, request, { ...options, snapshots: snapshotOptions });
  return { frames, snapshots };
}

const merged = (snapshots: readonly GenerationSnapshot[], s: GenerationSnapshot) => mergeSnapshots([s.bytes, ...s.requires.map((seq) => (snapshots[seq] as GenerationSnapshot).bytes)]);

describe('K/V keyframes', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it.each(['joint', 'lanes'] as const)('P0 %s: snapshots between keyframes replay cache steps and resume to the same frames; they are smaller', async (exec) => {
    const request: GenerateRequest = { seed: 21, blocks: 10, prompt: 'red ball moving left' };
    const options: GenerateOptions = { cascade: { parallelism: 0, exec } };
    const plain = await collect(runtime, request, options);
    const trace: TraceRecord[] = [];
    const { frames, snapshots } = await withSnapshots(runtime, request, { ...options, trace: (r) => trace.push(r) }, 4);
    expect(b64(frames)).toEqual(b64(plain));
    // The trace says which snapshots are keyframes.
    expect(trace.flatMap((r) => (r.kind === 'snapshot' ? [r.replays] : []))).toEqual(snapshots.map((s) => s.replays));
    const replayed = snapshots.map((s) => inspectSnapshot(s.bytes).replayed);
    // The start is a keyframe that holds nothing: blocks 0, 0–1, 0–2 replayed; then a keyframe
    // every 4 cached blocks, the snapshots between replaying the blocks since.
    expect(replayed.slice(0, 4)).toEqual([[0], [0, 1], [0, 1, 2], []]);
    expect(replayed.slice(4, 8)).toEqual([[4], [4, 5], [4, 5, 6], []]);
    expect(snapshots.map((s) => s.replays)).toEqual(replayed.map((r) => r.length));
    const keyframeBytes = Math.min(...snapshots.filter((_, i) => replayed[i]?.length === 0).map((s) => s.bytes.length));
    for (const [i, s] of snapshots.entries()) {
      const replays = (replayed[i] as number[]).length;
      if (replays > 0) {
        expect(s.bytes.length).toBeLessThan(keyframeBytes);
        // Those after the first keyframe refer to it for the K/V; before it there is none to refer to.
        expect(s.requires.length > 0).toBe(i > 3);
      }
      const resumed = await collect(runtime, request, { ...options, resumeFrom: merged(snapshots, s) });
      expect(resumed[0]?.index, `snapshot ${s.seq}`).toBe(s.firstFrame);
      expect(b64(resumed), `snapshot ${s.seq} (replaying ${replays} blocks)`).toEqual(b64(plain.slice(s.firstFrame)));
    }
  });

  it('a generation resumed from a snapshot between keyframes takes snapshots of its own that resume to the same frames (a second failover)', async () => {
    const request: GenerateRequest = { seed: 25, blocks: 9, prompt: 'red ball moving left' };
    const options: GenerateOptions = { cascade: { parallelism: 0, exec: 'joint' } };
    const plain = await collect(runtime, request, options);
    const first = await withSnapshots(runtime, request, options, 4);
    for (const from of [first.snapshots[1], first.snapshots[5]] as GenerationSnapshot[]) {
      expect(from.replays).toBeGreaterThan(0);
      const second: GenerationSnapshot[] = [];
      const resumed = await collect(runtime, request, {
        ...options,
        resumeFrom: merged(first.snapshots, from),
        snapshots: { every: 1, keyframeEvery: 4, onSnapshot: (s) => second.push(s), incremental: { kept: () => true } },
      });
      expect(b64(resumed)).toEqual(b64(plain.slice(from.firstFrame)));
      expect(second.some((s) => s.replays > 0)).toBe(true);
      for (const s of second) {
        const again = await collect(runtime, request, { ...options, resumeFrom: merged(second, s) });
        expect(b64(again), `snapshot ${s.seq} of the resume from ${from.seq}`).toEqual(b64(plain.slice(s.firstFrame)));
      }
    }
  });

  it('P0 with feature caching and a prompt switch: the re-cache makes a keyframe, every resume matches', async () => {
    const request: GenerateRequest = { seed: 22, blocks: 8, prompt: 'red ball moving left', switches: [{ atBlock: 4, prompt: 'blue square moving up' }] };
    const options: GenerateOptions = { cascade: { parallelism: 0, exec: 'layered' }, steps: 8, featureCache: { policy: 'bwcache', threshold: 5 } };
    const plain = await collect(runtime, request, options);
    const { snapshots } = await withSnapshots(runtime, request, options, 8);
    const summaries = snapshots.map((s) => inspectSnapshot(s.bytes));
    // The block admitted under the new prompt re-caches the window: no snapshot replays across it.
    for (const s of summaries) expect(s.replayed.every((b) => b < 4) || s.replayed.every((b) => b >= 4)).toBe(true);
    expect(summaries.some((s) => s.replayed.length === 0 && s.nextBlock > 4)).toBe(true);
    for (const s of snapshots) {
      const resumed = await collect(runtime, request, { ...options, resumeFrom: merged(snapshots, s) });
      expect(b64(resumed), `snapshot ${s.seq}`).toEqual(b64(plain.slice(s.firstFrame)));
    }
  });

  it('P4: every snapshot holds its K/V (cache steps batched with other blocks cannot be run again alone)', async () => {
    const request: GenerateRequest = { seed: 23, blocks: 8, prompt: 'red ball moving left' };
    const { snapshots } = await withSnapshots(runtime, request, { cascade: { parallelism: 4, exec: 'joint' } }, 4);
    expect(snapshots.length).toBeGreaterThan(2);
    for (const s of snapshots) expect(inspectSnapshot(s.bytes).replayed).toEqual([]);
  });

  it('refuses keyframes without incremental snapshots, naming the option', async () => {
    const request: GenerateRequest = { seed: 24, blocks: 2, prompt: 'red ball moving left' };
    await expect(collect(runtime, request, { snapshots: { every: 1, onSnapshot: () => {}, keyframeEvery: 4 } })).rejects.toThrow(/snapshots\.keyframeEvery/);
    await expect(collect(runtime, request, { snapshots: { every: 1, onSnapshot: () => {}, incremental: { kept: () => true }, keyframeEvery: 0 } })).rejects.toThrow(/snapshots\.keyframeEvery/);
  });
});
