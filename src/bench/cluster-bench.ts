/**
 * The cluster benchmark (`bench --cluster`, issue 20): for each worker count W and session count
 * n, W `block-cascade worker` processes on one NATS server, then
 *
 * - a **clean round**: n P0 sessions started at once through `connect()` (different seeds):
 *   aggregate FPS (every frame ÷ the round's wall time) and placement latency (from
 *   `cluster.session()` to that session's first frame: KV read, open request/reply and the first
 *   block's generation, as a user waits for it);
 * - the same round with snapshots off (the two in turn, which goes first swapped every repeat:
 *   the first round after a failover round meets a restarted worker): what snapshots cost in
 *   wall time, and from the round with them the snapshots' bytes and capture/store time per
 *   block;
 * - a **failover round**: the same n sessions, the worker of session 0 killed with SIGKILL when
 *   half its frames are read: the gap from the kill to the first frame the new worker sent, the
 *   detection time, the snapshot it resumed from and what regenerating the blocks after it cost
 *   per block. Each worker takes ⌈n ÷ (W − 1)⌉ sessions, so that the others have room for all n
 *   (placement still spreads them): the session moves to a survivor, busy with sessions of its
 *   own when n > 1, and the killed worker is restarted after the round. With W = 1 it is
 *   restarted at once under the same id, as a supervisor would, and the session waits for it.
 *
 * Every session's frames of both rounds are compared byte for byte with a local `createRuntime`
 * run of the same request on the same lane count (`framesIdentical`). Figures are medians over repeats
 * after warm-up rounds; a configuration's repeats run back to back (its workers are started once).
 */
import { performance } from 'node:perf_hooks';
import type { Cluster, ClusterSession } from '../cluster/client.js';
import type { Frame, GenerateRequest } from '../core/api-types.js';
import { median } from '../core/median.js';
import { spawnWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from './worker-process.js';

/** How long the failover round waits, at the frame it kills at, for a snapshot to resume from. */
const SNAPSHOT_WAIT_MS = 10_000;

/**
 * Resolves true once `session` has a stored snapshot it can resume from at frame `frame` (one
 * whose first frame is at or before it), false if none comes within `timeoutMs`.
 */
function snapshotBefore(session: ClusterSession, frame: number, timeoutMs: number): Promise<boolean> {
  const fits = (firstFrame: number) => firstFrame <= frame;
  if (session.snapshots.some((s) => fits(s.firstFrame))) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const done = (found: boolean) => {
      clearTimeout(timer);
      off();
      resolve(found);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    const off = session.onSnapshot((s) => {
      if (fits(s.firstFrame)) done(true);
    });
  });
}

/** The cluster never reached the state a round needs (all workers registered and idle). */
export class ClusterBenchError extends Error {
  readonly code = 'CLUSTER_BENCH';
  constructor(message: string) {
    super(message);
    this.name = 'ClusterBenchError';
  }
}

/** Options of {@link runClusterBench}. */
export interface ClusterBenchOptions {
  /** The NATS server the workers and the client use. */
  readonly nats: string;
  /** Worker counts, e.g. [1, 2, 3]. */
  readonly workers: readonly number[];
  /** Session counts, e.g. [1, 4]. */
  readonly sessions: readonly number[];
  readonly blocks: number;
  readonly repeats: number;
  /** Unmeasured clean rounds per configuration first. */
  readonly warmup: number;
  /** Lanes of every worker. */
  readonly lanes: number;
  /** Model package folder (absolute): the workers' and the reference's. */
  readonly model: string;
  readonly prompt: string;
  /** Session i of a round gets seed `seed + i` (default 0). */
  readonly seed?: number;
  /** Snapshot every this many blocks (the client's `snapshotEvery`); 0: no snapshots. */
  readonly snapshotEvery: number;
  /** K/V keyframes every this many blocks (the client's `keyframeEvery`); 0: every snapshot holds its K/V. */
  readonly keyframeEvery: number;
  /** Connects a client (`connect` of src/cluster/client.ts; injected so the module loads no NATS client itself). */
  readonly connect: (options: { servers: string; creditFrames?: number; snapshotEvery?: number; keyframeEvery?: number }) => Promise<Cluster>;
  /** The frames of a request on a local runtime with `lanes` lanes (the reference). */
  readonly reference: (request: GenerateRequest) => Promise<readonly Frame[]>;
  /** The model's name, for the records. */
  readonly modelName: string;
  /** Starts a worker (default {@link spawnWorkerProcess}). */
  readonly spawnWorker?: (o: WorkerProcessOptions) => Promise<WorkerProcess>;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Checked between rounds. */
  readonly signal?: AbortSignal;
}

