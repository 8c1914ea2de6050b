/**
 * The quality evaluation: sequential (P0) against cascades (P1..P4, causal and bidirectional),
 * the paper's claim in miniature. Every configuration generates the same videos (same seeds,
 * prompts and switches); the probe scores each video; the summary gives each metric's mean
 * and 95% interval over the videos, and the PSNR of each video against its P0 twin.
 */
import { parsePrompt } from '../data/prompt.js';
import type { Frame, PromptSwitch } from '../core/api-types.js';
import { frameDrift } from '../quality/drift.js';
import type { AttentionMode, CascadeWindow, ExecMode, Parallelism, SwitchMode } from '../core/cascade-options.js';
import type { Runtime } from '../api/runtime.js';
import { probeVideo, type ExpectedPrompt, type ProbeReport } from '../quality/probe.js';
import { meanInterval, type MeanInterval } from '../quality/stats.js';

/** One generated video of the evaluation: a seed, a prompt, maybe a switch. */
export interface EvalCase {
  readonly seed: number;
  readonly prompt: string;
  readonly switches: readonly PromptSwitch[];
}

/** A cascade setting under evaluation. */
export interface EvalConfig {
  readonly parallelism: Parallelism;
  readonly attention: AttentionMode;
}

/** What to evaluate. */
export interface EvalPlan {
  readonly blocks: number;
  readonly cases: readonly EvalCase[];
  readonly configs: readonly EvalConfig[];
}

/** The scores of one video. */
export interface CaseScore {
  readonly seed: number;
  readonly prompt: string;
  readonly switched: boolean;
  readonly colourAdherence: number;
  readonly directionAdherence: number;
  readonly integrity: number;
  readonly boundaryJumpRatio: number | null;
  readonly withinBlockJump: number | null;
  readonly boundaryJump: number | null;
  /** Blocks after the switch until both colour and direction follow it; null: never, or no switch. */
  readonly switchResponse: number | null;
  /** PSNR (dB) of the decoded frames against the same case at P0; null for P0 itself. */
  readonly psnrVsP0: number | null;
}

/** The summary of one configuration over all cases. */
export interface ConfigSummary extends EvalConfig {
  readonly videos: number;
  readonly colourAdherence: MeanInterval;
  readonly directionAdherence: MeanInterval;
  readonly integrity: MeanInterval;
  readonly boundaryJumpRatio: MeanInterval;
  /** Share of switch videos that follow the new prompt within the video. */
  readonly switchFollowed: MeanInterval;
  /** Mean blocks to follow a switch, over the switch videos that followed it. */
  readonly switchResponseBlocks: MeanInterval;
  /** Mean PSNR against P0 (dB); null for P0. Identical videos count as 99 dB. */
  readonly psnrVsP0: MeanInterval | null;
}

/** The evaluation's result. */
export interface EvalResult {
  readonly summaries: readonly ConfigSummary[];
  readonly scores: readonly (EvalConfig & { readonly cases: readonly CaseScore[] })[];
}

/**
 * The default plan: `seeds` seeds × `prompts` (plain videos) plus, per seed, one video that
 * switches colour and direction halfway; P0, then P1..P4 × {causal, bidirectional}.
 *
 * @example
 * ```ts
 * const plan = defaultEvalPlan({ seeds: 16, blocks: 6 });
 * plan.cases.length; // 16 × (4 prompts + 1 switch) = 80
 * ```
 */
export function defaultEvalPlan(options: { readonly seeds: number; readonly blocks: number; readonly levels?: readonly Parallelism[]; readonly attentions?: readonly AttentionMode[] }): EvalPlan {
  const prompts = ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'];
  const switches: readonly [string, string][] = [
    ['white square moving right', 'orange square moving down'],
    ['purple ball moving up', 'green ball moving left'],
  ];
  const cases: EvalCase[] = [];
  for (let seed = 0; seed < options.seeds; seed++) {
    for (const prompt of prompts) cases.push({ seed, prompt, switches: [] });
    const [from, to] = switches[seed % switches.length] as [string, string];
    cases.push({ seed, prompt: from, switches: [{ atBlock: Math.floor(options.blocks / 2), prompt: to }] });
  }
  const configs: EvalConfig[] = [{ parallelism: 0, attention: 'causal' }];
  for (const parallelism of [1, 2, 3, 4] as const) {
    if (options.levels && !options.levels.includes(parallelism)) continue;
    for (const attention of options.attentions ?? (['causal', 'bidirectional'] as const)) configs.push({ parallelism, attention });
  }
  return { blocks: options.blocks, cases, configs };
}

/** PSNR given to identical videos (PSNR is infinite there), so that means stay finite. */
export const IDENTICAL_PSNR_DB = 99;

