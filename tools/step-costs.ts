/**
 * What one denoising step costs with feature caching on and off, step by step:
 * `npx tsx --conditions=block-cascade-source tools/step-costs.ts [--model models/sprites]
 * [--steps 32] [--blocks 6] [--rounds 15] [--json FILE]`. One runtime, one lane, P0; every round
 * generates the same request once per configuration (none, bwcache δ = 0: every step computes and
 * measures, bwcache δ = 0.15: the schedule fixed early, computed steps no longer measure), so the
 * machine's load falls on all three alike. The lane's task records give each step's worker time
 * and `session.run` time; medians over the steps that caching decides (not a block's first step,
 * not the cache step), split into computed and reused ones.
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createRuntime } from '../src/index.js';
import type { FeatureCacheOptions } from '../src/core/feature-cache.js';
import { median } from '../src/core/median.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '32' },
    blocks: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '15' },
    json: { type: 'string' },
  },
});
const steps = Number(values.steps);
const runtime = await createRuntime({ lanes: 1, ...(values.model ? { model: values.model } : {}) });
const configurations: readonly (readonly [string, FeatureCacheOptions | undefined])[] = [
  ['none (joint)', undefined],
  ['bwcache δ = 0 (every step computes and measures)', { policy: 'bwcache', threshold: 0 }],
  ['bwcache δ = 0.15 (schedule fixed: computed steps do not measure)', { policy: 'bwcache', threshold: 0.15 }],
];
interface Step {
  readonly configuration: string;
  readonly use: 'compute' | 'reuse';
  readonly workerMs: number;
  readonly runMs: number;
}
const recorded: Step[] = [];
let current: string | null = null;
const lane = runtime.lanes[0];
if (!lane) throw new Error('no lane');
lane.observe((activity) => {
  const { task, result } = activity;
  if (activity.phase !== 'end' || !result || current === null || (task.kind !== 'tick' && task.kind !== 'share')) return;
  const member = task.members[0];
  if (!member || member.stage === 0 || member.stage >= steps) return;
  recorded.push({ configuration: current, use: member.features === 'reuse' ? 'reuse' : 'compute', workerMs: result.workerMs, runMs: result.runMs });
});
const request = { seed: 3, blocks: Number(values.blocks), prompt: 'red ball moving left' };
const load = [loadavg()[0] as number];
for (let round = 0; round <= Number(values.rounds); round++) {
  for (const [name, featureCache] of configurations) {
    // Round 0 warms every configuration's graphs up and is not kept.
    current = round === 0 ? null : name;
    for await (const frame of runtime.generate(request, { steps, ...(featureCache ? { featureCache } : {}) })) void frame;
  }
}
load.push(loadavg()[0] as number);
await runtime.close();

const reference = recorded.filter((s) => s.configuration === configurations[0]?.[0]);
const refWorker = median(reference.map((s) => s.workerMs));
const rows = configurations.flatMap(([name]) =>
  (['compute', 'reuse'] as const).flatMap((use) => {
    const mine = recorded.filter((s) => s.configuration === name && s.use === use);
    if (mine.length === 0) return [];
    const workerMs = median(mine.map((s) => s.workerMs));
    const runMs = median(mine.map((s) => s.runMs));
    return [{ configuration: name, use, steps: mine.length, workerMs, runMs, beyondRunMs: median(mine.map((s) => s.workerMs - s.runMs)), relativeToUncached: workerMs / refWorker }];
  }),
);
process.stdout.write(`${values.model ?? 'models/sprites'}, ${steps} steps, P0 on one lane, ${values.rounds} interleaved rounds of ${request.blocks} blocks; medians per step\n`);
process.stdout.write('| configuration | step | steps timed | worker ms | `session.run` ms | worker beyond `session.run` ms | worker time ÷ uncached |\n|---|---|---|---|---|---|---|\n');
for (const r of rows) process.stdout.write(`| ${r.configuration} | ${r.use} | ${r.steps} | ${r.workerMs.toFixed(3)} | ${r.runMs.toFixed(3)} | ${r.beyondRunMs.toFixed(3)} | ${r.relativeToUncached.toFixed(2)} |\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ meta: { model: values.model ?? 'models/sprites', steps, blocks: request.blocks, rounds: Number(values.rounds), load1: load, date: new Date().toISOString() }, rows }, null, 2)}\n`);
