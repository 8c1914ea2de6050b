/**
 * The registered execution modes. A mode is one file in this folder exporting an
 * {@link ExecutorKind}; adding one means adding it to {@link EXECUTORS}: the options resolver,
 * the CLI's choices, the runtime and the simulator all read this list.
 */
import type { ExecMode } from '../../core/cascade-options.js';
import { joint } from './joint.js';
import type { ExecutorKind } from './kind.js';
import { lanes } from './lanes.js';
import { stale } from './stale.js';
import { layered } from './layered.js';
import { wavefront } from './wavefront.js';

/** Every execution mode, the default (`joint`) first. */
export const EXECUTORS: readonly ExecutorKind[] = [joint, lanes, layered, stale, wavefront];

/**
 * The registered mode called `name`.
 *
 * @throws {RangeError} when no mode has that name (options are resolved before this is asked).
 *
 * @example
 * ```ts
 * executorKind('lanes').needs.minLanes; // 2
 * ```
 */
export function executorKind(name: ExecMode): ExecutorKind {
  const kind = EXECUTORS.find((e) => e.name === name);
  if (!kind) throw new RangeError(`no execution mode "${name}" (registered: ${EXECUTORS.map((e) => e.name).join(', ')})`);
  return kind;
}
