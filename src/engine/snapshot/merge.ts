/**
 * Merging an incremental snapshot with the earlier snapshots of its chain that hold the K/V rows
 * it refers to, into one snapshot a resume reads alone. A pure function over bytes: a cluster
 * worker fetches the parts from its store and merges them before `resumeFrom`.
 */
import { CorruptSnapshotError, SnapshotIncompleteError } from '../../core/errors.js';
import { decodeSnapshot, encodeSnapshot, requiredSnapshots } from './snapshot-format.js';

/** Row `i` (of `width` floats) of `data`. */
const row = (data: Float32Array, width: number, i: number) => data.subarray(i * width, (i + 1) * width);

/**
 * The newest of `parts` (highest `seq`) with every frame's rows taken from the part that holds
 * them: a snapshot that refers to nothing. Parts it does not need are ignored; parts of another
 * chain are refused.
 *
 * @throws {SnapshotIncompleteError} when a part that holds rows the newest refers to is missing.
 * @throws {CorruptSnapshotError} for bytes that are not snapshots, parts of different chains, or a
 *   part that does not hold the frame the newest says it does.
 *
 * @example
 * ```ts
 * import { mergeSnapshots } from 'block-cascade';
 * const whole = mergeSnapshots([latest.bytes, ...older.map((s) => s.bytes)]);
 * for await (const frame of runtime.generate(request, { resumeFrom: whole })) send(frame);
 * ```
 */
export function mergeSnapshots(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 0) throw new CorruptSnapshotError('mergeSnapshots', 'no snapshot given');
  const states = parts.map((bytes) => decodeSnapshot(bytes));
  const head = states.reduce((a, b) => (b.seq > a.seq ? b : a));
  const other = states.find((s) => s.chain !== head.chain);
  if (other) throw new CorruptSnapshotError('mergeSnapshots', `snapshot ${other.seq} is of chain ${JSON.stringify(other.chain)}, snapshot ${head.seq} of chain ${JSON.stringify(head.chain)}`);
  const seqs = new Set(states.map((s) => s.seq));
  const missing = requiredSnapshots(head).filter((seq) => !seqs.has(seq));
  if (missing.length > 0) throw new SnapshotIncompleteError(head.seq, missing);
  // Per part: the row of each frame it holds (its rows are its own held frames, in its frame
  // order) and the rows' widths (none when it holds nothing, which then nothing asks of it).
  const held = new Map(
    states.map((s) => {
      const own = s.frames.filter((f) => f.heldBy === s.seq);
      const n = own.length;
      return [s.seq, { state: s, rowOf: new Map(own.map((f, j) => [f.position, j])), kv: n === 0 ? 0 : s.keys.length / n, clean: n === 0 ? 0 : s.cleanLatents.length / n }];
    }),
  );
  const frames = head.frames.length;
  // The part holding the first frame holds at least one row, so it knows the widths.
  const first = head.frames[0];
  const width = first === undefined ? { kv: 0, clean: 0 } : (held.get(first.heldBy) as { kv: number; clean: number });
  const keys = new Float32Array(frames * width.kv);
  const values = new Float32Array(frames * width.kv);
  const cleanLatents = new Float32Array(frames * width.clean);
  head.frames.forEach((frame, i) => {
    const part = held.get(frame.heldBy) as NonNullable<ReturnType<typeof held.get>>;
    const j = part.rowOf.get(frame.position);
    if (j === undefined) throw new CorruptSnapshotError(`mergeSnapshots: frames[${i}]`, `snapshot ${part.state.seq} does not hold frame ${frame.position}`);
    if (part.kv !== width.kv || part.clean !== width.clean) throw new CorruptSnapshotError(`mergeSnapshots: snapshot ${part.state.seq}`, 'its rows are not as wide as the others');
    keys.set(row(part.state.keys, width.kv, j), i * width.kv);
    values.set(row(part.state.values, width.kv, j), i * width.kv);
    cleanLatents.set(row(part.state.cleanLatents, width.clean, j), i * width.clean);
  });
  const latentRow = head.blocks.length > 0 ? head.latents.length / head.blocks.length : head.replay.length > 0 ? head.replayLatents.length / head.replay.length : 0;
  const featureRow = head.featureBlocks.length === 0 ? 0 : head.features.length / head.featureBlocks.length;
  return encodeSnapshot(
    { ...head, frames: head.frames.map((f) => ({ ...f, heldBy: head.seq })), keys, values, cleanLatents },
    { latent: latentRow, kv: width.kv, clean: width.clean, feature: featureRow },
  );
}
