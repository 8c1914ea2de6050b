/**
 * Frames leave the runtime in block order even when decodes finish out of order (two lanes
 * decoding two blocks): blocks wait here until their predecessors have been handed out.
 */
import { asBlockIndex } from '../core/domain.js';
import type { Frame } from '../core/api-types.js';

export interface FrameGeometry {
  readonly framesPerBlock: number;
  readonly width: number;
  readonly height: number;
}

/** @internal */
export class OrderedFrameQueue implements AsyncIterable<Frame> {
  readonly #geometry: FrameGeometry;
  readonly #early = new Map<number, Uint8Array>();
  readonly #ready: Frame[] = [];
  #nextBlock = 0;
  #ended = false;
  #failure: unknown = null;
  #wake: (() => void) | null = null;

  readonly #onTake: (() => void) | undefined;
  readonly #onRelease: ((block: number) => void) | undefined;

  /**
   * `onTake` runs after the consumer takes a frame (backpressure: room in the buffer);
   * `onRelease` when a block's frames join the consumer's buffer, in block order. A resumed
   * generation starts at `firstBlock`.
   */
  constructor(geometry: FrameGeometry, onTake?: () => void, onRelease?: (block: number) => void, firstBlock = 0) {
    this.#geometry = geometry;
    this.#nextBlock = firstBlock;
    this.#onTake = onTake;
    this.#onRelease = onRelease;
  }

  /** Frames decoded and in order, not yet taken by the consumer. */
  get bufferedFrames(): number {
    return this.#ready.length;
  }

  /** Blocks handed to the consumer's buffer so far. */
  get blocksReleased(): number {
    return this.#nextBlock;
  }

  push(block: number, rgb: Uint8Array): void {
    this.#early.set(block, rgb);
    for (let next = this.#early.get(this.#nextBlock); next; next = this.#early.get(this.#nextBlock)) {
      this.#early.delete(this.#nextBlock);
      this.#split(this.#nextBlock, next);
      this.#onRelease?.(this.#nextBlock);
      this.#nextBlock++;
    }
    this.#notify();
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  fail(error: unknown): void {
    if (this.#failure === null) this.#failure = error;
    this.#notify();
  }

  #split(block: number, rgb: Uint8Array): void {
    const { framesPerBlock, width, height } = this.#geometry;
    const frameBytes = width * height * 3;
    for (let f = 0; f < framesPerBlock; f++) {
      this.#ready.push({
        block: asBlockIndex(block),
        index: block * framesPerBlock + f,
        width,
        height,
        rgb: rgb.subarray(f * frameBytes, (f + 1) * frameBytes),
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Frame> {
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      const frame = this.#ready.shift();
      if (frame) {
        this.#onTake?.();
        yield frame;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}
