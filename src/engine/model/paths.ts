/**
 * Where the package lives on disk, found from this module's own URL.
 *
 * The same code runs from `src/engine/model/` (tsx, vitest) and from `dist/src/engine/model/` (built),
 * so a fixed number of `..` would be wrong in one of them: instead walk up to the first
 * folder whose `package.json` is this package's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `name` in our package.json; stops the walk from picking up an enclosing project. */
const PACKAGE_NAME = 'block-cascade';

let cachedRoot: string | undefined;

function isOurPackage(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/**
 * Absolute path of the package root (the folder holding our `package.json`).
 *
 * @throws {Error} if no enclosing folder holds the `block-cascade` package.json (a broken install).
 *
 * @example
 * ```ts
 * const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
 * ```
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (isOurPackage(dir)) return (cachedRoot = dir);
    if (dirname(dir) === dir) break;
  }
  throw new Error(`cannot find the ${PACKAGE_NAME} package.json in any folder above ${start}`);
}

/**
 * Absolute path of the bundled default model package, `models/sprites` at the package root (the
 * trained sprite model; `models/random` holds the random-weight model the tests use).
 *
 * @example
 * ```ts
 * const runtime = await createRuntime({ model: defaultModelDir() });
 * ```
 */
export function defaultModelDir(): string {
  return join(packageRoot(), 'models', 'sprites');
}

/**
 * The version in our package.json (shown by `block-cascade --version`).
 *
 * @example
 * ```ts
 * console.log(packageVersion()); // "0.1.0"
 * ```
 */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