/** The expected prompt of each block of a case. */
function expectedPrompts(c: EvalCase, blocks: number): ExpectedPrompt[] {
  return Array.from({ length: blocks }, (_, b) => {
    let text = c.prompt;
    for (const s of c.switches) if (s.atBlock <= b) text = s.prompt;
    const facts = parsePrompt(text);
    return { colour: facts.colour, direction: facts.direction, shape: facts.shape };
  });
}

async function collect(frames: AsyncIterable<Frame>): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of frames) out.push(frame);
  return out;
}

function score(c: EvalCase, report: ProbeReport, psnrVsP0: number | null): CaseScore {
  return {
    seed: c.seed,
    prompt: c.switches.length === 0 ? c.prompt : [c.prompt, ...c.switches.map((s) => `@${s.atBlock}: ${s.prompt}`)].join(' → '),
    switched: c.switches.length > 0,
    colourAdherence: report.colourAdherence,
    directionAdherence: report.directionAdherence,
    integrity: report.integrity,
    boundaryJumpRatio: report.boundaryJumpRatio,
    withinBlockJump: report.withinBlockJump,
    boundaryJump: report.boundaryJump,
    switchResponse: report.switchResponse,
    psnrVsP0,
  };
}

/** Summarises the scores of one configuration. */
export function summarizeScores(config: EvalConfig, cases: readonly CaseScore[]): ConfigSummary {
  const of = (pick: (s: CaseScore) => number | null, from: readonly CaseScore[] = cases) =>
    meanInterval(from.map(pick).filter((v): v is number => v !== null));
  const switched = cases.filter((s) => s.switched);
  return {
    ...config,
    videos: cases.length,
    colourAdherence: of((s) => s.colourAdherence),
    directionAdherence: of((s) => s.directionAdherence),
    integrity: of((s) => s.integrity),
    boundaryJumpRatio: of((s) => s.boundaryJumpRatio),
    switchFollowed: of((s) => (s.switchResponse === null ? 0 : 1), switched),
    switchResponseBlocks: of((s) => s.switchResponse, switched),
    psnrVsP0: config.parallelism === 0 ? null : of((s) => s.psnrVsP0),
  };
}

/**
 * Runs the plan on `runtime`: every case under every configuration, probed. P0 must come first
 * in `plan.configs` (the other configurations are compared with its frames).
 *
 * @example
 * ```ts
 * const runtime = await createRuntime();
 * const result = await runQualityEval(runtime, defaultEvalPlan({ seeds: 16, blocks: 6 }));
 * console.log(result.summaries[0].colourAdherence.mean);
 * ```
 */
export async function runQualityEval(
  runtime: Runtime,
  plan: EvalPlan,
  options: { readonly signal?: AbortSignal; readonly onVideo?: (done: number, total: number) => void; readonly exec?: ExecMode; readonly switchMode?: SwitchMode; readonly cascadeWindow?: CascadeWindow } = {},
): Promise<EvalResult> {
  const first = plan.configs[0];
  if (first === undefined || first.parallelism !== 0) throw new RangeError('runQualityEval: the first configuration must be P0 (the reference)');
  const framesPerBlock = runtime.manifest.framesPerBlock;
  const total = plan.configs.length * plan.cases.length;
  let done = 0;
  const reference: Frame[][] = [];
  const scores: (EvalConfig & { cases: CaseScore[] })[] = [];
  for (const config of plan.configs) {
    const cases: CaseScore[] = [];
    for (const [i, c] of plan.cases.entries()) {
      options.signal?.throwIfAborted();
      const frames = await collect(
        runtime.generate(
          { seed: c.seed, blocks: plan.blocks, prompt: c.prompt, switches: c.switches },
          { cascade: { parallelism: config.parallelism, attention: config.attention, exec: config.parallelism === 0 ? 'joint' : (options.exec ?? 'joint'), ...(options.switchMode ? { switchMode: options.switchMode } : {}), ...(options.cascadeWindow ? { cascadeWindow: options.cascadeWindow } : {}) }, ...(options.signal ? { signal: options.signal } : {}) },
        ),
      );
      const report = probeVideo(frames, { framesPerBlock, prompts: expectedPrompts(c, plan.blocks) });
      let psnrVsP0: number | null = null;
      if (config === first) reference[i] = frames;
      else psnrVsP0 = Math.min(IDENTICAL_PSNR_DB, frameDrift(frames, reference[i] as Frame[]).psnrDb);
      cases.push(score(c, report, psnrVsP0));
      options.onVideo?.(++done, total);
    }
    scores.push({ ...config, cases });
  }
  return { summaries: scores.map((s) => summarizeScores(s, s.cases)), scores };
}
