/**
 * `block-cascade eval`: prompt adherence, sprite integrity, block-boundary jumps and switch
 * response of P0 against P1..P4 cascades, on the same seeds and prompts (src/quality/).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { CascadeWindow, Parallelism, SwitchMode } from '../core/cascade-options.js';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { defaultEvalPlan, runQualityEval } from '../eval/eval.js';
import { evalMarkdown, formatEvalTable } from '../eval/eval-report.js';
import { machineInfo, reportedModelDir } from '../bench/report.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { EXECUTORS } from '../engine/executors/registry.js';
import type { Runtime } from '../api/runtime.js';
import { onInterrupt } from './interrupt.js';
import { parsePositiveInt } from './options.js';
import { reportError } from './report-error.js';

/** Options of `eval`, as commander parses them. */
export interface EvalOptions {
  readonly json?: string;
  readonly markdown?: string;
  readonly seeds: number;
  readonly blocks: number;
  readonly model?: string;
  /** Denoising steps per block (default: the model's sampler). */
  readonly steps?: number;
  /** How the cascades' ticks run (default `joint`; P0 always runs `joint`). */
  readonly exec?: string;
  /** Which blocks a prompt switch reaches in the cascades (default `at-block`). */
  readonly switchMode?: SwitchMode;
  /** What earlier video a cascade block sees (default `extended`). */
  readonly cascadeWindow?: CascadeWindow;
  /** Cascade levels to compare with P0 (default 1–4). */
  readonly levels?: readonly Parallelism[];
}

/** The generated table replaces what lies between these markers in an existing Markdown file. */
const BEGIN = '<!-- eval:begin -->';
const END = '<!-- eval:end -->';

async function write(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  process.stderr.write(`block-cascade eval: wrote ${file}\n`);
}

