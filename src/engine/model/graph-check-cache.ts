/**
 * Packages whose graphs passed the contract check (`loader.ts`), remembered across processes:
 * opening every graph of a package costs 0.2–0.5 s of every start (a CLI run, a worker restart),
 * while its files rarely change. A pass is a small file named by the SHA-256 of its key (the
 * manifest and each graph file's device, inode, size, modification and change times), under
 * `$BLOCK_CASCADE_CACHE_DIR`, else `$XDG_CACHE_HOME/block-cascade/graph-checks`, else
 * `~/.cache/block-cascade/graph-checks`. An empty `BLOCK_CASCADE_CACHE_DIR` turns it off; a
 * folder that cannot be written only means the next process checks again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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

const stampOf = (dir: string, key: string) => join(dir, `${createHash('sha256').update(key).digest('hex')}.pass`);

/**
 * Whether a package with this key passed in an earlier process.
 *
 * @example
 * ```ts
 * if (await passedBefore(key)) return;
 * ```
 */
export async function passedBefore(key: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const dir = graphCheckDir(env);
  if (dir === null) return false;
  try {
    return (await readFile(stampOf(dir, key), 'utf8')) === key;
  } catch {
    return false;
  }
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
  const dir = graphCheckDir(env);
  if (dir === null) return;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(stampOf(dir, key), key, { mode: 0o600 });
  } catch {
    // Read-only home, full disk: the next process checks the graphs again, nothing worse.
  }
}
