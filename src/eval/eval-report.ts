/**
 * The evaluation's table (terminal) and its Markdown page (`docs/quality.md`).
 */
import type { ConfigSummary, EvalResult } from './eval.js';
import type { MeanInterval } from '../quality/stats.js';

/** What the report says about the run besides the numbers. */
export interface EvalReportContext {
  readonly model: string;
  readonly seeds: number;
  readonly blocks: number;
  /** Denoising steps per block; absent: the model's own. */
  readonly steps?: number;
  /** Which blocks a prompt switch reached in the cascades; absent: not said. */
  readonly switchMode?: string;
  readonly cascadeWindow?: string;
  readonly videosPerConfig: number;
  readonly seconds: number;
}

const pct = (m: MeanInterval) => (Number.isNaN(m.mean) ? 'n/a' : `${(100 * m.mean).toFixed(1)} ± ${(100 * m.ci95).toFixed(1)}%`);
const num = (m: MeanInterval | null, digits = 2) => (m === null || Number.isNaN(m.mean) ? '—' : `${m.mean.toFixed(digits)} ± ${m.ci95.toFixed(digits)}`);
const label = (s: ConfigSummary) => (s.parallelism === 0 ? 'P0 (sequential)' : `P${s.parallelism} ${s.attention}`);

const COLUMNS = ['config', 'colour', 'direction', 'integrity', 'jump ratio', 'switch followed', 'blocks to follow', 'PSNR vs P0 (dB)'];

function rows(result: EvalResult): string[][] {
  return result.summaries.map((s) => [
    label(s),
    pct(s.colourAdherence),
    pct(s.directionAdherence),
    pct(s.integrity),
    num(s.boundaryJumpRatio),
    pct(s.switchFollowed),
    num(s.switchResponseBlocks),
    num(s.psnrVsP0, 1),
  ]);
}

/**
 * A fixed-width table of the summaries (means ± 95% interval half-widths).
 *
 * @example
 * ```ts
 * console.log(formatEvalTable(result));
 * ```
 */
export function formatEvalTable(result: EvalResult): string {
  const table = [COLUMNS, ...rows(result)];
  const widths = COLUMNS.map((_, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  return table.map((r) => r.map((cell, c) => cell.padEnd(widths[c] as number)).join('  ')).join('\n');
}

/**
 * The Markdown page with the table, what each column means, and the run's settings.
 *
 * @example
 * ```ts
 * await writeFile('docs/quality.md', evalMarkdown(result, { model: 'block-cascade-sprites', seeds: 16, blocks: 6, videosPerConfig: 80, seconds: 300 }));
 * ```
 */
export function evalMarkdown(result: EvalResult, ctx: EvalReportContext): string {
  const header = `| ${COLUMNS.join(' | ')} |\n|${COLUMNS.map(() => '---').join('|')}|`;
  const body = rows(result).map((r) => `| ${r.join(' | ')} |`).join('\n');
  return `${header}\n${body}\n\n_${ctx.model}, ${ctx.seeds} seeds, ${ctx.blocks} blocks per video, ${ctx.steps === undefined ? '' : `${ctx.steps} steps per block, `}${ctx.switchMode === undefined ? '' : `switch mode ${ctx.switchMode}, `}${ctx.cascadeWindow === undefined ? '' : `cascade window ${ctx.cascadeWindow}, `}${ctx.videosPerConfig} videos per configuration, ${Math.round(ctx.seconds)} s; means ± 95% interval half-widths (Student's t over videos)._\n`;
}
