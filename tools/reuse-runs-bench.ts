/**
 * Consecutive reused steps in one call against one call each, side by side in one run: `npx tsx
 * --conditions=block-cascade-source tools/reuse-runs-bench.ts [--model models/sprites]
 * [--steps 32] [--blocks 6] [--repeats 15] [--threshold 0.15] [--json FILE]`. P0 on one lane;
 * two runtimes, one with `reuseRuns: false`; uncached `joint`, bwcache with runs and bwcache
 * without, rotated every repeat, medians. From the trace: `session.run` per reused step (a run's
 * time shared out over its steps) and per computed step.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createRuntime, type Runtime } from '../src/index.js';
import type { FeatureCacheOptions } from '../src/core/feature-cache.js';
import type { TraceRecord } from '../src/core/trace-records.js';
import { median } from '../src/core/median.js';
import { roundOrder } from '../src/bench/measure.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sprites' },
    steps: { type: 'string', default: '32' },
    blocks: { type: 'string', default: '6' },
    repeats: { type: 'string', default: '15' },
    threshold: { type: 'string', default: '0.15' },
    json: { type: 'string' },
  },
});
const steps = Number(values.steps);
const blocks = Number(values.blocks);
const repeats = Number(values.repeats);
const featureCache: FeatureCacheOptions = { policy: 'bwcache', threshold: Number(values.threshold) };

interface Config {
  readonly name: string;
  readonly runtime: 'runs' | 'single';
  readonly featureCache: FeatureCacheOptions | null;
}
const configs: readonly Config[] = [
  { name: 'none (joint)', runtime: 'runs', featureCache: null },
  { name: 'bwcache, reused steps in one call', runtime: 'runs', featureCache },
  { name: 'bwcache, one call per reused step', runtime: 'single', featureCache },
];

interface Sample {
  readonly ms: number;
  readonly reused: number;
  readonly together: number;
  readonly reusedRunMs: number[];
  readonly computedRunMs: number[];
}

async function measure(runtime: Runtime, c: Config, seed: number): Promise<Sample> {
  const before = runtime.stats();
  const reusedRunMs: number[] = [];
  const computedRunMs: number[] = [];
  const trace = (r: TraceRecord) => {
    if (r.kind !== 'lane' || r.phase !== 'end' || r.runMs === undefined || (r.task !== 'tick' && r.task !== 'share') || r.stages[0] === steps) return;
    (r.reused?.length ? reusedRunMs : computedRunMs).push(r.runMs);
  };
  const start = performance.now();
  const cascade = { parallelism: 0, exec: c.featureCache ? 'layered' : 'joint' } as const;
  for await (const _ of runtime.generate({ seed, blocks, prompt: 'red ball moving left' }, { steps, cascade, trace, ...(c.featureCache ? { featureCache: c.featureCache } : {}) })) void _;
  const ms = performance.now() - start;
  const after = runtime.stats();
  return { ms, reused: after.reusedForwards - before.reusedForwards, together: after.reusedTogether - before.reusedTogether, reusedRunMs, computedRunMs };
}

const runtimes = { runs: await createRuntime({ model: values.model, lanes: 1 }), single: await createRuntime({ model: values.model, lanes: 1, reuseRuns: false }) };
const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
const load = [loadavg()[0] as number];
try {
  for (const c of configs) await measure(runtimes[c.runtime], c, 0); // warm-up
  for (let r = 0; r < repeats; r++) {
    for (const i of roundOrder(configs.length, r)) {
      const c = configs[i] as Config;
      samples.get(c.name)?.push(await measure(runtimes[c.runtime], c, 1 + r));
    }
    load.push(loadavg()[0] as number);
    process.stderr.write(`repeat ${r + 1}/${repeats}\n`);
  }
} finally {
  await Promise.all([runtimes.runs.close(), runtimes.single.close()]);
}

const reference = median((samples.get('none (joint)') ?? []).map((s) => s.ms));
const records = configs.map((c) => {
  const s = samples.get(c.name) ?? [];
  const ms = median(s.map((x) => x.ms));
  const all = (pick: (x: Sample) => number[]) => s.flatMap(pick);
  return {
    config: c.name,
    blocksPerSecond: (blocks * 1000) / ms,
    speedup: reference / ms,
    reusedPerBlock: (s[0]?.reused ?? 0) / blocks,
    reusedTogetherPerBlock: (s[0]?.together ?? 0) / blocks,
    reusedStepRunMs: all((x) => x.reusedRunMs).length ? median(all((x) => x.reusedRunMs)) : null,
    computedStepRunMs: median(all((x) => x.computedRunMs)),
  };
});
process.stdout.write(`${values.model}, ${steps} steps, P0 on 1 lane, bwcache δ = ${featureCache.threshold}, ${blocks} blocks × ${repeats} repeats (medians)\n\n`);
process.stdout.write('| configuration | speed-up vs none (joint) | session.run per reused step | session.run per computed step |\n|---|---|---|---|\n');
for (const r of records) process.stdout.write(`| ${r.config} | ${r.speedup.toFixed(2)}× (${r.blocksPerSecond.toFixed(1)} blocks/s) | ${r.reusedStepRunMs === null ? '–' : `${r.reusedStepRunMs.toFixed(3)} ms`} | ${r.computedStepRunMs.toFixed(3)} ms |\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ meta: { model: values.model, steps, blocks, repeats, threshold: featureCache.threshold, load1: load, date: new Date().toISOString() }, records }, null, 2)}\n`);