/** One configuration's figures (medians over its repeats). */
export interface ClusterBenchRecord {
  readonly modelName: string;
  readonly workers: number;
  readonly sessions: number;
  readonly lanesPerWorker: number;
  /** `--max-sessions` of every worker: ⌈sessions ÷ (workers − 1)⌉, so that the others can take a dead worker's sessions (one worker: the sessions). */
  readonly maxSessionsPerWorker: number;
  readonly blocks: number;
  readonly repeats: number;
  /** Clean round: every frame ÷ the round's wall time. */
  readonly aggregateFps: number;
  /** Clean round: median over sessions of `cluster.session()` → its first frame, ms. */
  readonly placementMs: number;
  /** Blocks between snapshots (0: none). */
  readonly snapshotEvery: number;
  /** Blocks between K/V keyframes (0: every snapshot holds its K/V). */
  readonly keyframeEvery: number;
  /** Clean round with snapshots: snapshot bytes stored ÷ blocks generated. */
  readonly snapshotBytesPerBlock: number;
  /** Actor-thread time to capture snapshots ÷ blocks generated, ms. */
  readonly snapshotMsPerBlock: number;
  /** Time to put them in the object store ÷ blocks (off the generation's path, but on the same machine), ms. */
  readonly snapshotStoreMsPerBlock: number;
  /** The same round with snapshots off: aggregate FPS. */
  readonly aggregateFpsNoSnapshots: number;
  /** Wall time of a round with snapshots ÷ without, − 1, in percent (median over repeats; negative = noise). */
  readonly snapshotCostPercent: number;
  /** Failover round: SIGKILL of session 0's worker → the first frame its new worker sent, ms (null: no failover happened). */
  readonly failoverGapMs: number | null;
  /** SIGKILL → the client noticed the loss (heartbeat timeout), ms. */
  readonly failoverDetectMs: number | null;
  /** New worker accepted → its first new frame, ÷ the blocks it generated to get there (from its snapshot, or from block 0). */
  readonly replayMsPerBlock: number | null;
  /** Blocks generated again, unpublished, before the first new frame (median). */
  readonly replayedBlocks: number | null;
  /** Failovers that resumed from a snapshot, of all measured. */
  readonly resumedFromSnapshot: string | null;
  /** Where session 0 went in the failover rounds: a surviving worker, the restarted one, or both (different repeats). */
  readonly failoverTo: 'survivor' | 'restarted' | 'mixed' | null;
  /** Each failover round's own figures, in order (the medians above hide an outlier's cause). */
  readonly failovers: readonly FailoverSample[];
  /** Every session of every round byte-identical (indices, blocks, RGB) to the local reference. */
  readonly framesIdentical: boolean;
}

/** What one session of a round gave. */
interface SessionResult {
  readonly frames: Frame[];
  readonly firstFrameMs: number;
  readonly session: ClusterSession;
}

/** The failover measured on session 0 in one round; times from the SIGKILL. */
export interface FailoverSample {
  readonly gapMs: number;
  readonly detectMs: number;
  /** SIGKILL → the new worker accepted the session. */
  readonly placedMs: number;
  readonly replayMsPerBlock: number;
  readonly replayedBlocks: number;
  readonly fromSnapshot: boolean;
  readonly to: 'survivor' | 'restarted';
}

