/**
 * Worker threads and child processes load modules by file: under tsx or vitest a module is
 * TypeScript and its siblings are too (they need tsx's loader), built they are JavaScript.
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The file of a sibling module of `from` (an `import.meta.url`) named `name` without its
 * extension, and the Node arguments a thread or process needs to load it.
 *
 * @example
 * ```ts
 * const { file, execArgv } = siblingModule(import.meta.url, './lane-worker');
 * new Worker(file, { execArgv });
 * ```
 */
export function siblingModule(from: string, name: string): { readonly file: string; readonly execArgv: string[]; readonly fromSource: boolean } {
  const fromSource = from.endsWith('.ts');
  const file = fileURLToPath(new URL(`${name}.${fromSource ? 'ts' : 'js'}`, from));
  // tsx's loader by absolute URL: a bare `--import tsx` would resolve from the caller's cwd.
  const execArgv = fromSource ? ['--import', pathToFileURL(createRequire(from).resolve('tsx')).href] : [];
  return { file, execArgv, fromSource };
}
