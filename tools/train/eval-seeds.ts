/**
 * `block-cascade eval` on other seeds and a subset of its configurations: held-out seeds for a
 * candidate model (tools/train/README.md, "Cascade fine-tune"). Same plan, probe and table as the
 * CLI (src/eval/eval.ts), with the seeds starting at --from and only the P levels of --levels
 * (P0 always first: the other levels are compared with it).
 *
 *   npx tsx tools/train/eval-seeds.ts --model runs/cand-model --from 100 --seeds 32 --levels 0,4 [--steps N] [--switch-mode in-flight] [--json out.json]
 *
 * Imports the runtime from this checkout's src/ (run it from a checkout whose src/ matches).
 *
 * @example
 * ```sh
 * npx tsx tools/train/eval-seeds.ts --model models/sprites --from 100 --seeds 32 --levels 0,4
 * ```
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { defaultEvalPlan, runQualityEval } from '../../src/eval/eval.js';
import { formatEvalTable } from '../../src/eval/eval-report.js';
import { createRuntime } from '../../src/api/runtime.js';
import type { SwitchMode } from '../../src/core/cascade-options.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/sprites' },
      from: { type: 'string', default: '100' },
      seeds: { type: 'string', default: '32' },
      blocks: { type: 'string', default: '6' },
      levels: { type: 'string', default: '0,4' },
      json: { type: 'string' },
      steps: { type: 'string' },
      'switch-mode': { type: 'string' },
    },
  });
  const from = Number(values.from);
  const levels = new Set((values.levels as string).split(',').map(Number));
  levels.add(0);
  const base = defaultEvalPlan({ seeds: Number(values.seeds), blocks: Number(values.blocks) });
  const plan = {
    ...base,
    cases: base.cases.map((c) => ({ ...c, seed: c.seed + from })),
    configs: base.configs.filter((c) => levels.has(c.parallelism)),
  };
  const runtime = await createRuntime({ model: values.model as string, lanes: 2, ...(values.steps ? { steps: Number(values.steps) } : {}) });
  const start = performance.now();
  try {
    const switchMode = values['switch-mode'] as SwitchMode | undefined;
    const result = await runQualityEval(runtime, plan, switchMode ? { switchMode } : {});
    const seconds = (performance.now() - start) / 1000;
    process.stdout.write(`${formatEvalTable(result)}\n`);
    process.stdout.write(`${runtime.manifest.name} (${values.model}), seeds ${from}..${from + Number(values.seeds) - 1}, ${plan.blocks} blocks, ${plan.cases.length} videos per configuration, ${Math.round(seconds)} s\n`);
    if (values.json) await writeFile(values.json, `${JSON.stringify({ model: values.model, from, seeds: Number(values.seeds), blocks: plan.blocks, switchMode: switchMode ?? "at-block", seconds, ...result }, null, 2)}\n`);
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