/** Puts `table` between the markers of `file` (keeping the prose around it), or writes a new page. */
async function writeMarkdown(file: string, table: string): Promise<void> {
  const section = `${BEGIN}\n${table}${END}`;
  if (!existsSync(file)) return write(file, `# Quality\n\n${section}\n`);
  const text = await readFile(file, 'utf8');
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${file}: has no ${BEGIN} … ${END} section to replace`);
  await write(file, text.slice(0, from) + section + text.slice(to + END.length));
}

/**
 * Runs the evaluation, prints the table and writes JSON and Markdown if asked; returns the exit
 * status (0, or 130 when interrupted).
 *
 * @example
 * ```ts
 * process.exitCode = await runEvalCommand({ seeds: 16, blocks: 6, json: 'docs/bench/quality.json', markdown: 'docs/quality.md' });
 * ```
 */
export async function runEvalCommand(options: EvalOptions): Promise<number> {
  // A mode that runs one attention only (`wavefront`: causal) is compared with P0 under it alone.
  const only = options.exec === undefined ? undefined : EXECUTORS.find((e) => e.name === options.exec)?.needs.requires?.attention;
  const plan = defaultEvalPlan({ seeds: options.seeds, blocks: options.blocks, ...(options.levels ? { levels: options.levels } : {}), ...(only ? { attentions: [only] } : {}) });
  const model = options.model ?? defaultModelDir();
  const interrupt = onInterrupt();
  let runtime: Runtime | undefined;
  const bar = process.stderr.isTTY
    ? new SingleBar({ stream: process.stderr, format: 'evaluating |{bar}| {value}/{total} videos | {duration_formatted}', hideCursor: true }, Presets.shades_classic)
    : null;
  try {
    const { createRuntime } = await import('../api/runtime.js');
    runtime = await createRuntime({ model, lanes: 2, ...(options.steps === undefined ? {} : { steps: options.steps }) });
    process.stderr.write(
      `block-cascade eval: ${runtime.manifest.name}, ${plan.configs.length} configurations × ${plan.cases.length} videos of ${plan.blocks} blocks\n`,
    );
    const start = performance.now();
    bar?.start(plan.configs.length * plan.cases.length, 0);
    const result = await runQualityEval(runtime, plan, { signal: interrupt.signal, onVideo: (done) => bar?.update(done), ...(options.exec === undefined ? {} : { exec: options.exec }), ...(options.switchMode === undefined ? {} : { switchMode: options.switchMode }), ...(options.cascadeWindow === undefined ? {} : { cascadeWindow: options.cascadeWindow }) });
    bar?.stop();
    const seconds = (performance.now() - start) / 1000;
    process.stdout.write(`${formatEvalTable(result)}\n`);
    const steps = options.steps ?? runtime.manifest.sampler.timesteps.length;
    const ctx = { model: runtime.manifest.name, seeds: options.seeds, blocks: plan.blocks, steps, exec: options.exec ?? 'joint', switchMode: options.switchMode ?? 'at-block', cascadeWindow: options.cascadeWindow ?? 'extended', videosPerConfig: plan.cases.length, seconds };
    if (options.json !== undefined) {
      await write(options.json, `${JSON.stringify({ machine: machineInfo(), ...ctx, model: { name: runtime.manifest.name, dir: reportedModelDir(model) }, ...result }, null, 2)}\n`);
    }
    if (options.markdown !== undefined) await writeMarkdown(options.markdown, evalMarkdown(result, ctx));
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return interrupt.exitCode;
    throw err;
  } finally {
    bar?.stop();
    await runtime?.close();
    interrupt.dispose();
  }
}

/** `--switch-mode at-block|in-flight`. */
function parseSwitchMode(value: string): SwitchMode {
  if (value !== 'at-block' && value !== 'in-flight') throw new InvalidArgumentError('expected at-block or in-flight');
  return value;
}

/** `--cascade-window extended|trained`. */
function parseCascadeWindow(value: string): CascadeWindow {
  if (value !== 'extended' && value !== 'trained') throw new InvalidArgumentError('expected extended or trained');
  return value;
}

/** `--levels 4` or `--levels 1,4`: P levels 1–4 (P0 is always the reference). */
function parseLevels(value: string): Parallelism[] {
  const levels = value.split(',').map((v) => v.trim());
  if (levels.some((v) => !/^[1-4]$/.test(v))) throw new InvalidArgumentError('expected P levels from 1 to 4, comma-separated (P0 always runs)');
  return levels.map((v) => Number(v) as Parallelism);
}

/**
 * Adds the `eval` command to a program.
 *
 * @example
 * ```ts
 * registerEvalCommand(new Command('block-cascade'));
 * ```
 */
export function registerEvalCommand(program: Command): Command {
  return program
    .command('eval')
    .description('score prompt adherence and temporal consistency of P0 vs P1..P4 cascades (same seeds and prompts)')
    .option('--json <file>', 'write every video\'s scores and the summaries as JSON')
    .option('--markdown <file>', 'write the summary table into this Markdown file (between <!-- eval:begin --> and <!-- eval:end --> if it exists)')
    .option('--seeds <n>', 'seeds (each: 4 prompts + 1 prompt switch)', parsePositiveInt, 16)
    .option('--blocks <n>', 'blocks per video (the switch comes at half)', parsePositiveInt, 6)
    .option('--model <dir>', 'model package folder (default: the bundled trained model)')
    .option('--steps <n>', 'denoising steps per block (default: the model\'s sampler)', parsePositiveInt)
    .option('--exec <mode>', 'how the cascades\' ticks run (a registered execution mode; default joint, P0 always joint)')
    .option('--switch-mode <mode>', 'at-block or in-flight: which blocks a prompt switch reaches in the cascades (default at-block)', parseSwitchMode)
    .option('--cascade-window <mode>', 'extended or trained: what earlier video a cascade block sees (default extended; docs/cascading.md)', parseCascadeWindow)
    .option('--levels <list>', 'cascade levels compared with P0, comma-separated (default 1,2,3,4)', parseLevels)
    .action(async (options: EvalOptions) => {
      try {
        process.exitCode = await runEvalCommand(options);
      } catch (err) {
        reportError(err);
      }
    });
}
