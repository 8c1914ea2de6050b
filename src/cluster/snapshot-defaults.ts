/**
 * How often a cluster session is snapshotted unless its client says (`ClusterOptions`), decided
 * by the worker, which knows the session's parallelism: every block at parallelism 0 with K/V
 * keyframes (a snapshot between keyframes holds a block's latents, kilobytes, so a failover makes
 * no block twice for almost nothing), every {@link DEFAULT_SNAPSHOT_EVERY} blocks otherwise (each
 * snapshot then holds the K/V rows cached since the last).
 */

/** Blocks between snapshots where each holds K/V rows (parallelism above 0, or keyframes off). */
export const DEFAULT_SNAPSHOT_EVERY = 4;

/**
 * Blocks between K/V keyframes of a P0 session's snapshots unless `keyframeEvery` is given: on
 * the medium model it cut the bytes of a 32-block session to a fifth, at the price of at most 15
 * cache steps replayed by a failover (docs/cluster.md).
 */
export const DEFAULT_KEYFRAME_EVERY = 16;

/**
 * The snapshot interval of a session whose client left it to the worker.
 *
 * @param parallelism - The session's parallelism (the runtime's default, 0, when its request has none).
 * @param keyframeEvery - The client's `keyframeEvery` (0: every snapshot holds its K/V).
 * @example
 * ```ts
 * snapshotEveryFor(0, 16); // 1
 * snapshotEveryFor(4, 16); // 4
 * ```
 */
export function snapshotEveryFor(parallelism: number, keyframeEvery: number): number {
  return parallelism === 0 && keyframeEvery > 0 ? 1 : DEFAULT_SNAPSHOT_EVERY;
}
