import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, STAGES, type Frame, type Runtime } from '../src/index.js';
import type { CascadeOptions } from '../src/core/cascade-options.js';
import type { LaneRecord, TraceRecord } from '../src/core/trace-records.js';
import { cascadeSchedule } from '../src/core/schedule.js';
import { Tracer } from '../src/trace/tracer.js';

async function traced(runtime: Runtime, cascade: Partial<CascadeOptions>, blocks = 10) {
  const records: TraceRecord[] = [];
  const frames: Frame[] = [];
  const request = { seed: 2, blocks, prompt: 'red ball moving left', switches: [{ atBlock: 5, prompt: 'blue ball moving up' }] };
  const before = runtime.stats();
  for await (const frame of runtime.generate(request, { cascade, trace: (r) => records.push(r) })) frames.push(frame);
  const after = runtime.stats();
  const plain: Frame[] = [];
  for await (const frame of runtime.generate(request, { cascade })) plain.push(frame);
  return { records, frames, plain, ticks: after.ticks - before.ticks, recaches: after.recaches - before.recaches };
}

const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

describe('generation traces', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime({ lanes: 2 });
  });
  afterAll(async () => {
    await runtime?.close();
  });

  for (const cascade of [{ parallelism: 0, recache: 'on' }, { parallelism: 4, exec: 'lanes' }, { parallelism: 3, attention: 'causal', exec: 'joint' }] as const) {
    it(`P${cascade.parallelism} ${'exec' in cascade ? cascade.exec : 'joint'}: records every block's stages, every lane task and the switch, changing no frame`, async () => {
      const { records, frames, plain, ticks, recaches } = await traced(runtime, cascade);
      expect(bytes(frames).equals(bytes(plain))).toBe(true);
      const [meta, ...rest] = records;
      expect(meta).toMatchObject({ kind: 'meta', t: 0, version: 1, parallelism: cascade.parallelism, lanes: 2, blocks: 10 });
      expect(records.at(-1)).toMatchObject({ kind: 'end', blocks: 10, outcome: 'finished' });
      // Times never go back, and no record carries anything big.
      for (let i = 1; i < rest.length; i++) expect((rest[i] as TraceRecord).t).toBeGreaterThanOrEqual((rest[i - 1] as TraceRecord).t);
      expect(Math.max(...records.map((r) => JSON.stringify(r).length))).toBeLessThan(600);
      // Each block walks the machine in order.
      for (let b = 0; b < 10; b++) {
        const states = records.filter((r) => r.kind === 'state' && r.actor === `block.${b}`).map((r) => (r.kind === 'state' ? r.state : ''));
        expect(states).toEqual(['queued', ...STAGES, 'done']);
      }
      // Lane tasks come in start/end pairs; the forwards match the runtime's tick count.
      const lanes = records.filter((r): r is LaneRecord => r.kind === 'lane');
      const ends = lanes.filter((r) => r.phase === 'end');
      expect(lanes.filter((r) => r.phase === 'start')).toHaveLength(ends.length);
      const forwardTasks = ends.filter((r) => r.task === 'tick' || r.task === 'share');
      const tickNumbers = new Set(forwardTasks.map((r) => r.tick));
      expect(tickNumbers.size).toBe(ticks);
      if ('exec' in cascade && cascade.exec === 'lanes') {
        const shares = forwardTasks.filter((r) => r.task === 'share');
        expect(shares.length).toBeGreaterThan(ticks);
        // Per-layer barrier waits: one per layer, summing to the share's total wait.
        for (const share of shares) {
          expect(share.layerWaitsMs).toHaveLength(runtime.manifest.layers);
          expect(share.layerWaitsMs!.reduce((a, b) => a + b, 0)).toBeCloseTo(share.exchangeWaitMs!, 2);
        }
      }
      expect(ends.filter((r) => r.task === 'recache')).toHaveLength(recaches);
      expect(records.filter((r) => r.kind === 'recache')).toHaveLength(cascade.parallelism === 0 ? 1 : 0);
      expect(ends.filter((r) => r.task === 'decode')).toHaveLength(10);
      expect(records.filter((r) => r.kind === 'frame').map((r) => (r.kind === 'frame' ? r.block : -1))).toEqual([...Array(10).keys()]);
      expect(records.filter((r) => r.kind === 'switch')).toEqual([expect.objectContaining({ prompt: 'blue ball moving up', fromBlock: 5, live: false })]);
      // The KV pool never holds more than its slots, and fills up to the window.
      const kv = records.filter((r) => r.kind === 'kv');
      for (const r of kv) if (r.kind === 'kv') expect(r.free + r.reserved + r.committed).toBe(meta?.kind === 'meta' ? meta.kvCapacity : -1);
      expect(Math.max(...kv.map((r) => (r.kind === 'kv' ? r.committed : 0)))).toBe(runtime.manifest.kv.windowFrames + runtime.manifest.kv.sinkFrames);
    });
  }

  it('records a failed generation with its error', async () => {
    const records: TraceRecord[] = [];
    const controller = new AbortController();
    const run = async () => {
      for await (const frame of runtime.generate({ seed: 1, blocks: 30, prompt: 'red ball moving left' }, { signal: controller.signal, trace: (r) => records.push(r) })) {
        if (frame.index === 2) controller.abort();
      }
    };
    await expect(run()).rejects.toThrow();
    expect(records.at(-1)).toMatchObject({ kind: 'end', outcome: 'aborted' });
  });
});

describe('tracing overhead', () => {
  it('alternates traced and untraced generations and keeps the last trace', async () => {
    const { measureTraceOverhead } = await import('../src/bench/trace-overhead.js');
    const { RANDOM_MODEL } = await import('./support/models.js');
    const runtime = await createRuntime({ model: RANDOM_MODEL });
    try {
      const pairs: number[] = [];
      const r = await measureTraceOverhead(runtime, { seed: 0, blocks: 4, prompt: 'red ball moving left' }, { repeats: 3, warmup: 1, onPair: (done) => pairs.push(done) });
      expect(pairs).toEqual([1, 2, 3, 4]);
      expect(r.untraced).toHaveLength(3);
      expect(r.traced).toHaveLength(3);
      expect(r.slowdown).toBeGreaterThan(0);
      expect(r.records[0]).toMatchObject({ kind: 'meta', blocks: 4 });
      expect(r.records.at(-1)).toMatchObject({ kind: 'end', outcome: 'finished' });
    } finally {
      await runtime.close();
    }
  });
});

describe('Tracer', () => {
  it("ends a generation's trace at its end record: later records (a decode still on a lane) are dropped", () => {
    const records: TraceRecord[] = [];
    const tracer = new Tracer((r) => records.push(r), cascadeSchedule(4, 4));
    tracer.record({ kind: 'frame', block: 0, firstFrame: 0, frames: 3 });
    tracer.record({ kind: 'end', blocks: 1, outcome: 'aborted' });
    tracer.record({ kind: 'frame', block: 1, firstFrame: 3, frames: 3 });
    expect(records.map((r) => r.kind)).toEqual(['frame', 'end']);
  });
});
