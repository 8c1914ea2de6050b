/**
 * block-cascade: block-causal video diffusion in Node, scheduled by actors, run on lanes.
 *
 * @example
 * ```ts
 * import { createRuntime } from 'block-cascade';
 * const runtime = await createRuntime();
 * for await (const frame of runtime.generate({ seed: 7, blocks: 8, prompt: 'red ball moving left' })) {
 *   // frame.rgb: width × height × 3 bytes
 * }
 * await runtime.close();
 * ```
 */
export { createRuntime, Runtime, type RuntimeInternals } from './api/runtime.js';
export type { GenerationSession, SessionEvent, SessionOptions, SessionPriority } from './core/session-types.js';
export type { Frame, GenerateOptions, GenerateRequest, GenerationSnapshot, LoadProgress, Progress, PromptSwitch, RuntimeOptions, RuntimeStartup, RuntimeStats, SnapshotOptions } from './core/api-types.js';
export type { AttentionMode, CascadeOptions, CascadeWindow, ExecMode, GenerationSettings, Parallelism, RecacheMode, SwitchMode } from './core/cascade-options.js';
export type { FeatureCacheOptions } from './core/feature-cache.js';
export type { TraceRecord } from './core/trace-records.js';
export { CorruptSnapshotError, GenerationAbortedError, GenerationFailedError, InvalidOptionError, LaneError, NoCapacityError, PromptTooLongError, RuntimeBusyError, RuntimeClosedError, SessionEndedError, SnapshotIncompleteError, SnapshotMismatchError, SnapshotUnsupportedError, SnapshotVersionError, UnknownWordsError } from './core/errors.js';
export { inspectSnapshot, SNAPSHOT_VERSION, type SnapshotSummary } from './engine/snapshot/snapshot-format.js';
export { mergeSnapshots } from './engine/snapshot/merge.js';
export { connect, type Cluster, type ClusterOptions, type ClusterSession, type Failover } from './cluster/client.js';
export { startWorker, type Worker, type WorkerOptions } from './cluster/worker.js';
export type { NatsAuth } from './cluster/nats-auth.js';
export { ClusterClosedError, ClusterConnectError, ClusterMessageError, ClusterSessionError, WorkerIdInUseError } from './cluster/errors.js';
export { checkPromptWords, knownWords, promptWords, tokenizePrompt, unknownWords, type PromptCheckOptions, type PromptVocabulary } from './engine/model/tokenizer.js';
export type { BlockIndex, Device, FramePosition, LaneId, LaneOptions, Stage } from './core/domain.js';
export { STAGES } from './core/domain.js';
export type { ModelManifest } from './core/manifest-types.js';
export { gaussianNoise, type NoiseKey } from './core/noise.js';
export { loadSessionFile, decodeSessionFile, resolveTimeline, SessionFileError, type SessionFile, type TimelineEntry } from './protocol/session-file.js';
export { planSession, type SessionOverrides, type SessionPlan } from './api/session-plan.js';
export { loadModelPackage, type ModelPackage } from './engine/model/loader.js';
export { ModelPackageError } from './engine/model/errors.js';
export { encodeGif, writeGif, GifWriter, type GifOptions } from './output/gif.js';
export { encodePng, writePngFrames, writePngFrame } from './output/png.js';
export { VideoWriter, type VideoFormat, type VideoOptions } from './output/video.js';
export { scaleFrame } from './output/scale.js';
export { encodeMessage, decodeMessage, encodeTensorFrame, decodeTensorFrame, CorruptMessageError, TensorShapeError } from './protocol/codec.js';
export * from './inspector/index.js';
