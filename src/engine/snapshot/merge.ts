/**
 * Merging an incremental snapshot with the earlier snapshots of its chain that hold the K/V rows
 * it refers to, into one snapshot a resume reads alone. A pure function over bytes: a cluster
 * worker fetches the parts from its store and merges them before `resumeFrom`.
 */
import { CorruptSnapshotError, SnapshotIncompleteError } from '../../core/errors.js';
import { decodeSnapshot, encodeSnapshot, heldRows, requiredSnapshots, type SnapshotState } from './snapshot-format.js';

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
  const bySeq = new Map(states.map((s) => [s.seq, s]));
  const missing = requiredSnapshots(head).filter((seq) => !bySeq.has(seq));
  if (missing.length > 0) throw new SnapshotIncompleteError(head.seq, missing);
  const frames = head.frames.length;
  const widthOf = (part: SnapshotState) => {
    const n = heldRows(part);
    return { kv: n === 0 ? 0 : part.keys.length / n, clean: n === 0 ? 0 : part.cleanLatents.length / n };
  };
  // The part holding the first frame holds at least one row, so it knows the widths.
  const width = frames === 0 ? { kv: 0, clean: 0 } : widthOf(bySeq.get((head.frames[0] as SnapshotState['frames'][number]).heldBy) as SnapshotState);
  const keys = new Float32Array(frames * width.kv);
  const values = new Float32Array(frames * width.kv);
  const cleanLatents = new Float32Array(frames * width.clean);
  head.frames.forEach((frame, i) => {
    const part = bySeq.get(frame.heldBy) as SnapshotState;
    // The part's rows are those of its own held frames, in its frame order.
    const held = part.frames.filter((f) => f.heldBy === part.seq);
    const j = held.findIndex((f) => f.position === frame.position);
    if (j < 0) throw new CorruptSnapshotError(`mergeSnapshots: frames[${i}]`, `snapshot ${part.seq} does not hold frame ${frame.position}`);
    const own = widthOf(part);
    if (own.kv !== width.kv || own.clean !== width.clean) throw new CorruptSnapshotError(`mergeSnapshots: snapshot ${part.seq}`, 'its rows are not as wide as the others');
    keys.set(row(part.keys, width.kv, j), i * width.kv);
    values.set(row(part.values, width.kv, j), i * width.kv);
    cleanLatents.set(row(part.cleanLatents, width.clean, j), i * width.clean);
  });
  const latentRow = head.blocks.length === 0 ? 0 : head.latents.length / head.blocks.length;
  const featureRow = head.featureBlocks.length === 0 ? 0 : head.features.length / head.featureBlocks.length;
  return encodeSnapshot(
    { ...head, frames: head.frames.map((f) => ({ ...f, heldBy: head.seq })), keys, values, cleanLatents },
    { latent: latentRow, kv: width.kv, clean: width.clean, feature: featureRow },
  );
}
