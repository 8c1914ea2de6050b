/**
 * `block-cascade bench --cluster --workers 1,2,3 --sessions 1,4`: starts its own nats-server and
 * worker processes and measures the cluster (src/bench/cluster-bench.ts); prints a table, and
 * writes the JSON report with `--json`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Frame, GenerateRequest } from '../core/api-types.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { machineInfo, reportedModelDir } from '../bench/report.js';
import { onInterrupt } from './interrupt.js';

/** What `bench --cluster` reads of the bench options. */
export interface ClusterBenchCommandOptions {
  readonly workers?: string;
  readonly sessions?: string;
  readonly model?: string;
  readonly json?: string;
  readonly blocks: number;
  readonly repeats: number;
  readonly warmup: number;
  readonly lanes: number;
  /** `--snapshot-every`: blocks between snapshots (0: none). Default {@link CLUSTER_DEFAULT_SNAPSHOT_EVERY}. */
  readonly snapshotEvery?: number;
  /** `--keyframe-every`: blocks between K/V keyframes (0: every snapshot holds its K/V). Default: the client's. */
  readonly keyframeEvery?: number;
  /** Which of blocks, repeats and lanes hold commander's defaults (then the cluster bench's own apply). */
  readonly defaulted?: readonly string[];
}

/** Blocks per session of `bench --cluster` unless `--blocks`. */
export const CLUSTER_DEFAULT_BLOCKS = 16;
/** Repeats of `bench --cluster` unless `--repeats`. */
export const CLUSTER_DEFAULT_REPEATS = 3;
/** Lanes per worker unless `--lanes`. */
export const CLUSTER_DEFAULT_LANES = 1;
/** Blocks between snapshots unless `--snapshot-every`. */
export const CLUSTER_DEFAULT_SNAPSHOT_EVERY = 4;

const PROMPT = 'red ball moving left';
const SEED = 0;

/**
 * Runs `bench --cluster`; returns the exit status (0, or 130/143 when interrupted).
 *
 * @throws {NatsServerNotFoundError} when no nats-server binary is found.
 * @example
 * ```ts
 * process.exitCode = await runClusterBenchCommand({ workers: '1,2', sessions: '1', blocks: 4, repeats: 1, warmup: 0, lanes: 1, json: 'cluster.json' });
 * ```
 */