/**
 * Reference runs the bench asks for, one per session index: as many as the most sessions of a
 * round, where a warm-up round runs one per worker when there are more workers than sessions.
 *
 * @example
 * ```ts
 * referenceCount({ workers: [1, 2, 3], sessions: [1] }); // 3
 * ```
 */
export function referenceCount(o: Pick<ClusterBenchOptions, 'workers' | 'sessions'>): number {
  return Math.max(...o.sessions, ...o.workers);
}

/** `a` and `b` are the same frames, byte for byte. */
export function sameFrames(a: readonly Frame[], b: readonly Frame[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((f, i) => {
    const g = b[i] as Frame;
    return f.index === g.index && f.block === g.block && Buffer.compare(f.rgb, g.rgb) === 0;
  });
}

/**
 * Parses a list of positive counts (`1,2,3`).
 *
 * @throws {Error} naming the flag for anything else.
 * @example
 * ```ts
 * parseCounts('3,1,2', '--workers'); // [1, 2, 3]
 * ```
 */
export function parseCounts(list: string, flag: string, max = 64): number[] {
  const counts = list.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (counts.length === 0 || counts.some((n) => !Number.isSafeInteger(n) || n < 1 || n > max)) {
    throw new Error(`${flag} takes counts from 1 to ${max}, comma-separated (e.g. 1,2,3), got ${JSON.stringify(list)}`);
  }
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** A round that has not ended by then is stuck (a session waiting for frames that never come). */
const ROUND_TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until exactly the given workers are registered, fresh and idle. */
async function allIdle(cluster: Cluster, ids: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await cluster.workers();
    const want = new Set(ids);
    if (list.length === want.size && list.every((w) => want.has(w.id) && w.active === 0)) return;
    if (Date.now() > deadline) throw new ClusterBenchError(`the workers ${ids.join(', ')} were not all registered and idle within ${timeoutMs} ms (seen: ${list.map((w) => `${w.id} ${w.active}/${w.maxSessions}`).join(', ') || 'none'})`);
    await sleep(100);
  }
}

/**
 * Runs n sessions at once; `hook(frame)` is awaited after session 0 reads each frame (the
 * consumer stops reading meanwhile).
 */
async function runRound(cluster: Cluster, n: number, o: ClusterBenchOptions, hook?: (frame: Frame, session: ClusterSession) => Promise<void>, describe: () => string = () => ''): Promise<{ wallMs: number; results: SessionResult[] }> {
  const start = performance.now();
  const sessions: ClusterSession[] = [];
  const one = async (i: number, count: (frames: number) => void): Promise<SessionResult> => {
    const session = cluster.session({ seed: (o.seed ?? 0) + i, blocks: o.blocks, prompt: o.prompt });
    sessions[i] = session;
    const frames: Frame[] = [];
    let firstFrameMs = -1;
    for await (const frame of session.frames) {
      if (firstFrameMs < 0) firstFrameMs = performance.now() - start;
      frames.push(frame);
      count(frames.length);
      if (i === 0 && hook) await hook(frame, session);
    }
    return { frames, firstFrameMs, session };
  };
  // Each `one` starts its session's placement before its first await: all n start in this turn.
  const received: number[] = new Array<number>(n).fill(0);
  const counted = (i: number) => one(i, (k) => (received[i] = k));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const where = sessions.map((s, i) => `session ${i}: worker ${s.worker ?? '-'}, ${s.failovers.length} failover(s), ${s.snapshots.length} snapshot(s)`).join('; ');
      reject(new ClusterBenchError(`a round of ${n} session(s) did not end within ${ROUND_TIMEOUT_MS / 1000} s (frames received per session: ${received.join(', ')}; ${where})\n${describe()}`));
    }, ROUND_TIMEOUT_MS);
  });
  const results = await Promise.race([Promise.all(Array.from({ length: n }, (_, i) => counted(i))), hung]).finally(() => clearTimeout(timer));
  return { wallMs: performance.now() - start, results };
}

