/**
 * One tick, run under each of its members' own prompts.
 *
 * A forward has one prompt context. When a switch happens while blocks are in flight, the tick
 * holds blocks admitted under different prompts; with `switchMode: 'at-block'` each keeps its own.
 * The tick then runs as one call per prompt, newest prompt first:
 * - the newest prompt's call holds every member, so its blocks see the whole tick as before,
 *   and commits only the members admitted under that prompt;
 * - each older prompt's call holds the members up to its own newest one and commits those.
 *   Under causal attention an older block never sees a newer one, so this is exactly its forward
 *   under its prompt; under bidirectional attention it does not see the newer blocks during the
 *   ticks that span the switch.
 * Every call reads the latents as the tick found them: lanes stage their steps, and the runtime
 * commits them only after the whole tick (`docs/reliability.md`).
 */
import type { TickPlan } from './tick.js';

/**
 * The calls that run `plan` with each member under its own prompt, in the order they must run:
 * `[plan]` when every member has the same prompt.
 *
 * @example
 * ```ts
 * // Blocks 3–5 in flight, block 5 admitted under a new prompt (context slot 1):
 * const calls = promptGroups(plan);
 * calls.map((c) => c.members.map((m) => `${m.block}${m.commit === false ? '' : '*'}`));
 * // [['3', '4', '5*'], ['3*', '4*']]
 * ```
 */
export function promptGroups(plan: TickPlan): readonly TickPlan[] {
  const members = plan.members;
  // Runs of equal context slots, oldest first: blocks are admitted in order, so a prompt's blocks are contiguous.
  const starts: number[] = [];
  members.forEach((member, i) => {
    if (i === 0 || member.contextSlot !== (members[i - 1] as (typeof members)[number]).contextSlot) starts.push(i);
  });
  if (starts.length <= 1) return [plan];
  const calls: TickPlan[] = [];
  for (let g = starts.length - 1; g >= 0; g--) {
    const from = starts[g] as number;
    const to = starts[g + 1] ?? members.length;
    calls.push({
      ...plan,
      members: members.slice(0, to).map((member, i) => (i >= from ? member : { ...member, commit: false })),
      // The caching member is the oldest one: its K/V are written by the call that commits it.
      cacheSlots: from === 0 ? plan.cacheSlots : null,
    });
  }
  return calls;
}
