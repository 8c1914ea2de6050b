/**
 * Session-file constants that need no decoder: the CLI reads them when it registers its flags,
 * and so does not load Effect Schema (0.3–0.5 s) for commands that never decode a session file
 * (`worker`, `--help`).
 */

/** Frame rate of a video whose session file and command line give none. */
export const DEFAULT_FPS = 16;

/** Largest session file read (bytes). */
export const MAX_SESSION_FILE_BYTES = 1 << 20;
