/** The inspector's public API (docs/inspector.md): read traces, derive their views, serve them, export them. */
export { readTraceFile, parseTrace, generations } from './trace-file.js';
export { TraceFileError, InspectorServerError } from './errors.js';
export { deriveModel, blocksByState, type TraceModel, type DiagonalCell, type KvPoint, type SwitchMarker, type RecacheMarker, type FrameMark } from './model.js';
export { FORWARD_TASKS, isForwardTask, type LaneTask } from './lane-tasks.js';
export { stateAt, type BlockTimeline, type BlockTransition } from './block-timeline.js';
export { generationSpans, concurrentGroup, alignGenerations, type GenerationSpan } from './session-groups.js';
export { deriveSessionsModel, sessionSwimlane, type SessionsModel, type SessionView, type Swimlane, type SwimlaneTick } from './sessions-model.js';
export { chromeTrace, type ChromeTrace, type ChromeTraceEvent } from './chrome-trace.js';
export { startInspector, type Inspector, type InspectorOptions } from './server.js';
export { allowedHosts, checkOrigin, type OriginRefusal, type OriginRefusalCode } from './origin-policy.js';
