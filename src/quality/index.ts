/**
 * The quality probe for prompted sprite videos (see `probe.ts`), with the helpers it is built
 * from for callers that want per-frame numbers.
 *
 * @example
 * ```ts
 * import { probeVideo } from './quality/index.js';
 * const report = probeVideo(frames, { framesPerBlock: 3, prompts });
 * ```
 */
export { ProbeInputError } from './errors.js';
export { classifyColour, FOREGROUND_THRESHOLD } from './colour.js';
export { CircularMean, wrapDelta, type Displacement } from './torus.js';
export { measureFrame, MIN_BLOB_PIXELS, MIN_COLOUR_AGREEMENT, MIN_CONCENTRATION, type FrameStats, type ProbeFrame } from './frame-stats.js';
export { colourVerdict, directionVerdict, MIN_SPEED, type ColourVerdict, type DirectionVerdict } from './verdicts.js';
export {
  PLAUSIBLE_AREA_FACTORS, probeVideo,
  type BlockReport, type ExpectedPrompt, type ProbeOptions, type ProbeReport, type SwitchReport,
} from './probe.js';
