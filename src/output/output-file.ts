/**
 * Output files written safely: their place checked before any work is done, their bytes written
 * to a temporary name in the same folder and renamed over the target on success (a full disk or
 * a crash leaves the previous file, or none, never a truncated one), and every failure naming
 * the file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OutputError } from './errors.js';

const describe = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOSPC' ? 'no space left on the device (ENOSPC)' : e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(err);
};

/**
 * A temporary name next to `path`, hidden and unique to this process: in the same folder so
 * that the final rename stays on one file system (and so is atomic).
 *
 * @example
 * ```ts
 * temporaryName('out/video.mp4'); // "out/.video.mp4.4242.1a2b3c4d.tmp"
 * ```
 */
export function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Creates `dir` if needed and proves that a file can be created in it. */
async function probeFolder(dir: string, what: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = temporaryName(join(dir, 'probe'));
    await (await open(probe, 'wx')).close();
    await rm(probe, { force: true });
  } catch (err) {
    throw new OutputError('E_OUTPUT_WRITE', `${what}: cannot write there (${describe(err)})`);
  }
}

/**
 * Checks, before anything is generated, that a file can be written at `path`: not a folder, its
 * folder creatable and writable.
 *
 * @throws {OutputError} `E_OUTPUT_WRITE`, naming the path.
 *
 * @example
 * ```ts
 * await checkOutputFile('out/video.gif');
 * ```
 */
export async function checkOutputFile(path: string): Promise<void> {
  const found = await stat(path).catch(() => null);
  if (found?.isDirectory()) throw new OutputError('E_OUTPUT_WRITE', `${path}: is a folder, not a file that can be written`);
  await probeFolder(dirname(path), path);
}

/**
 * Checks, before anything is generated, that files can be written into the folder `dir`
 * (created if needed).
 *
 * @throws {OutputError} `E_OUTPUT_WRITE`, naming the folder.
 */
export async function checkOutputFolder(dir: string): Promise<void> {
  const found = await stat(dir).catch(() => null);
  if (found !== null && !found.isDirectory()) throw new OutputError('E_OUTPUT_WRITE', `${dir}: is a file, not a folder that frames can be written into`);
  await probeFolder(dir, dir);
}

/**
 * Writes `bytes` to `path` atomically: to a temporary file in the same folder, then renamed.
 *
 * @throws {OutputError} `E_OUTPUT_WRITE`, naming `path` (ENOSPC and others); the temporary file
 *   is removed and a previous file at `path` is left as it was.
 *
 * @example
 * ```ts
 * await writeFileAtomic('out.gif', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = temporaryName(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    const file = await open(temporary, 'wx');
    try {
      await file.writeFile(bytes);
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new OutputError('E_OUTPUT_WRITE', `${path}: cannot write (${describe(err)})`);
  }
}

/**
 * Moves a finished temporary file (from {@link temporaryName}) over `path`; on failure the
 * temporary file is removed and the error names `path`. For writers whose bytes are produced by
 * another program (ffmpeg) rather than held in memory.
 *
 * @throws {OutputError} `E_OUTPUT_WRITE`, naming `path`.
 *
 * @example
 * ```ts
 * const temporary = temporaryName('out.mp4');
 * await encodeInto(temporary);
 * await renameIntoPlace(temporary, 'out.mp4');
 * ```
 */
export async function renameIntoPlace(temporary: string, path: string): Promise<void> {
  try {
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new OutputError('E_OUTPUT_WRITE', `${path}: cannot write (${describe(err)})`);
  }
}
