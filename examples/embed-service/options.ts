/**
 * Options of the embed service, their defaults and their checks, shared by `startService`
 * and the command line (flags, with `EMBED_*` environment variables as fallbacks).
 */
import { parseArgs } from 'node:util';
import { ServiceOptionError } from './errors.js';

/** Options of `startService`; every one has a default. */
export interface ServiceOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to listen on. Default `127.0.0.1`: a demo should not face the network unasked. */
  readonly host?: string;
  /** CPU lanes of the runtime. Default 1. */
  readonly lanes?: number;
  /** Model package folder; default the bundled trained `models/sprites`. */
  readonly model?: string;
  /** Noise seed of every session. Default 1. */
  readonly seed?: number;
  /** Blocks per session. Default 1,000,000: about three days at 12 fps, i.e. until stopped. */
  readonly blocks?: number;
  /** Prompt every session starts with. Default `red ball moving left`. */
  readonly prompt?: string;
  /**
   * Frames per second sent to viewers; 0 sends frames as fast as the model makes them. Default
   * 12. Pacing holds frames back, and the session's backpressure then slows generation down to
   * the same rate instead of racing ahead.
   */
  readonly fps?: number;
  /**
   * Decoded blocks the service may hold before generation pauses. Default 2: a switch shows up
   * after at most this many blocks already made under the old prompt.
   */
  readonly maxBufferedBlocks?: number;
  /**
   * Viewers (sessions, one per page) that may watch at once: the runtime's `maxSessions`, with no
   * queue, so one more is refused (503 with `Retry-After`). Default: the runtime's default
   * `maxSessions` (2 × lanes, fewer when memory is short).
   */
  readonly maxViewers?: number;
}

/** {@link ServiceOptions} with every default filled in. */
export type ResolvedOptions = Required<Omit<ServiceOptions, 'model' | 'maxViewers'>> & Pick<ServiceOptions, 'model' | 'maxViewers'>;

/** The defaults, as the README documents them. */
export const DEFAULTS: ResolvedOptions = {
  port: 0,
  host: '127.0.0.1',
  lanes: 1,
  seed: 1,
  blocks: 1_000_000,
  prompt: 'red ball moving left',
  fps: 12,
  maxBufferedBlocks: 2,
};

function integer(option: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ServiceOptionError(option, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/**
 * Fills in defaults and checks every option, so a bad one fails at start, not at the first viewer.
 *
 * @throws {ServiceOptionError} naming the first bad option.
 *
 * @example
 * ```ts
 * resolveOptions({ fps: 30 }).port; // 0
 * resolveOptions({ fps: -1 }); // throws: option "fps": expected a number in [0, 120], got -1
 * ```
 */
export function resolveOptions(options: ServiceOptions = {}): ResolvedOptions {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as ResolvedOptions;
  integer('port', o.port, 0, 65_535);
  integer('lanes', o.lanes, 1, 64);
  integer('seed', o.seed, 0);
  integer('blocks', o.blocks, 1);
  integer('maxBufferedBlocks', o.maxBufferedBlocks, 1, 64);
  if (o.maxViewers !== undefined) integer('maxViewers', o.maxViewers, 1, 1024);
  if (typeof o.fps !== 'number' || !(o.fps >= 0 && o.fps <= 120)) throw new ServiceOptionError('fps', 'a number in [0, 120]', o.fps);
  if (typeof o.host !== 'string' || o.host === '') throw new ServiceOptionError('host', 'a host name or address', o.host);
  if (typeof o.prompt !== 'string' || o.prompt.trim() === '') throw new ServiceOptionError('prompt', 'a non-empty string', o.prompt);
  if (o.model !== undefined && (typeof o.model !== 'string' || o.model === '')) throw new ServiceOptionError('model', 'a folder path', o.model);
  return o;
}

const NUMERIC = ['port', 'lanes', 'seed', 'blocks', 'fps', 'max-buffered-blocks', 'max-viewers'] as const;
const TEXT = ['host', 'model', 'prompt'] as const;

/** `max-buffered-blocks` → `maxBufferedBlocks`; `--port` → `EMBED_PORT`. */
const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const envName = (flag: string) => `EMBED_${flag.replace(/-/g, '_').toUpperCase()}`;

/**
 * Reads service options from command-line flags (`--port 8080`), falling back to environment
 * variables (`EMBED_PORT=8080`); numbers are checked by {@link resolveOptions}.
 *
 * @throws {ServiceOptionError} for an unknown flag or a value that is not a number.
 *
 * @example
 * ```ts
 * parseCommandLine(['--port', '8080', '--fps', '24'], {}); // { port: 8080, fps: 24 }
 * ```
 */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): ServiceOptions {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries([...NUMERIC, ...TEXT].map((flag) => [flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // parseArgs names the flag itself ("Unknown option '--prot'").
    throw new ServiceOptionError('command line', `only ${[...NUMERIC, ...TEXT].map((f) => `--${f}`).join(', ')}`, (error as Error).message);
  }
  const out: Record<string, string | number> = {};
  for (const flag of [...NUMERIC, ...TEXT]) {
    const raw = values[flag] ?? env[envName(flag)];
    if (raw === undefined) continue;
    const isNumeric = (NUMERIC as readonly string[]).includes(flag);
    if (isNumeric && (raw.trim() === '' || !Number.isFinite(Number(raw)))) throw new ServiceOptionError(flag, 'a number', raw);
    out[camel(flag)] = isNumeric ? Number(raw) : raw;
  }
  return out as ServiceOptions;
}
