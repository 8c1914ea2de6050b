/**
 * Packages whose graphs passed the contract check (`loader.ts`), remembered across processes:
 * opening every graph of a package costs 0.2–0.5 s of every start (a CLI run, a worker restart),
 * while its files rarely change. So are decoded manifests (`loader.ts`: decoding loads Effect
 * Schema, 0.3–0.5 s). A pass is a small file named by the SHA-256 of its key (the manifest and
 * each graph file's device, inode, size, modification and change times), holding the key and,
 * for a decoded manifest, the decoded value, under
 * `$BLOCK_CASCADE_CACHE_DIR`, else `$XDG_CACHE_HOME/block-cascade/graph-checks`, else
 * `~/.cache/block-cascade/graph-checks`. An empty `BLOCK_CASCADE_CACHE_DIR` turns it off; a
 * folder that cannot be written only means the next process checks again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Environment variable naming the folder (empty: remember nothing on disk). */
export const CACHE_DIR_ENV = 'BLOCK_CASCADE_CACHE_DIR';

/**
 * The folder of the passes, or null when turned off.
 *
 * @example
 * ```ts
 * graphCheckDir({ BLOCK_CASCADE_CACHE_DIR: 'cache/graph-checks' }); // 'cache/graph-checks'
 * ```
 */
export function graphCheckDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const own = env[CACHE_DIR_ENV];
  if (own !== undefined) return own === '' ? null : own;
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'block-cascade', 'graph-checks');
}

/**
 * A file's identity for a cache key: its path, device, inode, size, modification and change
 * times (the change time cannot be set back, so a file rewritten in place changes it too).
 *
 * @example
 * ```ts
 * const key = JSON.stringify([manifest, await Promise.all(files.map((f) => fileIdentity(f)))]);
 * ```
 */
export async function fileIdentity(file: string): Promise<string> {
  const s = await stat(file, { bigint: true });
  return `${file}:${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

const stampOf = (dir: string, key: string) => join(dir, `${createHash('sha256').update(key).digest('hex')}.pass`);

/**
 * The value an earlier process remembered under this key ('' for a plain pass), or null.
 *
 * @example
 * ```ts
 * const decoded = await recall(key);
 * if (decoded !== null) return JSON.parse(decoded);
 * ```
 */
export async function recall(key: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const dir = graphCheckDir(env);
  if (dir === null) return null;
  try {
    const text = await readFile(stampOf(dir, key), 'utf8');
    // The key first: a file of another key (a hash collision, a stray file) is no pass.
    if (text === key) return '';
    return text.startsWith(`${key}\n`) ? text.slice(key.length + 1) : null;
  } catch {
    return null;
  }
}

/**
 * Remembers `value` ('' for a plain pass) under this key; never fails.
 *
 * @example
 * ```ts
 * await remember(key, JSON.stringify(decoded));
 * ```
 */
export async function remember(key: string, value = '', env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = graphCheckDir(env);
  if (dir === null) return;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(stampOf(dir, key), value === '' ? key : `${key}\n${value}`, { mode: 0o600 });
  } catch {
    // Read-only home, full disk: the next process checks again, nothing worse.
  }
}

/**
 * Whether a package with this key passed in an earlier process.
 *
 * @example
 * ```ts
 * if (await passedBefore(key)) return;
 * ```
 */
export async function passedBefore(key: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return (await recall(key, env)) !== null;
}

/**
 * Remembers that a package with this key passed; never fails.
 *
 * @example
 * ```ts
 * await rememberPass(key);
 * ```
 */
export async function rememberPass(key: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await remember(key, '', env);
}