/**
 * Runs the benchmark over every (workers, sessions) pair, workers outermost.
 *
 * @throws {ClusterBenchError} when the workers never settle; {@link WorkerProcessError} when one does not start.
 * @example
 * ```ts
 * const { records } = await runClusterBench({
 *   nats: server.url, workers: [1, 2, 3], sessions: [1, 4], blocks: 16, repeats: 3, warmup: 1, lanes: 1,
 *   snapshotEvery: 4, keyframeEvery: 16, model, prompt: 'red ball moving left', connect, reference, modelName: 'block-cascade-sprites',
 * });
 * console.log(formatClusterTable(records));
 * ```
 */
export async function runClusterBench(o: ClusterBenchOptions): Promise<{ records: ClusterBenchRecord[] }> {
  const spawnWorker = o.spawnWorker ?? spawnWorkerProcess;
  const log = o.log ?? (() => undefined);
  const references: (readonly Frame[])[] = [];
  for (let i = 0; i < referenceCount(o); i++) references.push(await o.reference({ seed: (o.seed ?? 0) + i, blocks: o.blocks, prompt: o.prompt }));
  const framesPerSession = (references[0] as readonly Frame[]).length;
  const framesPerBlock = Math.max(1, Math.round(framesPerSession / o.blocks));
  // The failover round's client credit, in whole blocks (a worker held mid-block by its credit
  // reports a fractional `bufferedBlocks`, which the client's decoder refuses: see the report),
  // less than half the video, and the frame read before the kill: the middle one. The worker
  // can be at most `credit` frames ahead of it, so it is killed before the end, and the client
  // holds at least half the frames, past a snapshot or more.
  const credit = framesPerBlock * Math.max(1, Math.min(Math.floor(24 / framesPerBlock), Math.floor(o.blocks / 2) - 1));
  const killAt = Math.floor(framesPerSession / 2);
  const { keyframeEvery } = o;
  const clean = await o.connect({ servers: o.nats, snapshotEvery: o.snapshotEvery, keyframeEvery });
  const plain = await o.connect({ servers: o.nats, snapshotEvery: 0 });
  const tight = await o.connect({ servers: o.nats, creditFrames: credit, snapshotEvery: o.snapshotEvery, keyframeEvery });
  const workers = new Map<string, WorkerProcess>();
  const logs = () => [...workers.values()].map((wp) => `--- worker ${wp.id}, end of its log:\n${wp.logTail().split('\n').slice(-15).join('\n')}`).join('\n');
  const records: ClusterBenchRecord[] = [];
  try {
    for (const w of o.workers) {
      for (const n of o.sessions) {
        o.signal?.throwIfAborted();
        // Room for every session on the others when one worker dies (one worker's worth of
        // spare capacity, as a cluster meant to fail over is provisioned); placement still
        // spreads the sessions, least-loaded first.
        const maxSessions = Math.ceil(n / Math.max(1, w - 1));
        const ids = Array.from({ length: w }, (_, i) => `bench-w${i + 1}`);
        // The killed worker's sessions all fit on the others: it is restarted after the round, so
        // the failover measures a move to a survivor; else (1 worker, or the others full) at once.
        const survivorsFit = (w - 1) * maxSessions >= n;
        const start = (id: string) => spawnWorker({ nats: o.nats, id, lanes: o.lanes, maxSessions, model: o.model });
        const t0 = performance.now();
        for (const wp of await Promise.all(ids.map(start))) workers.set(wp.id, wp);
        await allIdle(clean, ids);
        log(`${w} worker(s) × ${maxSessions} session(s) each ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${n} session(s) of ${o.blocks} blocks`);
        let identical = true;
        const check = (results: readonly SessionResult[]) => {
          for (const [i, r] of results.entries()) if (!sameFrames(r.frames, references[i] as readonly Frame[])) identical = false;
        };
        // A runtime's first generation runs slower than later ones (about 20 % on the medium
        // model): a warm-up round gives every worker one (a session each: the least loaded takes
        // the next), and so does one after every restart, or the measured round that follows
        // would carry it (with an odd repeat count, mostly the rounds with snapshots).
        const warm = async () => {
          check((await runRound(clean, Math.max(n, w), o, undefined, logs)).results);
          await allIdle(clean, ids);
        };
        for (let k = 0; k < o.warmup; k++) await warm();
        const fps: number[] = [];
        const fpsPlain: number[] = [];
        const cost: number[] = [];
        const perBlock = { bytes: [] as number[], captureMs: [] as number[], storeMs: [] as number[] };
        const placement: number[] = [];
        const failovers: FailoverSample[] = [];
        for (let r = 0; r < o.repeats; r++) {
          o.signal?.throwIfAborted();
          // With and without snapshots in turn, the order swapped every repeat: the first round
          // after a failover round meets a restarted, cold worker.
          const withFirst = r % 2 === 0;
          const first = await runRound(withFirst ? clean : plain, n, o, undefined, logs);
          await allIdle(clean, ids);
          const second = await runRound(withFirst ? plain : clean, n, o, undefined, logs);
          await allIdle(clean, ids);
          const [round, without] = withFirst ? [first, second] : [second, first];
          check(round.results);
          check(without.results);
          fps.push((round.results.reduce((s, x) => s + x.frames.length, 0) * 1000) / round.wallMs);
          placement.push(median(round.results.map((x) => x.firstFrameMs)));
          const notices = round.results.flatMap((x) => x.session.snapshots);
          const sum = (f: (x: (typeof notices)[number]) => number) => notices.reduce((t, x) => t + f(x), 0) / (n * o.blocks);
          perBlock.bytes.push(sum((x) => x.bytes));
          perBlock.captureMs.push(sum((x) => x.captureMs));
          perBlock.storeMs.push(sum((x) => x.storeMs));
          fpsPlain.push((without.results.reduce((s, x) => s + x.frames.length, 0) * 1000) / without.wallMs);
          cost.push((round.wallMs / without.wallMs - 1) * 100);
          // The failover round.
          let killedAt = 0;
          let killed = '';
          let restarting: Promise<void> = Promise.resolve();
          const seen: { sample: FailoverSample | null } = { sample: null };
          const failed = await runRound(tight, n, o, async (frame, session) => {
            // With snapshots, at the middle frame or the first after it where the client knows of
            // one it can resume from (the worker stores them off the generation's path).
            let resumable = o.snapshotEvery === 0 || session.snapshots.some((x) => x.firstFrame <= frame.index);
            if (frame.index >= killAt && killed === '' && !resumable) {
              // Reading nothing meanwhile holds the worker at its credit, so a loaded machine's
              // slow store cannot let the session end before a snapshot is there to resume from.
              resumable = await snapshotBefore(session, frame.index, SNAPSHOT_WAIT_MS);
            }
            if (frame.index >= killAt && killed === '' && resumable) {
              killed = session.worker as string;
              const victim = workers.get(killed) as WorkerProcess;
              killedAt = Date.now();
              await victim.kill();
              if (!survivorsFit) {
                restarting = start(killed).then((wp) => void workers.set(wp.id, wp));
                restarting.catch(() => undefined);
              }
              return;
            }
            const moved = session.failovers[0];
            if (seen.sample === null && moved && frame.index >= moved.atFrame) {
              const now = Date.now();
              const replayed = frame.block - (moved.fromSnapshot ?? 0);
              seen.sample = { gapMs: now - killedAt, detectMs: moved.detectedAt - killedAt, placedMs: moved.placedAt - killedAt, replayMsPerBlock: (now - moved.placedAt) / (replayed + 1), replayedBlocks: replayed, fromSnapshot: moved.fromSnapshot !== undefined, to: moved.to === killed ? 'restarted' : 'survivor' };
            }
          });
          check(failed.results);
          if (survivorsFit && killed !== '') restarting = start(killed).then((wp) => void workers.set(wp.id, wp));
          const sample = seen.sample;
          if (sample !== null) failovers.push(sample);
          await restarting;
          await allIdle(clean, ids);
          if (killed !== '' && r + 1 < o.repeats) await warm();
          log(`  repeat ${r + 1}/${o.repeats}: ${fps.at(-1)?.toFixed(1)} FPS, placement ${placement.at(-1)?.toFixed(0)} ms, failover gap ${sample === null ? '-' : `${sample.gapMs} ms (to the ${sample.to} worker)`}`);
        }
        await Promise.all(ids.map(async (id) => {
          await workers.get(id)?.stop();
          workers.delete(id);
        }));
        const med = (f: (s: FailoverSample) => number) => (failovers.length === 0 ? null : median(failovers.map(f)));
        const targets = new Set(failovers.map((s) => s.to));
        records.push({
          modelName: o.modelName,
          workers: w,
          sessions: n,
          lanesPerWorker: o.lanes,
          maxSessionsPerWorker: maxSessions,
          blocks: o.blocks,
          repeats: o.repeats,
          aggregateFps: median(fps),
          placementMs: median(placement),
          snapshotEvery: o.snapshotEvery,
          keyframeEvery,
          snapshotBytesPerBlock: median(perBlock.bytes),
          snapshotMsPerBlock: median(perBlock.captureMs),
          snapshotStoreMsPerBlock: median(perBlock.storeMs),
          aggregateFpsNoSnapshots: median(fpsPlain),
          snapshotCostPercent: median(cost),
          failoverGapMs: med((s) => s.gapMs),
          failoverDetectMs: med((s) => s.detectMs),
          replayMsPerBlock: med((s) => s.replayMsPerBlock),
          replayedBlocks: med((s) => s.replayedBlocks),
          resumedFromSnapshot: failovers.length === 0 ? null : `${failovers.filter((s) => s.fromSnapshot).length}/${failovers.length}`,
          failoverTo: targets.size === 0 ? null : targets.size > 1 ? 'mixed' : ([...targets][0] as 'survivor' | 'restarted'),
          failovers,
          framesIdentical: identical,
        });
      }
    }
  } finally {
    await Promise.all([...workers.values()].map((wp) => wp.kill()));
    await Promise.all([clean.close(), plain.close(), tight.close()]);
  }
  return { records };
}

