/**
 * Renders a clip spec to raw RGB frames: black background, one hard-edged sprite drawn with
 * wrapped coordinates so it can straddle an edge of the (toroidal) frame.
 */
import { DEFAULT_FRAME_SIZE, segmentAt, spritePosition, validateClipSpec, validateFrameSize, type ClipSpec, type FrameSize } from './clip-spec.js';
import { InvalidClipError } from './errors.js';
import { spriteMask } from './sprite-mask.js';
import { SPRITE_PALETTE } from './vocabulary.js';

/**
 * Draws frame `frame` of a clip into `out` (length `height·width·3`, `[H][W][3]` row-major),
 * overwriting it. Lets a dataset writer reuse one buffer per clip.
 *
 * @example
 * ```ts
 * const rgb = new Uint8Array(32 * 32 * 3);
 * renderFrameInto(spec, 0, { width: 32, height: 32 }, rgb);
 * ```
 */
export function renderFrameInto(spec: ClipSpec, frame: number, size: FrameSize, out: Uint8Array): void {
  const { width, height } = size;
  if (out.length !== width * height * 3) {
    throw new InvalidClipError('out', `expected ${width * height * 3} bytes for ${width}x${height} RGB, got ${out.length}`);
  }
  out.fill(0);
  const { x, y } = spritePosition(spec, frame, size);
  const [r, g, b] = SPRITE_PALETTE[segmentAt(spec, frame).colour];
  for (const [dx, dy] of spriteMask(spec.shape)) {
    const px = (((x + dx) % width) + width) % width;
    const py = (((y + dy) % height) + height) % height;
    const at = (py * width + px) * 3;
    out[at] = r;
    out[at + 1] = g;
    out[at + 2] = b;
  }
}

/**
 * Renders `frames` frames of a clip: `frames·height·width·3` bytes, frame after frame, each
 * `[H][W][3]` row-major like the runtime's `Frame.rgb`.
 *
 * @throws InvalidClipError for a bad spec, frame count or size
 * @example
 * ```ts
 * const video = renderClip({ shape: 'ball', x0: 16, y0: 16, segments: [{ fromFrame: 0, colour: 'red', direction: 'left' }] }, 12);
 * video.length; // 12 * 32 * 32 * 3
 * ```
 */
export function renderClip(spec: ClipSpec, frames: number, size: FrameSize = DEFAULT_FRAME_SIZE): Uint8Array {
  validateClipSpec(spec);
  validateFrameSize(size);
  if (!Number.isSafeInteger(frames) || frames < 1) {
    throw new InvalidClipError('frames', `expected an integer >= 1, got ${JSON.stringify(frames)}`);
  }
  const frameBytes = size.width * size.height * 3;
  const video = new Uint8Array(frames * frameBytes);
  for (let f = 0; f < frames; f++) {
    renderFrameInto(spec, f, size, video.subarray(f * frameBytes, (f + 1) * frameBytes));
  }
  return video;
}
