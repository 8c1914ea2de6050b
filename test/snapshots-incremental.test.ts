/**
 * Incremental snapshots (docs/snapshots.md): every block, each holding only the K/V rows the
 * kept ones lack. Merged with the snapshots they refer to they must be the full snapshots of the
 * same run, float for float, and resume to the uninterrupted run's frames; alone, or merged
 * without a part, they are refused naming what is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, inspectSnapshot, mergeSnapshots, SnapshotIncompleteError, type Frame, type GenerateOptions, type GenerateRequest, type GenerationSnapshot, type Runtime } from '../src/index.js';
import { decodeSnapshot, type SnapshotState } from '../src/engine/snapshot/snapshot-format.js';
import { RANDOM_MODEL } from './support/models.js';

const request: GenerateRequest = { seed: 11, blocks: 8, prompt: 'red ball moving left', switches: [{ atBlock: 3, prompt: 'blue ball moving up' }] };

async function run(runtime: Runtime, options: GenerateOptions, kept: ((seq: number) => boolean) | null): Promise<{ frames: Frame[]; snapshots: GenerationSnapshot[] }> {
  const snapshots: GenerationSnapshot[] = [];
  const frames: Frame[] = [];
  const onSnapshot = (s: GenerationSnapshot) => snapshots.push(s);
  for await (const frame of runtime.generate(request, { ...options, snapshots: { every: 1, onSnapshot, ...(kept ? { incremental: { kept } } : {}) } })) frames.push(frame);
  return { frames, snapshots };
}

/** A snapshot with the parts it refers to, from the same run. */
function merged(snapshots: readonly GenerationSnapshot[], s: GenerationSnapshot): Uint8Array {
  return mergeSnapshots([s.bytes, ...s.requires.map((seq) => (snapshots[seq] as GenerationSnapshot).bytes)]);
}

/**
 * Everything but the chain, with tensors as plain arrays (to compare two runs' snapshots). A
 * block at stage 0 gets its noise at its first step, so its latent slot holds whatever the
 * memory set held before: only the latents of blocks past it are compared. Whether a cached
 * block's decode had ended when the snapshot was taken depends on the threads' timing (the
 * snapshot then lists it as waiting, and its first block is that one, or not): the first block
 * and the waiting blocks are left out; the resumes below check that either way the frames are
 * the run's.
 */
function comparable(state: SnapshotState): object {
  const { chain: _chain, block: _block, latents, keys, values, cleanLatents, features, replayLatents, ...header } = state;
  const row = latents.length / Math.max(1, state.blocks.length);
  const waiting = state.fingerprint.steps + 1;
  const started = state.blocks.flatMap((b, i) => (b.stage > 0 && b.stage < waiting ? [...latents.subarray(i * row, (i + 1) * row)] : []));
  const blocks = header.blocks.filter((b) => b.stage < waiting);
  return { ...header, blocks, started, keys: [...keys], values: [...values], cleanLatents: [...cleanLatents], features: [...features], replayLatents: [...replayLatents] };
}

