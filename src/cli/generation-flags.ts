/**
 * The flags that set a generation's settings (`--parallelism`, `--attention`, `--exec`,
 * `--recache`, `--steps`), shared by the commands that generate. They only parse: the values are
 * checked with every other source's by the options resolver, whose messages name the flag.
 */
import type { Command } from 'commander';
import type { RuntimeOptions } from '../core/api-types.js';
import type { UncheckedInput } from '../core/options.js';
import { EXECUTORS } from '../engine/executors/registry.js';
import { parseNonNegativeInt, parsePositiveInt } from './options.js';

/** The flags as commander parses them. */
export type GenerationFlags = UncheckedInput;

/** `parallelism` → `--parallelism`: how resolver messages name an overriding flag. */
export const flagName = (field: string): string => `option --${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

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
    .option('--steps <n>', `denoising steps per block (default: the model's sampler; σ on an even grid otherwise)${suffix}`, parsePositiveInt);
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
export function runtimeSettings(options: GenerationFlags): Pick<RuntimeOptions, 'cascade' | 'steps'> {
  const { parallelism, attention, exec, recache, steps } = options;
  const cascade = Object.fromEntries(Object.entries({ parallelism, attention, exec, recache }).filter(([, v]) => v !== undefined)) as RuntimeOptions['cascade'];
  return { cascade, ...(typeof steps === 'number' ? { steps } : {}) };
}
