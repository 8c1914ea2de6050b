/**
 * Graphs as ONNX Runtime optimised them, kept across processes. Creating a session spends most
 * of its time parsing the graph and optimising it (constant folding turns the float16 weights
 * into float32 ones, fusions): 0.83 s of the medium model's denoiser, where the graph it ends up
 * with, saved with its weights beside it, loads in 0.51 s (0.20 s → 0.12 s for the bundled
 * model's). Every start pays that again otherwise: a CLI run, a worker restarted under a live
 * session. The saved graph is what the session ran, so its outputs are the same bytes.
 *
 * An entry is a folder under the graph-check cache (`graph-check-cache.ts`: `optimised/<SHA-256
 * of its key>`) holding `graph.onnx`, `graph.data` (initialisers of 1 KiB or more) and
 * `entry.json` (the key and the files' sizes). The key holds the source file's identity (path,
 * device, inode, size, modification and change times), ONNX Runtime's version, the CPU model
 * and architecture (an optimised graph may use this CPU's layouts) and the options that shape
 * the optimisation. An entry is written in a folder of its own and renamed into place, so a
 * reader never sees half of one; one whose files have other sizes, or that ONNX Runtime cannot
 * load, is removed and made again. Saving an entry removes the entries of the same source path
 * and of sources that no longer exist, so models rebuilt in place or in temporary folders do not
 * pile up. CPU sessions from files only: merged graphs are made in memory, and a CUDA session's
 * optimisation depends on its device.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { fileIdentity, graphCheckDir } from './graph-check-cache.js';

const GRAPH = 'graph.onnx';
const DATA = 'graph.data';
const ENTRY = 'entry.json';
/** Initialisers at least this big go to `graph.data`, the rest stay in the graph. */
const EXTERNAL_MIN_BYTES = 1024;
/** ONNX Runtime's log severity for errors: the saving call's warning about this CPU's layouts is expected. */
const ERROR_SEVERITY = 3;

/** What `entry.json` holds. */
interface EntryRecord {
  readonly key: string;
  readonly source: string;
  readonly sizes: Readonly<Record<string, number>>;
}

/** Creates a session from a file with options: ONNX Runtime's `InferenceSession.create`. */
export type CreateSession = (path: string, options: InferenceSession.SessionOptions) => Promise<InferenceSession>;

/**
 * The folder of the optimised graphs, or null when the cache is off (`BLOCK_CASCADE_CACHE_DIR=`).
 *
 * @example
 * ```ts
 * optimisedGraphsDir({ BLOCK_CASCADE_CACHE_DIR: 'cache' }); // 'cache/optimised'
 * ```
 */
export function optimisedGraphsDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = graphCheckDir(env);
  return dir === null ? null : join(dir, 'optimised');
}

async function keyOf(file: string, options: InferenceSession.SessionOptions, runtimeVersion: string): Promise<string> {
  return JSON.stringify({
    format: 1,
    file: await fileIdentity(file),
    onnxruntime: runtimeVersion,
    cpu: cpus()[0]?.model ?? 'unknown',
    arch: arch(),
    level: options.graphOptimizationLevel ?? 'all',
    providers: options.executionProviders ?? ['cpu'],
  });
}

async function sizesOf(dir: string): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const name of await readdir(dir)) if (name !== ENTRY) sizes[name] = (await stat(join(dir, name))).size;
  return sizes;
}

/** The entry's graph when it is complete and of this key, else null. */
async function complete(dir: string, key: string): Promise<string | null> {
  try {
    const record = JSON.parse(await readFile(join(dir, ENTRY), 'utf8')) as EntryRecord;
    if (record.key !== key) return null;
    const sizes = await sizesOf(dir);
    const names = Object.keys(record.sizes);
    if (names.length !== Object.keys(sizes).length || names.some((n) => sizes[n] !== record.sizes[n])) return null;
    return join(dir, GRAPH);
  } catch {
    return null;
  }
}

/** Removes the entries made from `source` (an older version of it) and from files that are gone. */
async function prune(root: string, source: string, keep: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, name);
    if (name === keep) continue;
    // A folder still being written (`.tmp`) is its writer's to rename or remove.
    if (name.endsWith('.tmp')) continue;
    try {
      const record = JSON.parse(await readFile(join(dir, ENTRY), 'utf8')) as EntryRecord;
      if (record.source !== source && (await stat(record.source).then(() => true, () => false))) continue;
    } catch {
      // No readable record: not an entry this code can use.
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A session for the graph in `file`: from its optimised copy when an earlier process saved one,
 * else from the file, saving the optimised graph for the next. Never fails where `create(file,
 * options)` would not: a cache that cannot be read or written only costs the time it saves.
 *
 * @example
 * ```ts
 * const session = await createOptimised('models/sprites/denoiser.onnx', { executionProviders: ['cpu'] }, (p, o) => ort.InferenceSession.create(p, o), ort.env.versions.common);
 * ```
 */
export async function createOptimised(file: string, options: InferenceSession.SessionOptions, create: CreateSession, runtimeVersion: string, env: NodeJS.ProcessEnv = process.env): Promise<InferenceSession> {
  const root = optimisedGraphsDir(env);
  if (root === null) return create(file, options);
  const source = resolve(file);
  let key: string;
  try {
    key = await keyOf(source, options, runtimeVersion);
  } catch {
    return create(file, options);
  }
  const name = createHash('sha256').update(key).digest('hex');
  const dir = join(root, name);
  const cached = await complete(dir, key);
  if (cached !== null) {
    try {
      return await create(cached, options);
    } catch {
      // Damaged in a way its sizes do not show: made again below.
    }
  }
  // Whatever is there is incomplete or damaged, and a rename never replaces a folder that has files.
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  const temp = `${dir}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(temp, { recursive: true, mode: 0o700 });
  } catch {
    return create(file, options);
  }
  try {
    const quiet = (options.logSeverityLevel ?? 2) >= 2 ? ERROR_SEVERITY : options.logSeverityLevel;
    const session = await create(file, {
      ...options,
      logSeverityLevel: quiet,
      optimizedModelFilePath: join(temp, GRAPH),
      extra: { ...options.extra, session: { ...(options.extra?.['session'] as object | undefined), optimized_model_external_initializers_file_name: DATA, optimized_model_external_initializers_min_size_in_bytes: String(EXTERNAL_MIN_BYTES) } },
    });
    try {
      const record: EntryRecord = { key, source, sizes: await sizesOf(temp) };
      await writeFile(join(temp, ENTRY), JSON.stringify(record), { mode: 0o600 });
      await rename(temp, dir);
      await prune(root, source, name);
    } catch {
      // Another process renamed its entry first, or the disk is full: the session stands.
    }
    return session;
  } catch {
    // The file could not be written (ONNX Runtime fails the call then): create it plainly.
    return create(file, options);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