describe('incremental snapshots', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  const configs = [
    // P0 re-caches the window at the switch: every frame's rows change there.
    { name: 'P0 joint', cascade: { parallelism: 0, exec: 'joint' } },
    { name: 'P4 lanes', cascade: { parallelism: 4, attention: 'causal', exec: 'lanes' } },
  ] as const;

  for (const config of configs) {
    it(`${config.name}: merged, each is the full snapshot of the same run; resumed, the run's frames`, async () => {
      const options: GenerateOptions = { cascade: config.cascade };
      const full = await run(runtime, options, null);
      const incremental = await run(runtime, options, () => true);
      expect(incremental.frames.map((f) => Buffer.from(f.rgb).toString('base64'))).toEqual(full.frames.map((f) => Buffer.from(f.rgb).toString('base64')));
      expect(incremental.snapshots.map((s) => s.seq)).toEqual(full.snapshots.map((s) => s.seq));
      expect(full.snapshots.every((s) => s.requires.length === 0)).toBe(true);
      // Once the sink is full, every snapshot refers to earlier ones and is smaller than the full one.
      const later = incremental.snapshots.slice(2);
      expect(later.filter((s) => s.requires.length > 0).length).toBeGreaterThan(0);
      for (const s of incremental.snapshots) {
        const summary = inspectSnapshot(s.bytes);
        expect(summary.requires).toEqual(s.requires);
        if (s.requires.length > 0) {
          expect(summary.heldFrames).toBeLessThan(summary.kvFrames);
          expect(s.bytes.length).toBeLessThan((full.snapshots[s.seq] as GenerationSnapshot).bytes.length);
        }
        expect(comparable(decodeSnapshot(merged(incremental.snapshots, s)))).toEqual(comparable(decodeSnapshot((full.snapshots[s.seq] as GenerationSnapshot).bytes)));
      }
      if (config.cascade.parallelism === 0) {
        // The switch at block 3 re-caches before block 3's first step: the snapshot taken before
        // block 4 cannot refer to rows made before that.
        const afterSwitch = incremental.snapshots.find((s) => s.block === 4) as GenerationSnapshot;
        expect(afterSwitch.requires.every((seq) => (incremental.snapshots[seq] as GenerationSnapshot).block >= 4)).toBe(true);
        expect(inspectSnapshot(afterSwitch.bytes).heldFrames).toBe(inspectSnapshot(afterSwitch.bytes).kvFrames);
      }
      // A resume from a snapshot that refers to two or more others.
      const at = [...incremental.snapshots].reverse().find((s) => s.requires.length >= 1 && s.block < request.blocks) as GenerationSnapshot;
      const resumed: Frame[] = [];
      for await (const frame of runtime.generate(request, { ...options, resumeFrom: merged(incremental.snapshots, at) })) resumed.push(frame);
      expect(resumed.map((f) => f.index)).toEqual(full.frames.slice(at.firstFrame).map((f) => f.index));
      expect(resumed.filter((f) => !Buffer.from(f.rgb).equals(Buffer.from((full.frames[f.index] as Frame).rgb))).map((f) => f.index)).toEqual([]);
    });
  }

  it('refers only to kept snapshots', async () => {
    const { snapshots } = await run(runtime, { cascade: { parallelism: 0, exec: 'joint' } }, (seq) => seq % 2 === 0);
    expect(snapshots.some((s) => s.requires.length > 0)).toBe(true);
    expect(snapshots.flatMap((s) => s.requires).every((seq) => seq % 2 === 0)).toBe(true);
  });

  it('refuses a snapshot alone or merged without a part, naming what is missing', async () => {
    const { snapshots } = await run(runtime, { cascade: { parallelism: 0, exec: 'joint' } }, () => true);
    const s = snapshots.find((x) => x.requires.length > 0 && x.block < request.blocks) as GenerationSnapshot;
    const alone = collectError(runtime.generate(request, { cascade: { parallelism: 0, exec: 'joint' }, resumeFrom: s.bytes }));
    await expect(alone).resolves.toBeInstanceOf(SnapshotIncompleteError);
    expect(((await alone) as SnapshotIncompleteError).missing).toEqual(s.requires);
    const [dropped, ...rest] = s.requires;
    expect(() => mergeSnapshots([s.bytes, ...rest.map((seq) => (snapshots[seq] as GenerationSnapshot).bytes)])).toThrow(new RegExp(`snapshot ${s.seq} refers to the K/V rows of snapshots ${dropped}`));
    const other = await run(runtime, { cascade: { parallelism: 0, exec: 'joint' } }, () => true);
    expect(() => mergeSnapshots([s.bytes, ...s.requires.map((seq) => (other.snapshots[seq] as GenerationSnapshot).bytes)])).toThrow(/of chain/);
  });
});

async function collectError(frames: AsyncIterable<Frame>): Promise<unknown> {
  try {
    for await (const _ of frames) return null;
  } catch (error) {
    return error;
  }
  return null;
}
