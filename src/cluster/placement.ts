/**
 * Placement: which workers to offer a session to, in order. Pure (entries and the time in, a
 * list out), so it is tested without a server; the client then asks each in turn by
 * request/reply, since an entry is up to a refresh old and two clients may pick the same worker.
 */
import type { GenerateRequest, PromptSwitch } from '../core/api-types.js';
import type { WorkerInfo } from './messages.js';

/** A worker's KV entry as read, with the server's time of its last write. */
export interface WorkerEntry {
  readonly info: WorkerInfo;
  /** Server time (ms since the epoch) of the entry's last refresh. */
  readonly writtenAt: number;
}

/** Entries older than this are not offered sessions (a worker refreshes every ~1 s). */
export const DEFAULT_STALE_AFTER_MS = 3000;

/**
 * The healthy, fresh workers with a free session, least loaded first (active ÷ maxSessions,
 * then most free sessions, then id, so the order is stable). `recent` counts sessions this
 * client offered each worker lately: its entry may not show them yet (it is refreshed on each
 * session start, a round trip later), so they count in the load, else sessions started together
 * would all go to the same worker. They only order the list: whether a worker is full is its
 * entry's word (a recent session the entry already counts would count twice).
 *
 * @example
 * ```ts
 * const order = rankWorkers(entries, Date.now()); // [w2 (0/1), w1 (1/2)]; full, unhealthy and stale ones left out
 * rankWorkers(entries, Date.now(), 3000, new Map([['w2', 1]])); // [w1 (1/2), w2 (0/1 + 1)]
 * ```
 */
export function rankWorkers(entries: readonly WorkerEntry[], nowMs: number, staleAfterMs = DEFAULT_STALE_AFTER_MS, recent: ReadonlyMap<string, number> = new Map()): WorkerInfo[] {
  const load = (w: WorkerInfo) => w.active + (recent.get(w.id) ?? 0);
  return entries
    .filter((e) => e.info.healthy && e.info.active < e.info.maxSessions && nowMs - e.writtenAt <= staleAfterMs)
    .map((e) => e.info)
    .sort((a, b) => load(a) / a.maxSessions - load(b) / b.maxSessions || b.maxSessions - load(b) - (a.maxSessions - load(a)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** An offer counts in its worker's load this long: past a worker's entry refresh (1 s) and a round trip. */
export const RECENT_OFFER_MS = 1500;

/**
 * The sessions a client offered to workers lately, for {@link rankWorkers}' `recent`: an offer
 * counts from when it is made (before the worker answers, so that sessions placed at the same
 * time see each other) until {@link RECENT_OFFER_MS} later, or until it is refused.
 *
 * @example
 * ```ts
 * const offers = new RecentOffers();
 * const offer = offers.add('w1');
 * offers.counts(); // Map { 'w1' => 1 }
 * offers.remove(offer); // refused
 * ```
 */
export class RecentOffers {
  readonly #offers = new Set<{ readonly worker: string; readonly at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** An offer to `worker` made now; the handle {@link remove} takes. */
  add(worker: string): object {
    const offer = { worker, at: this.now() };
    this.#offers.add(offer);
    return offer;
  }

  /** The offer was refused or never answered (removing it twice does nothing). */
  remove(offer: object): void {
    this.#offers.delete(offer as { worker: string; at: number });
  }

  /** Offers still counting, per worker. */
  counts(): Map<string, number> {
    const now = this.now();
    const out = new Map<string, number>();
    for (const offer of this.#offers) {
      if (now - offer.at > RECENT_OFFER_MS) this.#offers.delete(offer);
      else out.set(offer.worker, (out.get(offer.worker) ?? 0) + 1);
    }
    return out;
  }
}

/**
 * The request a resumed attempt runs: the original with its scheduled switches and the live
 * ones that landed (at the block `switchPrompt` reported) as scheduled switches, in block order.
 * A live switch at the same block as an earlier one replaces it (it came later); one at block 0
 * replaces the first prompt; one at or past the end of the video changes no frame and is left
 * out. (The runtime takes at most 7 scheduled switches: a session with more cannot be replayed,
 * and its worker refuses the resume, which fails the session with that reason.)
 *
 * @example
 * ```ts
 * resumeRequest({ seed: 1, blocks: 8, prompt: 'a', switches: [{ atBlock: 4, prompt: 'b' }] }, [{ atBlock: 2, prompt: 'c' }]);
 * // { seed: 1, blocks: 8, prompt: 'a', switches: [{ atBlock: 2, prompt: 'c' }, { atBlock: 4, prompt: 'b' }] }
 * ```
 */
export function resumeRequest(request: GenerateRequest, live: readonly PromptSwitch[]): GenerateRequest {
  const byBlock = new Map<number, string>([[0, request.prompt]]);
  for (const s of [...(request.switches ?? []), ...live]) if (s.atBlock < request.blocks) byBlock.set(s.atBlock, s.prompt);
  const switches = [...byBlock].filter(([atBlock]) => atBlock > 0).sort((a, b) => a[0] - b[0]).map(([atBlock, prompt]) => ({ atBlock, prompt }));
  return { seed: request.seed, blocks: request.blocks, prompt: byBlock.get(0) as string, ...(switches.length > 0 ? { switches } : {}) };
}
