/**
 * Backpressure and pause: what holds a generation's admission back. A user's pause and the
 * consumer's backpressure are independent; admission resumes only when neither holds it.
 */
import type { SessionLink } from '../core/session-types.js';
import type { AdmissionFlow } from './live-controls.js';

/**
 * Pauses admission while the consumer leaves `limitFrames` or more frames unread, and resumes it
 * once it has read some, unless the user paused too.
 *
 * @example
 * ```ts
 * const gate = new BackpressureGate(4 * framesPerBlock, link, (event) => actor.send(event));
 * queue.onTake = () => gate.taken(queue.bufferedFrames);
 * ```
 */
export class BackpressureGate {
  readonly flow: AdmissionFlow = { user: false, backpressure: false };
  #send: (event: { type: 'supervisor.pause' | 'supervisor.resume' }) => void = () => {};

  constructor(
    private readonly limitFrames: number,
    private readonly link: SessionLink | undefined,
  ) {}

  /** Where pause and resume go (the supervisor, once it exists). */
  connect(send: (event: { type: 'supervisor.pause' | 'supervisor.resume' }) => void): void {
    this.#send = send;
  }

  /** A block's frames were buffered: pause admission when the buffer is full. */
  buffered(frames: number): void {
    if (this.flow.backpressure || frames < this.limitFrames) return;
    this.flow.backpressure = true;
    this.#send({ type: 'supervisor.pause' });
    if (!this.flow.user) this.link?.emit({ type: 'paused', reason: 'backpressure' });
  }

  /** The consumer took a frame: resume admission when there is room again. */
  taken(frames: number): void {
    if (!this.flow.backpressure || frames >= this.limitFrames) return;
    this.flow.backpressure = false;
    if (this.flow.user) return;
    this.#send({ type: 'supervisor.resume' });
    this.link?.emit({ type: 'resumed' });
  }
}
