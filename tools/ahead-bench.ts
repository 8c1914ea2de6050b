/**
 * P0 with a block's steps run ahead on the lane (the default) against step by step, side by
 * side in one process: `npx tsx --conditions=block-cascade-source tools/ahead-bench.ts [--model
 * models/sprites] [--blocks 16] [--repeats 7] [--steps 4] [--json FILE]`. Two one-lane runtimes
 * (one with `runAhead: false`), generations alternated and the order swapped every repeat;
 * medians. Efficiency counts every `session.run` of the lane (denoiser, decoder, text encoder)
 * as the bench does; `forwardEfficiency` the denoiser's alone. Checks the frames are the same.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createRuntime, type Runtime } from '../src/index.js';
import { median } from '../src/core/median.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/sprites' },
    blocks: { type: 'string', default: '16' },
    repeats: { type: 'string', default: '7' },
    steps: { type: 'string' },
    json: { type: 'string' },
  },
});
const blocks = Number(values.blocks);
const repeats = Number(values.repeats);
const steps = values.steps === undefined ? undefined : Number(values.steps);

interface Sample {
  readonly ms: number;
  readonly forwards: number;
  readonly runMs: number;
  readonly otherRunMs: number;
  readonly taskMs: number;
  readonly tasks: number;
  readonly hash: string;
}

async function measure(runtime: Runtime): Promise<Sample> {
  const before = runtime.stats();
  const tasksBefore = runtime.lanes.reduce((n, lane) => n + lane.tasksRun, 0);
  const hash = createHash('sha256');
  const start = performance.now();
  for await (const frame of runtime.generate({ seed: 1, blocks, prompt: 'red ball moving left' }, { cascade: { parallelism: 0 }, ...(steps === undefined ? {} : { steps }) })) hash.update(frame.rgb);
  const ms = performance.now() - start;
  const after = runtime.stats();
  return {
    ms,
    forwards: after.forwards - before.forwards,
    runMs: after.forwardRunMs - before.forwardRunMs,
    otherRunMs: after.decodeRunMs - before.decodeRunMs + after.encodeRunMs - before.encodeRunMs,
    taskMs: after.forwardTaskMs - before.forwardTaskMs,
    tasks: runtime.lanes.reduce((n, lane) => n + lane.tasksRun, 0) - tasksBefore,
    hash: hash.digest('hex'),
  };
}

const sides = {
  ahead: await createRuntime({ model: values.model, lanes: 1 }),
  stepwise: await createRuntime({ model: values.model, lanes: 1, runAhead: false }),
};
const names = Object.keys(sides) as (keyof typeof sides)[];
const samples: Record<keyof typeof sides, Sample[]> = { ahead: [], stepwise: [] };
const load = [loadavg()[0] as number];
try {
  for (const name of names) await measure(sides[name]); // warm-up
  for (let r = 0; r < repeats; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) samples[name].push(await measure(sides[name]));
    load.push(loadavg()[0] as number);
    process.stderr.write(`repeat ${r + 1}/${repeats}\n`);
  }
} finally {
  await Promise.all(names.map((name) => sides[name].close()));
}

interface Figures {
  readonly blocksPerSecond: number;
  readonly msPerForward: number;
  readonly runMsPerForward: number;
  readonly overheadPercent: number;
  readonly efficiency: number;
  readonly forwardEfficiency: number;
  readonly laneTasksPerBlock: number;
}
const figuresOf = (s: readonly Sample[]): Figures => ({
  blocksPerSecond: median(s.map((x) => (blocks * 1000) / x.ms)),
  msPerForward: median(s.map((x) => x.ms / x.forwards)),
  runMsPerForward: median(s.map((x) => x.runMs / x.forwards)),
  overheadPercent: median(s.map((x) => (100 * (x.taskMs - x.runMs)) / x.runMs)),
  efficiency: median(s.map((x) => (x.runMs + x.otherRunMs) / x.ms)),
  forwardEfficiency: median(s.map((x) => x.runMs / x.ms)),
  laneTasksPerBlock: (s[0] as Sample).tasks / blocks,
});
const figures = { ahead: figuresOf(samples.ahead), stepwise: figuresOf(samples.stepwise) };
const framesIdentical = names.every((name) => samples[name].every((x) => x.hash === (samples.ahead[0] as Sample).hash));
const speedup = figures.ahead.blocksPerSecond / figures.stepwise.blocksPerSecond;
const row = (name: keyof typeof sides) => {
  const f = figures[name];
  return `| ${name} | ${f.blocksPerSecond.toFixed(1)} | ${f.msPerForward.toFixed(2)} | ${f.runMsPerForward.toFixed(2)} | ${f.overheadPercent.toFixed(1)}% | ${(100 * f.efficiency).toFixed(1)}% | ${(100 * f.forwardEfficiency).toFixed(1)}% | ${f.laneTasksPerBlock.toFixed(0)} |`;
};
process.stdout.write([
  `${values.model}, P0 on 1 lane, ${blocks} blocks × ${repeats} repeats (medians); frames identical: ${framesIdentical}; ahead ÷ stepwise ${speedup.toFixed(2)}×`,
  '',
  '| P0 | blocks/s | ms per forward | session.run ms per forward | overhead | efficiency | forward efficiency | lane tasks per block |',
  '|---|---|---|---|---|---|---|---|',
  row('stepwise'),
  row('ahead'),
].join('\n') + '\n');
if (values.json) {
  const meta = { model: values.model, blocks, repeats, steps: steps ?? null, parallelism: 0, lanes: 1, cpus: cpus().length, load1: { min: Math.min(...load), max: Math.max(...load) }, date: new Date().toISOString() };
  await writeFile(values.json, `${JSON.stringify({ meta, framesIdentical, speedup, ...figures }, null, 2)}\n`);
}
