/**
 * The fused forward against the layered chain, side by side in one run: `npx tsx
 * --conditions=block-cascade-source tools/fused-bench.ts [--model models/sprites] [--steps 32]
 * [--blocks 8] [--repeats 9] [--threshold 0.15] [--json FILE]`. P0 on one lane; two runtimes, one with the fused
 * forward (the default) and one without (`fusedForward: false`), configurations interleaved and
 * rotated each repeat, medians. A threshold of 0 never triggers, so every step computes with the
 * cache on: its milliseconds per forward are those of "a computed step with caching on".
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createRuntime, type Runtime } from '../src/index.js';
import type { FeatureCacheOptions } from '../src/core/feature-cache.js';
import { median } from '../src/core/median.js';
import { roundOrder } from '../src/bench/measure.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sprites' },
    steps: { type: 'string', default: '32' },
    blocks: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '9' },
    threshold: { type: 'string', default: '0.15' },
    json: { type: 'string' },
  },
});
const steps = Number(values.steps);
const blocks = Number(values.blocks);
const repeats = Number(values.repeats);
/** The triggering threshold (the random-weight models re-noise every step: their indicator is about 1.2). */
const delta = Number(values.threshold);

interface Config {
  readonly name: string;
  readonly exec: 'joint' | 'layered';
  readonly featureCache: FeatureCacheOptions;
  /** Runs on the runtime without the fused forward. */
  readonly chain: boolean;
}
const configs: readonly Config[] = [
  { name: 'none (joint)', exec: 'joint', featureCache: { policy: 'none' }, chain: false },
  { name: 'none (layered chain)', exec: 'layered', featureCache: { policy: 'none' }, chain: false },
  { name: 'bwcache δ=0 (fused)', exec: 'layered', featureCache: { policy: 'bwcache', threshold: 0 }, chain: false },
  { name: 'bwcache δ=0 (layered chain)', exec: 'layered', featureCache: { policy: 'bwcache', threshold: 0 }, chain: true },
  { name: `bwcache δ=${delta} (fused)`, exec: 'layered', featureCache: { policy: 'bwcache', threshold: delta }, chain: false },
  { name: `bwcache δ=${delta} (layered chain)`, exec: 'layered', featureCache: { policy: 'bwcache', threshold: delta }, chain: true },
];

interface Sample {
  readonly ms: number;
  readonly forwards: number;
  readonly reused: number;
  readonly runMs: number;
  readonly workerMs: number;
  readonly taskMs: number;
}

async function measure(runtime: Runtime, c: Config, seed: number): Promise<Sample> {
  const before = runtime.stats();
  const start = performance.now();
  for await (const _ of runtime.generate({ seed, blocks, prompt: 'red ball moving left' }, { steps, cascade: { parallelism: 0, exec: c.exec }, featureCache: c.featureCache })) void _;
  const ms = performance.now() - start;
  const after = runtime.stats();
  return { ms, forwards: after.forwards - before.forwards, reused: after.reusedForwards - before.reusedForwards, runMs: after.forwardRunMs - before.forwardRunMs, workerMs: after.forwardWorkerMs - before.forwardWorkerMs, taskMs: after.forwardTaskMs - before.forwardTaskMs };
}

const fused = await createRuntime({ model: values.model, lanes: 1 });
const chain = await createRuntime({ model: values.model, lanes: 1, fusedForward: false });
const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
const load = [loadavg()[0] as number];
try {
  for (const c of configs) await measure(c.chain ? chain : fused, c, 0); // warm-up
  for (let r = 0; r < repeats; r++) {
    for (const i of roundOrder(configs.length, r)) {
      const c = configs[i] as Config;
      samples.get(c.name)?.push(await measure(c.chain ? chain : fused, c, 1));
    }
    load.push(loadavg()[0] as number);
    process.stderr.write(`repeat ${r + 1}/${repeats}\n`);
  }
} finally {
  await Promise.all([fused.close(), chain.close()]);
}

const reference = median((samples.get('none (joint)') ?? []).map((s) => s.ms));
const records = configs.map((c) => {
  const s = samples.get(c.name) ?? [];
  const first = s[0] as Sample;
  const computed = first.forwards - first.reused;
  const ms = median(s.map((x) => x.ms));
  return {
    config: c.name,
    exec: c.exec,
    featureCache: c.featureCache,
    fused: !c.chain && c.featureCache.policy !== 'none',
    blocksPerSecond: (blocks * 1000) / ms,
    speedup: reference / ms,
    bound: first.forwards / computed,
    forwards: first.forwards,
    computedForwards: computed,
    msPerForward: median(s.map((x) => x.ms / x.forwards)),
    runMsPerForward: median(s.map((x) => x.runMs / x.forwards)),
    workerMsPerForward: median(s.map((x) => x.workerMs / x.forwards)),
    taskMsPerForward: median(s.map((x) => x.taskMs / x.forwards)),
    msPerBlockRuns: s.map((x) => Math.round(x.ms / blocks * 100) / 100),
  };
});
const rows = records.map((r) => `| ${r.config} | ${r.speedup.toFixed(2)}× (${r.blocksPerSecond.toFixed(1)} blocks/s) | ${r.bound.toFixed(2)}× | ${r.msPerForward.toFixed(2)} | ${r.taskMsPerForward.toFixed(2)} | ${r.workerMsPerForward.toFixed(2)} | ${r.runMsPerForward.toFixed(2)} |`);
process.stdout.write([`${values.model}, ${steps} steps, P0 on 1 lane, ${blocks} blocks × ${repeats} repeats (medians)`, '', '| configuration | speed-up vs none (joint) | bound | ms per forward | lane task ms per forward | worker ms per forward | session.run ms per forward |', '|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n');
if (values.json) {
  const meta = { model: values.model, steps, blocks, repeats, parallelism: 0, lanes: 1, cpus: cpus().length, load1: { min: Math.min(...load), max: Math.max(...load) }, date: new Date().toISOString() };
  await writeFile(values.json, `${JSON.stringify({ meta, records }, null, 2)}\n`);
}
