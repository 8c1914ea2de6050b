/**
 * How many actors of a generation's XState system are alive: the root and, recursively, the
 * children each machine snapshot lists. A stopped child leaves its parent's `children`, so the
 * count is what the system still holds, the figure a leak of block or decode actors would raise
 * (the soak benchmark samples it).
 */
import type { AnyActorRef } from 'xstate';

/**
 * Counts `root` and every actor below it. Only public snapshot fields are read (XState's system
 * registry is private), and non-machine actors (promises) have no `children`.
 *
 * @example
 * ```ts
 * const { actor } = createGenerationSystem(options);
 * actor.start();
 * countLiveActors(actor); // 2 while encoding: the supervisor and its KV pool, plus the encode
 * ```
 */
export function countLiveActors(root: AnyActorRef): number {
  const snapshot = root.getSnapshot() as { readonly children?: Readonly<Record<string, AnyActorRef | undefined>> } | undefined;
  let count = 1;
  for (const child of Object.values(snapshot?.children ?? {})) if (child) count += countLiveActors(child);
  return count;
}