/**
 * The records as an aligned table, with the note on snapshots below.
 *
 * @example
 * ```ts
 * console.log(formatClusterTable(records));
 * ```
 */
export function formatClusterTable(records: readonly ClusterBenchRecord[]): string {
  const f = (n: number | null, digits = 0) => (n === null ? '-' : n.toFixed(digits));
  const table = [
    ['workers', 'sessions', 'aggregate FPS', 'no snapshots', 'snapshot cost %', 'snapshot KiB/block', 'capture ms/block', 'placement ms', 'failover gap ms', 'detect ms', 'replayed blocks', 'from snapshot', 'moved to', 'identical'],
    ...records.map((r) => [String(r.workers), String(r.sessions), f(r.aggregateFps, 1), f(r.aggregateFpsNoSnapshots, 1), f(r.snapshotCostPercent, 1), f(r.snapshotBytesPerBlock / 1024, 1), f(r.snapshotMsPerBlock, 2), f(r.placementMs), f(r.failoverGapMs), f(r.failoverDetectMs), f(r.replayedBlocks), r.resumedFromSnapshot ?? '-', r.failoverTo ?? '-', r.framesIdentical ? 'yes' : 'NO']),
  ];
  const widths = (table[0] as string[]).map((_, c) => Math.max(...table.map((row) => (row[c] as string).length)));
  const lines = table.map((row) => row.map((cell, c) => cell.padStart(widths[c] as number)).join('  '));
  lines.push(
    '',
    'placement: cluster.session() → first frame (KV read, open request/reply, first block). failover gap: SIGKILL of session 0\'s worker → the first frame its new worker sent.',
    'snapshot cost: wall time of a round with snapshots ÷ the same round without, − 1. replayed blocks: made again after the snapshot the new worker resumed from (or block 0), before the first new frame.',
  );
  return lines.join('\n');
}
