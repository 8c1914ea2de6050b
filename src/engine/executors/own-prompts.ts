/**
 * `switchMode: 'at-block'`: wraps any mode's executor so that every block of a tick is denoised
 * under the prompt it was admitted with. A tick whose blocks share one prompt (every tick but the
 * few that span a switch) is handed over unchanged; one that spans a switch runs as one call per
 * prompt (`core/prompt-groups.ts`), one after the other.
 */
import { promptGroups } from '../../core/prompt-groups.js';
import type { RecachePlan, TickExecutor, TickPlan, TickTiming } from '../../core/tick.js';

/**
 * @example
 * ```ts
 * const executor = new OwnPromptsExecutor(joint.create(context));
 * await executor.run(plan); // blocks in flight at a switch finish under their own prompt
 * ```
 */
export class OwnPromptsExecutor implements TickExecutor {
  constructor(private readonly inner: TickExecutor) {}

  async run(plan: TickPlan): Promise<TickTiming> {
    const calls = promptGroups(plan);
    if (calls.length === 1) return this.inner.run(plan);
    const timings: TickTiming[] = [];
    // One after the other: they may share a lane, and each reads only unstaged latents.
    for (const call of calls) timings.push(await this.inner.run(call));
    return sumTimings(timings);
  }

  recache(plan: RecachePlan): Promise<TickTiming> {
    return this.inner.recache(plan);
  }
}

/**
 * The timings of a tick's calls as one tick's: every count and time summed, and the choices of
 * `decide` members joined (a block commits in one call only; without its choice the commit would
 * take a block that reused on its lane for one that computed, and flip its feature slot onto rows
 * this tick never wrote).
 */
export function sumTimings(timings: readonly TickTiming[]): TickTiming {
  const sum = (f: (t: TickTiming) => number | undefined) => timings.reduce((total, t) => total + (f(t) ?? 0), 0);
  const optional = (key: 'exchangeWaitMs' | 'reused' | 'reusedTogether' | 'featureMs') => (timings.some((t) => t[key] !== undefined) ? { [key]: sum((t) => t[key]) } : {});
  const indicators = timings.flatMap((t) => t.indicators ?? []);
  const decided = new Map(timings.flatMap((t) => [...(t.decided ?? [])]));
  return {
    forwards: sum((t) => t.forwards),
    calls: sum((t) => t.calls),
    runMs: sum((t) => t.runMs),
    workerMs: sum((t) => t.workerMs),
    taskMs: sum((t) => t.taskMs),
    ...optional('exchangeWaitMs'),
    ...optional('reused'),
    ...optional('reusedTogether'),
    ...optional('featureMs'),
    ...(decided.size > 0 ? { decided } : {}),
    ...(timings.some((t) => t.indicators !== undefined) ? { indicators } : {}),
  };
}
