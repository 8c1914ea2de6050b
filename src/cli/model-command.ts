/**
 * `block-cascade model [DIR]`: the model card of a package (name, sizes, vocabulary, sampler,
 * steps, KV window) and the memory plan a runtime allocates for it, in bytes.
 */
import type { Command } from 'commander';
import { PARALLELISM_LEVELS, lagFor } from '../core/schedule.js';
import { buildSchedule, DEFAULT_SAMPLER_UPDATE } from '../core/sampler.js';
import type { ModelManifest } from '../core/manifest-types.js';
import { planMemory, type MemoryPlan } from '../engine/memory/memory-plan.js';
import { loadModelPackage } from '../engine/model/loader.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { knownWords } from '../engine/model/tokenizer.js';
import { reportError } from './report-error.js';

const bytes = (n: number): string => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)} KiB` : `${n} B`);

/**
 * The model card and memory plan as text.
 *
 * @example
 * ```ts
 * console.log(modelCard(manifest, planMemory(manifest)));
 * ```
 */
export function modelCard(m: ModelManifest, plan: MemoryPlan): string {
  const steps = m.sampler.timesteps.length;
  const sigmas = buildSchedule(m.sampler).sigmas.map((s) => s.toFixed(4)).join(', ');
  const pad = (rows: readonly (readonly string[])[]) => {
    const widths = (rows[0] as readonly string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
    return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] as number))).join('  ')).join('\n');
  };
  return [
    `${m.name} (${m.format})`,
    `  video       ${m.video.width}×${m.video.height} RGB, ${m.framesPerBlock} frames per block`,
    `  latent      ${m.latent.channels}×${m.latent.height}×${m.latent.width} per frame, patch ${m.patchSize}, ${m.tokensPerFrame} tokens per frame`,
    `  denoiser    ${m.layers} layers, width ${m.width}, ${m.heads} heads × ${m.headDim}`,
    `  text        context ${m.text.contextDim}; a prompt may have at most ${m.text.maxTokens} words (the token limit)`,
    `  vocabulary  ${knownWords(m.text.vocabulary).length} words, the only ones a prompt may use: ${knownWords(m.text.vocabulary).join(' ')}`,
    `  sampler     ${steps} steps (default; --steps N for an even grid), timesteps [${m.sampler.timesteps.join(', ')}], warp ${m.sampler.warp ? `on (shift ${m.sampler.shift})` : 'off'}, update ${m.sampler.update ?? DEFAULT_SAMPLER_UPDATE}`,
    `              σ [${sigmas}]`,
    `  KV          sink ${m.kv.sinkFrames} frames, window ${m.kv.windowFrames} frames, re-cache at P0 ${m.kv.recache ?? 'on'}`,
    `  lag Δ       ${PARALLELISM_LEVELS.map((k) => `P${k} ${lagFor(steps, k)}`).join(', ')} (at ${steps} steps)`,
    '',
    `memory plan (${bytes(plan.totalBytes)} shared, ${plan.kvCapacitySlots} KV slots)`,
    pad([['slab', 'slots', 'per slot', 'bytes', 'holds'], ...plan.slabs.map((s) => [s.name, String(s.slots), bytes(s.slotBytes), String(s.bytes), s.holds])]),
    ...featureCacheLine(m),
  ].join('\n');
}

/** The feature cache's slabs (the store and its staged copy), allocated only by a generation with a feature-cache policy (docs/caching.md). */
function featureCacheLine(m: ModelManifest): string[] {
  const slabs = planMemory(m, { featureCache: true }).slabs.filter((s) => s.name === 'featureCache' || s.name === 'featureSteps');
  return slabs.map((slab) => `with a feature cache (--feature-cache bwcache): ${slab.name} ${slab.slots} slots × ${bytes(slab.slotBytes)} = ${bytes(slab.bytes)} more`);
}

/**
 * Adds the `model` command to a program.
 *
 * @example
 * ```ts
 * registerModelCommand(new Command('block-cascade'));
 * ```
 */
export function registerModelCommand(program: Command): Command {
  return program
    .command('model')
    .description('print a model package\'s card (sizes, vocabulary, sampler, steps, KV window) and the memory plan it needs')
    .argument('[dir]', 'model package folder (default: the bundled trained model)')
    .option('--json', 'print the manifest and the memory plan as JSON')
    .action(async (dir: string | undefined, options: { json?: boolean }) => {
      try {
        const { manifest } = await loadModelPackage(dir ?? defaultModelDir());
        const plan = planMemory(manifest);
        process.stdout.write(`${options.json ? JSON.stringify({ manifest, memory: plan }, null, 2) : modelCard(manifest, plan)}\n`);
      } catch (err) {
        reportError(err);
      }
    });
}
