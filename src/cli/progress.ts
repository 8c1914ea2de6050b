/**
 * Progress of a generation on stderr: a live bar (blocks done / total, FPS) when stderr is a
 * terminal; nothing while running otherwise, since redraw codes would litter logs and pipes.
 */
import { Presets, SingleBar } from 'cli-progress';
import type { Progress } from '../core/api-types.js';

/** Receives progress updates and is stopped once, at the end. */
export interface ProgressReporter {
  update(progress: Progress): void;
  stop(): void;
}

/**
 * A progress bar on `stream` if it is a TTY, else a reporter that does nothing.
 *
 * @example
 * ```ts
 * const progress = progressReporter(request.blocks, process.stderr);
 * for await (const frame of runtime.generate(request, { onProgress: (p) => progress.update(p) })) use(frame);
 * progress.stop();
 * ```
 */
export function progressReporter(blocksTotal: number, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (!stream.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar(
    {
      stream,
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