export async function runClusterBenchCommand(options: ClusterBenchCommandOptions): Promise<number> {
  const { parseCounts, referenceCount, runClusterBench, formatClusterTable } = await import('../bench/cluster-bench.js');
  const workers = parseCounts(options.workers ?? '1,2,3', '--workers', 16);
  const sessions = parseCounts(options.sessions ?? '1,4', '--sessions', 64);
  const defaulted = new Set(options.defaulted ?? []);
  const blocks = defaulted.has('blocks') ? CLUSTER_DEFAULT_BLOCKS : options.blocks;
  const repeats = defaulted.has('repeats') ? CLUSTER_DEFAULT_REPEATS : options.repeats;
  const lanes = defaulted.has('lanes') ? CLUSTER_DEFAULT_LANES : options.lanes;
  const model = resolve(options.model ?? defaultModelDir());
  const { startNatsServer } = await import('../bench/nats-server.js');
  const interrupt = onInterrupt();
  const server = await startNatsServer();
  const [{ connect, DEFAULT_KEYFRAME_EVERY }, { createRuntime }] = await Promise.all([import('../cluster/client.js'), import('../api/runtime.js')]);
  const keyframeEvery = options.keyframeEvery ?? DEFAULT_KEYFRAME_EVERY;
  const local = await createRuntime({ model, lanes });
  let localOpen = true;
  let made = 0;
  try {
    const modelName = local.manifest.name;
    process.stderr.write(
      `block-cascade bench --cluster: ${modelName}, nats-server on ${server.url}, workers ${workers.join(',')} × sessions ${sessions.join(',')}, ` +
        `${lanes} lane(s) per worker, ${blocks} blocks, ${options.warmup} warm-up + ${repeats} repeat(s) (each a clean and a failover round)\n`,
    );
    const started = performance.now();
    const reference = async (request: GenerateRequest): Promise<Frame[]> => {
      const frames: Frame[] = [];
      for await (const frame of local.generate(request)) frames.push(frame);
      return frames;
    };
    const { records } = await runClusterBench({
      nats: server.url,
      workers,
      sessions,
      blocks,
      repeats,
      warmup: options.warmup,
      lanes,
      model,
      prompt: PROMPT,
      seed: SEED,
      modelName,
      signal: interrupt.signal,
      snapshotEvery: options.snapshotEvery ?? CLUSTER_DEFAULT_SNAPSHOT_EVERY,
      keyframeEvery,
      connect: (o) => connect(o),
      reference: async (request) => {
        const frames = await reference(request);
        // The bench makes one reference per session index, all before the first worker starts:
        // after the last, the local runtime's lane threads are closed to leave the cores to the workers.
        if (++made === referenceCount({ workers, sessions })) {
          localOpen = false;
          await local.close();
        }
        return frames;
      },
      log: (line) => {
        process.stderr.write(`block-cascade bench --cluster: ${line} (${((performance.now() - started) / 60000).toFixed(1)} min)\n`);
      },
    });
    process.stdout.write(`${formatClusterTable(records)}\n`);
    if (options.json !== undefined) {
      const report = {
        machine: machineInfo(),
        kind: 'cluster',
        model: { name: modelName, dir: reportedModelDir(model) },
        workers,
        sessions,
        lanesPerWorker: lanes,
        blocks,
        repeats,
        warmup: options.warmup,
        snapshotEvery: options.snapshotEvery ?? CLUSTER_DEFAULT_SNAPSHOT_EVERY,
        keyframeEvery,
        prompt: PROMPT,
        notes: [
          'placementMs: cluster.session() to that session\'s first frame (KV read, open request/reply, the first block\'s generation), median over sessions, then over repeats.',
          'failoverGapMs: SIGKILL of session 0\'s worker when the consumer reads the middle frame, or the first after it where the client knows of a snapshot it can resume from (the client credit is ⌊blocks/2⌋ − 1 blocks, at most 24 frames, so the worker has not finished) to the first frame its new worker sent. Each worker takes ⌈sessions ÷ (workers − 1)⌉ sessions, so a survivor (busy with its own sessions when there are several) has room; with one worker the killed one is restarted at once under the same id and the gap includes its start-up.',
          'Snapshots every snapshotEvery blocks into the JetStream object store. snapshotCostPercent: wall time of a clean round with snapshots ÷ the same round without (the two run in turn, which goes first swapped every repeat), − 1, median over repeats. snapshotBytesPerBlock / snapshotMsPerBlock (actor-thread capture) / snapshotStoreMsPerBlock: from the rounds with snapshots, per block generated.',
          'replayedBlocks: blocks the new worker made again after the snapshot it resumed from (block 0 without one) before its first new frame; replayMsPerBlock: new worker accepted → that frame ÷ (replayedBlocks + 1).',
          'failovers: each failover round of the record in order, { gapMs, detectMs, placedMs (SIGKILL → the new worker accepted the session), replayMsPerBlock, replayedBlocks, fromSnapshot, to }; the failover fields above are their medians.',
          'Warm-up rounds (and one after every failover round, as the killed worker is restarted) run one session per worker, unmeasured: a runtime\'s first generation is slower than later ones, and a measured round would carry it.',
          'framesIdentical: every session of every round byte-identical to a local createRuntime run of the same request on the same lane count.',
        ],
        records,
      };
      await mkdir(dirname(options.json), { recursive: true });
      await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
      process.stderr.write(`block-cascade bench: wrote ${options.json}\n`);
    }
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return interrupt.exitCode;
    throw err;
  } finally {
    if (localOpen) await local.close();
    await server.close();
    interrupt.dispose();
  }
}
