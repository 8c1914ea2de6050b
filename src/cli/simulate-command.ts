/**
 * `block-cascade simulate`: FPS per P level from the real actors on a virtual clock, and the
 * paper's arithmetic (`--paper 1.3b|14b`).
 */
import { Option, type Command } from 'commander';
import { EXECUTORS } from '../engine/executors/registry.js';
import { exchangeBytesPerLayer, exchangeMsPerLayer, impliedGbps } from '../sim/exchange-cost.js';
import { forwardMsFromFps, impliedExchangeMs, simulate, type SimOptions } from '../sim/simulate.js';
import type { ExecMode, Parallelism } from '../core/cascade-options.js';
import { parsePositiveInt, parsePositiveNumber } from './options.js';
import { reportError } from './report-error.js';

interface SimulateOptions {
  readonly lanes: number;
  readonly forwardMs: number;
  readonly exchangeMs: number;
  readonly layers: number;
  readonly blocks: number;
  readonly framesPerBlock: number;
  readonly exec: ExecMode;
  readonly steps: number;
  readonly paper?: '1.3b' | '14b';
}

/** The paper's sequential baselines on one H100 and its measured P4 results on 5 GPUs. */
/**
 * The paper's models: FPS, depth, and what one block's K/V weigh (480p: 1,560 tokens per latent
 * frame, 3 latent frames per block; widths of Wan 2.1 1.3B and 14B; bf16).
 */
const PAPER = {
  '1.3b': { sequentialFps: 16, cascadeFps: 30, layers: 30, exchange: { tokensPerBlock: 4680, width: 1536, bytesPerValue: 2 } },
  '14b': { sequentialFps: 4.5, cascadeFps: 12.5, layers: 40, exchange: { tokensPerBlock: 4680, width: 5120, bytesPerValue: 2 } },
} as const;

/** Links between the 5 GPUs, each lane's receive bandwidth. */
const LINKS = [
  { name: 'NVLink 4 (H100 SXM)', link: { latencyMs: 0.02, gbps: 450 } },
  { name: 'PCIe 5 x16', link: { latencyMs: 0.02, gbps: 50 } },
] as const;

const parseNonNegativeNumber = (value: string) => (Number(value) === 0 && value.trim() !== '' ? 0 : parsePositiveNumber(value));

/** FPS per P level; the speed-up is against P0 on one lane. */
export async function simulationTable(base: Omit<SimOptions, 'parallelism'>): Promise<string> {
  const baseline = await simulate({ ...base, parallelism: 0, lanes: 1, exec: 'joint' });
  const lines = [`level  lanes  exec   ticks  FPS      speed-up vs P0 on 1 lane`];
  for (const p of [0, 1, 2, 3, 4] as Parallelism[]) {
    const r = await simulate({ ...base, parallelism: p });
    lines.push(`P${p}     ${String(base.lanes).padStart(5)}  ${base.exec.padEnd(5)}  ${String(r.ticks).padStart(5)}  ${r.fps.toFixed(2).padStart(7)}  ${(r.fps / baseline.fps).toFixed(2)}×`);
  }
  return lines.join('\n');
}

async function paperReport(model: '1.3b' | '14b', blocks: number): Promise<string> {
  const p = PAPER[model];
  const forwardMs = forwardMsFromFps(p.sequentialFps);
  // The paper gives each GPU whole blocks: a block is the unit of work (one latent frame here).
  const base = { lanes: 5, exec: 'lanes' as const, forwardMs, layers: p.layers, blocks, videoFramesPerBlock: 12, latentFramesPerBlock: 1 };
  const ideal = await simulate({ ...base, parallelism: 4, exchangeMs: 0 });
  const exchange = await impliedExchangeMs({ ...base, targetFps: p.cascadeFps });
  const bytes = exchangeBytesPerLayer(p.exchange, 5, 5);
  const links = await Promise.all(
    LINKS.map(async ({ name, link }) => {
      const ms = exchangeMsPerLayer(bytes, link);
      const r = await simulate({ ...base, parallelism: 4, exchangeMs: ms });
      return `  ${name}: ${ms.toFixed(2)} ms per layer → P4 ${r.fps.toFixed(1)} FPS (if the exchange does not overlap compute)`;
    }),
  );
  return [
    `paper ${model}: sequential ${p.sequentialFps} FPS on one H100 → ${forwardMs.toFixed(1)} ms per forward (12 video frames, 5 forwards per block)`,
    await simulationTable({ ...base, exchangeMs: 0 }),
    `P4 on 5 GPUs with free exchange: ${ideal.fps.toFixed(1)} FPS (${(ideal.fps / p.sequentialFps).toFixed(2)}×)`,
    `the paper's ${p.cascadeFps} FPS at P4 implies ${exchange.toFixed(2)} ms of K/V exchange per layer per tick (${p.layers} layers: ${(exchange * p.layers).toFixed(0)} ms per tick)`,
    `each GPU receives ${(bytes / 1e6).toFixed(0)} MB of K/V per layer per tick (4 other blocks × ${p.exchange.tokensPerBlock} tokens × K and V × ${p.exchange.width} × bf16): ${exchange.toFixed(2)} ms is ${impliedGbps(bytes, exchange).toFixed(0)} GB/s`,
    'the same exchange over:',
    ...links,
  ].join('\n');
}

/**
 * Adds the `simulate` command to a program.
 *
 * @example
 * ```ts
 * registerSimulateCommand(new Command('block-cascade'));
 * ```
 */
export function registerSimulateCommand(program: Command): Command {
  return program
    .command('simulate')
    .description('FPS per P level from the real supervisor and block actors on a virtual clock')
    .option('--lanes <n>', 'lanes (GPUs)', parsePositiveInt, 5)
    .option('--forward-ms <x>', 'one block forward on one lane, ms', parsePositiveNumber, 150)
    .option('--exchange-ms <y>', 'K/V exchange per layer per tick, ms', parseNonNegativeNumber, 0)
    .option('--layers <l>', 'transformer layers (exchanges per tick)', parsePositiveInt, 30)
    .option('--blocks <b>', 'blocks to generate', parsePositiveInt, 60)
    .option('--frames-per-block <f>', 'video frames per block, for FPS', parsePositiveInt, 12)
    .addOption(new Option('--exec <mode>', 'the execution mode whose cost model prices each tick').choices(EXECUTORS.map((e) => e.name)).default('lanes'))
    .option('--steps <n>', 'denoising steps per block', parsePositiveInt, 4)
    .addOption(new Option('--paper <model>', "the paper's numbers: sequential baseline, ideal 5-GPU P4, implied exchange cost").choices(['1.3b', '14b']))
    .action(async (o: SimulateOptions) => {
      try {
        if (o.paper) {
          process.stdout.write(`${await paperReport(o.paper, o.blocks)}\n`);
          return;
        }
        const table = await simulationTable({
          lanes: o.lanes, exec: o.exec, forwardMs: o.forwardMs, exchangeMs: o.exchangeMs, layers: o.layers,
          blocks: o.blocks, videoFramesPerBlock: o.framesPerBlock, latentFramesPerBlock: 1, steps: o.steps,
        });
        process.stdout.write(`${table}\n`);
      } catch (err) {
        reportError(err);
      }
    });
}
