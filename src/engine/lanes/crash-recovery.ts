/**
 * What the runtime does when a lane's worker dies: Piscina has already started a replacement
 * thread; the interrupted work runs again, from inputs the crash cannot have touched (every
 * write of a task lands in memory that no task reads until the task has succeeded, see
 * `docs/reliability.md`). A lane that crashes {@link MAX_LANE_CRASHES} times is retired; the
 * work goes on with the lanes left, and fails, naming lane and block, when none is left.
 */
import { LaneError } from '../../core/errors.js';
import { abortExchange, type ExchangeSlab } from './exchange.js';
import type { Lane } from './lane.js';

/** Crashes after which a lane is retired. */
export const MAX_LANE_CRASHES = 3;

/** What recovery needs of the runtime. */
export interface CrashRecovery {
  readonly lanes: readonly Lane[];
  /**
   * The generation's `lanes` tick exchange (its memory set's): aborted after a crash of a tick
   * so that none of its lanes waits for the dead one. Absent for encodes and decodes: their
   * recovery must not abort a tick that is running fine on the other lanes (that tick would
   * fail with "another lane failed" instead of finishing).
   */
  readonly exchange?: ExchangeSlab;
  /**
   * The generation's memory set: recovery waits only for that set's tasks to settle, not for
   * other sessions' (which recover on their own). Absent: every task of every lane.
   */
  readonly memory?: number;
  /** Told when a lane is retired (the generation goes on without it). */
  readonly onRetire?: (lane: Lane, error: LaneError) => void;
}

/**
 * Runs `work`; when it fails because a lane's worker died, waits until every lane is idle,
 * counts the crash, retires the lane at {@link MAX_LANE_CRASHES}, and runs `work` again.
 * Other errors pass through unchanged.
 *
 * @throws {LaneError} the crash itself when recovery is not possible, or one that names the
 *   retired lane when no lane is left.
 *
 * @example
 * ```ts
 * const { rgb } = await retryCrashes(() => pickLane().decode(task), recovery);
 * ```
 */
export async function retryCrashes<T>(work: () => Promise<T>, recovery: CrashRecovery): Promise<T> {
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof LaneError) || !error.crashed) throw error;
      // A `lanes` tick's other lanes may wait at a layer barrier for the dead one: release them.
      // A crash hits the task of one session only (a lane runs one task at a time); another
      // session whose task was queued behind it runs on the replacement worker. Each session
      // aborts its own exchange and waits for its own tasks.
      if (recovery.exchange) abortExchange(recovery.exchange);
      await Promise.all(recovery.lanes.map((lane) => lane.settled(recovery.memory)));
      const lane = recovery.lanes.find((l) => l.id === error.lane);
      if (lane && !lane.retired && lane.crashes >= MAX_LANE_CRASHES) {
        lane.retire();
        recovery.onRetire?.(lane, error);
      }
      if (recovery.lanes.every((l) => l.retired)) {
        throw new LaneError(error.lane, error.block, error.stage, `retired after ${MAX_LANE_CRASHES} crashes, and no lane is left`, error, true);
      }
    }
  }
}
