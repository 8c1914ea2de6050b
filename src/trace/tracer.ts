/**
 * Turns what a generation does into trace records: XState's inspection stream (actor state
 * changes, event types, KV-pool occupancy), lane activity, prompt switches, re-caches and
 * frames. Each record is built from handles and timings only, so tracing never copies a tensor.
 */
import { performance } from 'node:perf_hooks';
import type { InspectionEvent } from 'xstate';
import { poolCounts, type KvPoolContext } from '../actors/kv-pool.js';
import { tickOf, type CascadeSchedule } from '../core/schedule.js';
import type { LaneActivity } from '../engine/lanes/lane.js';
import { usedIn } from '../engine/lanes/feature-store.js';
import type { KvRecord, LaneRecord, LaneTaskKind, TraceRecord } from '../core/trace-records.js';

/** Where records go, one at a time, in order. */
export type TraceSink = (record: TraceRecord) => void;

/** Drops the `t` field from each member of a union (so callers need not give it). */
type Untimed<R> = R extends TraceRecord ? Omit<R, 't'> : never;

const ROOT_ACTOR = 'supervisor';

/** Milliseconds to the microsecond: enough for a trace, and short lines. */
const ms = (value: number): number => Math.round(value * 1000) / 1000;

/** A snapshot's state value as one string: `t2`, or `running.waiting` for nested states. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const [key, inner] = Object.entries(value)[0] ?? ['?', null];
    return inner === null || inner === undefined || (typeof inner === 'object' && Object.keys(inner).length === 0) ? key : `${key}.${flatten(inner)}`;
  }
  return String(value);
}

const stagesOf = (task: LaneActivity['task'], schedule: CascadeSchedule, result?: LaneActivity['result']): { blocks: number[]; stages: number[]; tick?: number; reused?: number[] } => {
  switch (task.kind) {
    case 'tick': {
      const first = task.members[0];
      const tick = first === undefined ? undefined : tickOf(schedule, first.block, first.stage);
      return { blocks: task.members.map((m) => m.block), stages: task.members.map((m) => m.stage), ...(tick === undefined ? {} : { tick }) };
    }
    case 'stale':
      return { blocks: task.members.map((m) => m.block), stages: task.members.map((m) => m.stage), tick: task.tick };
    case 'ahead':
      // Never observed as a whole: the lane reports its steps as ticks (`Lane.reportStep`).
      return { blocks: [], stages: [] };
    case 'share': {
      // A `decide` member's choice is in the result, once the share has ended.
      const reused = task.members.filter((m) => usedIn(m, result ?? {}) === 'reuse').map((m) => m.block);
      return { blocks: task.members.map((m) => m.block), stages: task.members.map((m) => m.stage), tick: task.tick, ...(reused.length === 0 ? {} : { reused }) };
    }
    case 'recache':
      return { blocks: [...new Set(task.blocks)], stages: [] };
    case 'decode':
      return { blocks: [task.block], stages: [] };
    case 'encode':
      return { blocks: [], stages: [] };
  }
};

/**
 * One generation's tracer.
 *
 * @example
 * ```ts
 * const tracer = new Tracer((record) => out.write(`${JSON.stringify(record)}\n`), cascadeSchedule(4, 4));
 * createActor(machine, { inspect: tracer.inspect });
 * lane.observe(tracer.lane);
 * ```
 */
export class Tracer {
  readonly #sink: TraceSink;
  readonly #origin: number;
  /** Last state recorded per actor, so that only changes are written. */
  readonly #states = new Map<string, string>();
  #kv = '';
  #ended = false;
  readonly #session: number | undefined;
  readonly #schedule: CascadeSchedule;

  /** `schedule` numbers the ticks of joint lane tasks (which carry their members, not their tick). */
  /** `session`: stamped on every record (`SessionTag`), so that sessions sharing a sink can be told apart. */
  constructor(sink: TraceSink, schedule: CascadeSchedule, origin = performance.now(), session?: number) {
    this.#sink = sink;
    this.#schedule = schedule;
    this.#origin = origin;
    this.#session = session;
  }

  /** Milliseconds since the trace began. */
  now(at = performance.now()): number {
    return ms(at - this.#origin);
  }

  /**
   * Writes a record stamped with the current time (or `at`, a `performance.now()` value). A
   * generation's trace ends with its `end` record: what arrives later (a decode that was on a
   * lane when the generation stopped, its lane activity) is dropped.
   */
  record(record: Untimed<TraceRecord>, at?: number): void {
    if (this.#ended) return;
    if (record.kind === 'end') this.#ended = true;
    this.#sink({ ...record, t: record.kind === 'meta' ? 0 : this.now(at), ...(this.#session === undefined ? {} : { session: this.#session }) } as TraceRecord);
  }

  /** An XState `inspect` observer. */
  readonly inspect = (event: InspectionEvent): void => {
    const ref = event.actorRef as unknown as { id: string; _parent?: unknown };
    const actor = ref._parent === undefined ? ROOT_ACTOR : ref.id;
    if (event.type === '@xstate.snapshot') {
      const snapshot = event.snapshot as { value?: unknown; context?: unknown; status?: string };
      // Promise actors (forwards, decodes) have no state value: their lanes are traced instead.
      if (snapshot.value === undefined) return;
      // A machine without states (the KV pool) has an empty value: only its context matters.
      const stateless = typeof snapshot.value === 'object' && snapshot.value !== null && Object.keys(snapshot.value).length === 0;
      const state = flatten(snapshot.value);
      if (!stateless && this.#states.get(actor) !== state) {
        this.#states.set(actor, state);
        this.record({ kind: 'state', actor, state });
      }
      if (actor === 'kv-pool') {
        const counts = poolCounts(snapshot.context as KvPoolContext);
        const key = `${counts.free}/${counts.reserved}/${counts.committed}/${counts.window?.join('-')}`;
        if (key !== this.#kv) {
          this.#kv = key;
          this.record({ kind: 'kv', ...counts });
        }
      }
    } else if (event.type === '@xstate.event') {
      const type = (event.event as { type: string }).type;
      // XState's own start/stop events and promise actors' resolutions say nothing a reader
      // needs: the parent's `xstate.done.actor.*` event follows each resolution.
      if (type === 'xstate.init' || type === 'xstate.stop' || type.startsWith('xstate.promise.')) return;
      this.record({ kind: 'event', actor, event: type });
    }
  };

  /** A lane observer (see `Lane.observe`). */
  readonly lane = (activity: LaneActivity): void => {
    const { blocks, stages, tick, reused } = stagesOf(activity.task, this.#schedule, activity.result);
    const record: Omit<LaneRecord, 't'> = {
      kind: 'lane',
      lane: activity.lane,
      phase: activity.phase,
      // A stale share is a lane's share of a tick like a `lanes` one: the same record.
      task: (activity.task.kind === 'stale' ? 'share' : activity.task.kind) as LaneTaskKind,
      blocks,
      stages,
      ...(tick === undefined ? {} : { tick }),
      ...(reused === undefined ? {} : { reused }),
      ...(activity.result?.runMs === undefined ? {} : { runMs: ms(activity.result.runMs) }),
      ...(activity.result?.exchangeWaitMs === undefined ? {} : { exchangeWaitMs: ms(activity.result.exchangeWaitMs) }),
      ...(activity.result?.layerWaitsMs === undefined ? {} : { layerWaitsMs: activity.result.layerWaitsMs.map(ms) }),
      ...(activity.error === undefined ? {} : { error: activity.error instanceof Error ? activity.error.message : String(activity.error) }),
    };
    this.record(record, activity.at);
  };
}
