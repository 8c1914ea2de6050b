/**
 * The thread a {@link GifWriter} encodes on (one Piscina thread per writer, tasks in order):
 * a frame's palette and LZW compression cost milliseconds (a median-cut palette for a 64 × 64
 * frame of more than 256 colours, about 5 ms), which on the caller's thread would hold up the
 * runtime's actors between ticks.
 *
 * Tasks: `{ type: 'frame', width, height, rgb }` → nothing; `{ type: 'finish' }` → the GIF bytes.
 */
import { workerData } from 'node:worker_threads';
import { GifEncoder } from './gif.js';

const { fps, where } = workerData as { fps: number; where: string };
const gif = new GifEncoder({ fps }, where);
let index = 0;

export default function encode(task: { type: 'frame'; width: number; height: number; rgb: Uint8Array } | { type: 'finish' }): Uint8Array | null {
  if (task.type === 'finish') return gif.finish();
  gif.add({ index: index++, block: 0, width: task.width, height: task.height, rgb: task.rgb } as Parameters<GifEncoder['add']>[0]);
  return null;
}
