/**
 * The flags that set a generation's settings (`--parallelism`, `--attention`, `--exec`,
 * `--recache`, `--switch-mode`, `--cascade-window`, `--steps`, `--feature-cache` and its parameters), shared by the commands that generate. They only parse: the values are
 * checked with every other source's by the options resolver, whose messages name the flag.
 */
import type { Command } from 'commander';
import type { RuntimeOptions } from '../core/api-types.js';
import type { UncheckedInput } from '../core/options.js';
import { EXECUTORS } from '../engine/executors/registry.js';
import { InvalidArgumentError } from 'commander';
import { parseNonNegativeInt, parsePositiveInt } from './options.js';

/** The flags as commander parses them. */
export type GenerationFlags = UncheckedInput;

/**
 * `parallelism` → `--parallelism`, `featureCache.threshold` → `--feature-cache-threshold`,
 * `featureCache.policy` → `--feature-cache`: how resolver messages name an overriding flag.
 */
export const flagName = (field: string): string =>
  `option --${field.replace(/\.policy$/, '').replace(/\./g, '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Parses a number (`--feature-cache-threshold 0.15`); the resolver checks its range. */
const parseNumber = (value: string): number => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

/** The feature-cache flags, folded into one `featureCache` setting before the action runs. */
const FEATURE_CACHE_FLAGS = { featureCache: 'policy', featureCacheThreshold: 'threshold', featureCacheInterval: 'interval', featureCacheLastStep: 'lastStep' } as const;

/**
 * Adds the generation flags to a command.
 *
 * @example
 * ```ts
 * addGenerationFlags(program.command('run'), '(overrides the session file)');
 * ```
 */
export function addGenerationFlags(command: Command, note = ''): Command {
  const suffix = note === '' ? '' : ` ${note}`;
  const modes = EXECUTORS.map((e) => `${e.name}: ${e.description}`).join('; ');
  return command
    .option('--parallelism <p>', `Block Cascading level 0 (sequential) to 4 (five blocks in flight)${suffix}`, parseNonNegativeInt)
    .option('--attention <mode>', `attention inside the cascade window: causal or bidirectional${suffix}`)
    .option('--exec <mode>', `how a tick runs (${modes})${suffix}`)
    .option('--recache <mode>', `on or off: at a prompt switch in sequential mode, recompute the cached frames' K/V under the new prompt (default: the model package's kv.recache, else on; cascades never re-cache)${suffix}`)
    .option('--switch-mode <mode>', `at-block or in-flight: whether a prompt switch at block k leaves the blocks in flight under their own prompt (default) or reaches them too (one call per tick, the switch shows earlier)${suffix}`)
    .option('--cascade-window <mode>', `extended or trained: a cascade block sees the committed window and every block in flight (default), or only the model's window of frames before it, in flight or not (a P4 block then costs what a sequential one does; docs/cascading.md)${suffix}`)
    .option('--steps <n>', `denoising steps per block (default: the model's sampler; σ on an even grid otherwise)${suffix}`, parsePositiveInt)
    .option('--feature-cache <policy>', `block-wise feature caching: none, bwcache, teacache or fbcache (docs/caching.md; a policy runs ticks in "layered" mode unless --exec lanes)${suffix}`)
    .option('--feature-cache-threshold <δ>', `bwcache: fix the schedule when the mean relative L1 change of the layers' inputs falls below δ (default 0.15); teacache: compute when the accumulated rescaled change of layer 0's input reaches δ (default 0.1); fbcache: reuse while layer 0's residual changed less than δ (default 0.1)${suffix}`, parseNumber)
    .option('--feature-cache-interval <R>', `bwcache: after the trigger, reuse R steps between computed ones (default 3)${suffix}`, parseNumber)
    .option('--feature-cache-last-step <x>', `bwcache: compute the last ⌊s·x⌋ steps after a trigger at step s (x ≥ 1: x steps; default 0.5)${suffix}`, parseNumber)
    .hook('preAction', (_command, action) => {
      const given = action.opts() as Record<string, unknown>;
      const entries = Object.entries(FEATURE_CACHE_FLAGS).filter(([flag]) => given[flag] !== undefined).map(([flag, field]) => [field, given[flag]]);
      if (entries.length > 0) action.setOptionValue('featureCache', Object.fromEntries(entries));
    });
}

/**
 * The generation settings among a command's parsed options, as runtime options (`createRuntime`
 * resolves them at its door).
 *
 * @example
 * ```ts
 * runtimeSettings({ parallelism: 4, steps: 8, blocks: 8 }); // { cascade: { parallelism: 4 }, steps: 8 }
 * ```
 */
export function runtimeSettings(options: GenerationFlags): Pick<RuntimeOptions, 'cascade' | 'steps' | 'featureCache'> {
  const { parallelism, attention, exec, recache, switchMode, cascadeWindow, steps, featureCache } = options;
  const cascade = Object.fromEntries(Object.entries({ parallelism, attention, exec, recache, switchMode, cascadeWindow }).filter(([, v]) => v !== undefined)) as RuntimeOptions['cascade'];
  return { cascade, ...(typeof steps === 'number' ? { steps } : {}), ...(featureCache === undefined ? {} : { featureCache: featureCache as RuntimeOptions['featureCache'] & object }) };
}
