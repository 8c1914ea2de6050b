/**
 * Progress of a generation on stderr: a live bar (blocks done / total, FPS) when stderr is a
 * terminal; otherwise plain lines every few seconds (`block-cascade: block 12/64, 3.1 blocks/s`),
 * since redraw codes would litter logs and pipes but a silent long run looks hung; nothing with
 * `--quiet`.
 */
import { Presets, SingleBar } from 'cli-progress';
import { performance } from 'node:perf_hooks';
import type { Progress } from '../core/api-types.js';

/** Receives progress updates and is stopped once, at the end. */
export interface ProgressReporter {
  update(progress: Progress): void;
  stop(): void;
}

/** Options of {@link progressReporter}. */
export interface ProgressOptions {
  /** Report nothing (`--quiet`). */
  readonly quiet?: boolean;
  /** Least time between two plain lines when the stream is not a terminal (default 5 s). */
  readonly intervalMs?: number;
  /** Clock, in ms (tests). */
  readonly now?: () => number;
}

/** Default least time between two plain progress lines. */
export const PROGRESS_LINE_INTERVAL_MS = 5000;

/**
 * One plain progress line.
 *
 * @example
 * ```ts
 * progressLine({ blocksDone: 12, blocksTotal: 64, framesDone: 36, elapsedMs: 3870, fps: 9.3 }); // "block-cascade: block 12/64, 3.1 blocks/s"
 * ```
 */
export function progressLine(p: Progress): string {
  const rate = p.elapsedMs > 0 ? (p.blocksDone * 1000) / p.elapsedMs : 0;
  return `block-cascade: block ${p.blocksDone}/${p.blocksTotal}, ${rate.toFixed(1)} blocks/s`;
}

/**
 * A progress bar on `stream` if it is a TTY; else plain lines, the first when the first block is
 * done (so even a short run shows that it started) and then at most one per interval; nothing
 * when `quiet`.
 *
 * @example
 * ```ts
 * const progress = progressReporter(request.blocks, process.stderr);
 * for await (const frame of runtime.generate(request, { onProgress: (p) => progress.update(p) })) use(frame);
 * progress.stop();
 * ```
 */
export function progressReporter(blocksTotal: number, stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, options: ProgressOptions = {}): ProgressReporter {
  if (options.quiet) return { update: () => {}, stop: () => {} };
  if (!stream.isTTY) {
    const interval = options.intervalMs ?? PROGRESS_LINE_INTERVAL_MS;
    const now = options.now ?? (() => performance.now());
    let last: number | undefined;
    let stopped = false;
    return {
      update: (p) => {
        if (stopped || p.blocksDone < 1) return;
        const t = now();
        if (last !== undefined && t - last < interval) return;
        last = t;
        stream.write(`${progressLine(p)}\n`);
      },
      stop: () => {
        stopped = true;
      },
    };
  }
  const bar = new SingleBar(
    {
      stream: stream as NodeJS.WriteStream,
      format: 'generating |{bar}| {value}/{total} blocks | {fps} FPS | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  bar.start(blocksTotal, 0, { fps: '0.0' });
  let stopped = false;
  return {
    update: (p) => bar.update(p.blocksDone, { fps: p.fps.toFixed(1) }),
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
