import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { createRuntime, GenerationFailedError, InvalidOptionError, type Frame } from '../src/index.js';
import { readableSlots, occupancy, type KvPoolContext } from '../src/actors/kv-pool.js';
import { ModelPackageError } from '../src/engine/model/errors.js';
import { defaultModelDir } from '../src/engine/model/paths.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'block-cascade-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modelWith(name: string, edit: (manifest: Record<string, any>) => void): Promise<string> {
  const target = join(dir, name);
  await cp(defaultModelDir(), target, { recursive: true });
  const manifest = JSON.parse(await readFile(join(target, 'model.json'), 'utf8'));
  edit(manifest);
  await writeFile(join(target, 'model.json'), JSON.stringify(manifest));
  return target;
}

async function drain(frames: AsyncIterable<Frame>): Promise<number> {
  let n = 0;
  for await (const _ of frames) n++;
  return n;
}

describe('runtime: bounded memory', () => {
  it('keeps the KV pool within its fixed capacity over 200 blocks, sink kept, window rolling', async () => {
    const pools: KvPoolContext[] = [];
    const runtime = await createRuntime({
      inspect: (event: InspectionEvent) => {
        if (event.type === '@xstate.snapshot' && (event.actorRef as { id?: string }).id === 'kv-pool') {
          pools.push((event.snapshot as unknown as { context: KvPoolContext }).context);
        }
      },
    });
    try {
      const blocks = 200;
      expect(await drain(runtime.generate({ seed: 3, blocks, prompt: 'blue square moving up' }))).toBe(blocks * 3);
      const m = runtime.manifest;
      const capacity = pools[0]!.capacity;
      expect(pools.length).toBeGreaterThan(blocks);
      expect(Math.max(...pools.map(occupancy))).toBeLessThanOrEqual(capacity);
      const last = pools.at(-1)!;
      const newest = blocks * m.framesPerBlock - 1;
      const expected = [
        ...Array.from({ length: m.kv.sinkFrames }, (_, i) => i),
        ...Array.from({ length: m.kv.windowFrames }, (_, i) => newest - m.kv.windowFrames + 1 + i),
      ];
      expect(readableSlots(last).map((s) => s.position)).toEqual(expected);
      expect(last.slots).toHaveLength(capacity);
    } finally {
      await runtime.close();
    }
  });
});

describe('runtime: bounded actors', () => {
  it('keeps the supervisor\'s children bounded over 60 blocks at P0 and 30 at P4 lanes: finished block and decode actors are stopped', async () => {
    let sizes: number[] = [];
    const runtime = await createRuntime({
      lanes: 2,
      inspect: (event: InspectionEvent) => {
        if (event.type !== '@xstate.snapshot') return;
        const snapshot = event.snapshot as unknown as { machine?: { id?: string }; children?: Record<string, unknown> } | undefined;
        if (snapshot?.machine?.id === 'supervisor' && snapshot.children) sizes.push(Object.keys(snapshot.children).length);
      },
    });
    try {
      for (const [blocks, cascade] of [[60, {}], [30, { parallelism: 4, exec: 'lanes' }]] as const) {
        sizes = [];
        expect(await drain(runtime.generate({ seed: 5, blocks, prompt: 'red ball moving left' }, { cascade }))).toBe(blocks * runtime.manifest.framesPerBlock);
        expect(sizes.length).toBeGreaterThan(blocks);
        // The KV pool, at most five blocks in flight and their decodes: never one per block.
        expect(Math.max(...sizes)).toBeLessThanOrEqual(1 + 2 * 5 + 2);
        expect(sizes.at(-1)).toBeLessThanOrEqual(1);
      }
    } finally {
      await runtime.close();
    }
  });
});

describe('runtime: bad input and failures', () => {
  it('names the manifest and kv.windowFrames when the memory plan cannot be allocated', async () => {
    const model = await modelWith('huge-window', (m) => {
      m.kv.windowFrames = 1e9;
    });
    const err = await createRuntime({ model }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ModelPackageError);
    expect((err as ModelPackageError).field).toBe('kv.windowFrames');
    expect((err as Error).message).toMatch(/model\.json: field "kv\.windowFrames": the memory plan needs \d+ bytes of shared memory/);
  });

  it('rejects bad options with the option named', async () => {
    await expect(createRuntime({ lanes: 0 })).rejects.toThrow(/option "lanes": expected a positive integer, got 0/);
    await expect(createRuntime({ lanes: [{ device: 'tpu' as never, threads: 1 }] })).rejects.toBeInstanceOf(InvalidOptionError);
    const runtime = await createRuntime();
    try {
      await expect(drain(runtime.generate({ seed: -1, blocks: 1, prompt: 'x' }))).rejects.toThrow(/option "seed"/);
      await expect(drain(runtime.generate({ seed: 1, blocks: 0, prompt: 'x' }))).rejects.toThrow(/option "blocks"/);
    } finally {
      await runtime.close();
    }
  });

  it('runs a model whose sampler has three steps (t2 → t1 → t0 → cache) and refuses a bad step count', async () => {
    const model = await modelWith('three-steps', (m) => {
      m.sampler.timesteps = [1000, 750, 500];
    });
    const runtime = await createRuntime({ model });
    try {
      const states: string[] = [];
      const frames: Frame[] = [];
      for await (const frame of runtime.generate({ seed: 1, blocks: 2, prompt: 'red ball moving left' }, {
        trace: (r) => void (r.kind === 'state' && r.actor === 'block.0' && states.push(r.state)),
      })) frames.push(frame);
      expect(frames).toHaveLength(6);
      expect(states).toEqual(['queued', 't2', 't1', 't0', 'cache', 'done']);
      expect(runtime.stats().forwards).toBe(2 * 4);
      await expect(drain(runtime.generate({ seed: 1, blocks: 2, prompt: 'red' }, { steps: 0 }))).rejects.toThrow(/option "steps": expected an integer from 1 to 1000, got 0/);
    } finally {
      await runtime.close();
    }
    await expect(createRuntime({ model, steps: 2.5 })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it('reports a lane failure with the lane and task, and stays usable', async () => {
    // A vocabulary longer than the text encoder's embedding table passes every static check,
    // but the encoder's Gather fails on the lane for the extra word.
    const model = await modelWith('long-vocabulary', (m) => {
      m.text.vocabulary.push('zebra');
    });
    const runtime = await createRuntime({ model });
    try {
      const error = await drain(runtime.generate({ seed: 1, blocks: 2, prompt: 'zebra moving left' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GenerationFailedError);
      expect((error as Error).message).toMatch(/prompt encoding failed: lane 0: encode failed: .*indices/i);
      expect(await drain(runtime.generate({ seed: 1, blocks: 2, prompt: 'red ball moving left' }))).toBe(6);
    } finally {
      await runtime.close();
    }
  });
});

describe('runtime: a refused request leaves the runtime usable', () => {
  it('rejects a bad cascade option per generation, then generates', async () => {
    const runtime = await createRuntime({ lanes: 1 });
    try {
      await expect(drain(runtime.generate({ seed: 1, blocks: 1, prompt: 'red ball' }, { cascade: { exec: 'lanes' } }))).rejects.toThrow(/option "exec"/);
      expect(await drain(runtime.generate({ seed: 1, blocks: 1, prompt: 'red ball' }))).toBe(3);
    } finally {
      await runtime.close();
    }
  });
});
