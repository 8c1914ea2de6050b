/** What the options resolver must know of a model: its steps, re-cache default and executors. */
import type { ModelManifest } from '../core/manifest-types.js';
import type { ResolveContext } from '../core/options.js';
import { EXECUTORS } from '../engine/executors/registry.js';

/**
 * The resolver's context for a model on `lanes` lanes.
 *
 * @example
 * ```ts
 * resolveSettings({ parallelism: 4 }, resolveContextFor(manifest, 2));
 * ```
 */
export function resolveContextFor(m: Pick<ModelManifest, 'sampler' | 'kv'>, lanes: number): ResolveContext {
  return { lanes, executors: EXECUTORS, defaultSteps: m.sampler.timesteps.length, ...(m.kv.recache ? { defaultRecache: m.kv.recache } : {}), layered: true };
}
