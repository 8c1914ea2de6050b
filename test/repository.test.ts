/**
 * The repository stands alone: no committed file names a path on the developer's machine or a
 * design document outside the repository, no build product is committed, and `bin/` never runs
 * a `dist/` older than the sources.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Committed files, or null outside a git checkout (e.g. an unpacked tarball). */
function committedFiles(): string[] | null {
  const out = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  if (out.status !== 0) return null;
  // A file deleted in the working tree but not yet from the index is not there to read.
  return out.stdout.split('\0').filter((f) => f !== '' && existsSync(join(root, f)));
}

const files = committedFiles();

/** Model packages and binary formats are not scanned for text. */
const SKIPPED = /^models\/|\.(onnx|gz|png|gif|jpe?g|pyc)$/;

/** The text of every committed text file (a NUL byte in the first 8 KB marks a binary). */
function textFiles(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const file of files ?? []) {
    if (SKIPPED.test(file)) continue;
    const bytes = readFileSync(join(root, file));
    if (bytes.subarray(0, 8192).includes(0)) continue;
    out.push({ file, text: bytes.toString('utf8') });
  }
  return out;
}

/** `file:line: text` of every line that matches. */
function offenders(pattern: RegExp, skip: (file: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const { file, text } of textFiles()) {
    if (skip(file)) continue;
    text.split('\n').forEach((line, i) => {
      if (pattern.test(line)) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 160)}`);
    });
  }
  return found;
}

describe.skipIf(files === null)('the committed tree', () => {
  it('holds no absolute path of a machine', () => {
    // A path that starts at the root folder work, root, home or tmp (after a quote, a space, a
    // bracket, `=`…), not inside a relative path (`docs/tmp/`) or a URL. `.gitignore`'s tmp
    // entry is anchored at the repository root, not a machine path.
    const absolute = new RegExp(String.raw`(?<![\w.~/-])/(?:work|root|home|tmp)/`);
    expect(offenders(absolute, (file) => file === '.gitignore')).toEqual([]);
  });

  it('holds no build product', () => {
    const products = (files ?? []).filter((file) => {
      const parts = file.split('/');
      return (
        parts.some((p) => p === 'dist' || p === 'node_modules' || p === '__pycache__') ||
        /\.(pyc|tsbuildinfo)$/.test(file)
      );
    });
    expect(products).toEqual([]);
  });

  it('cites no document outside the repository', () => {
    // Spelt in pieces so that this file does not match itself.
    const outside = new RegExp(['DESIGN\\.md', 'DESIGN' + ' §', '\\.\\./shared'].join('|'));
    expect(offenders(outside)).toEqual([]);
  });
});

describe('bin/block-cascade.js', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A throwaway package: the real bin script, a fake build and fake sources. */
  function fakePackage(withTsx: boolean): { dir: string; built: string; source: string } {
    const dir = mkdtempSync(join(tmpdir(), 'block-cascade-bin-'));
    dirs.push(dir);
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(root, 'bin', 'block-cascade.js'), join(dir, 'bin', 'block-cascade.js'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fake-block-cascade', type: 'module' }));
    const built = join(dir, 'dist', 'src', 'cli', 'main.js');
    const source = join(dir, 'src', 'cli', 'main.ts');
    mkdirSync(dirname(built), { recursive: true });
    mkdirSync(dirname(source), { recursive: true });
    writeFileSync(built, "console.log('dist');\n");
    writeFileSync(source, "const from: string = 'source';\nconsole.log(from);\n");
    if (withTsx) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return { dir, built, source };
  }

  const at = (file: string, seconds: number): void => utimesSync(file, seconds, seconds);
  const run = (dir: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [join(dir, 'bin', 'block-cascade.js')], {
      encoding: 'utf8',
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '', ...env },
    });

  it('runs dist/ when it is newer than every source, the sources when one changed since', () => {
    const { dir, built, source } = fakePackage(true);
    const now = Math.floor(Date.now() / 1000);
    at(source, now - 100);
    at(built, now - 50);
    expect(run(dir).stdout.trim()).toBe('dist');
    at(source, now);
    const fromSource = run(dir);
    expect(fromSource.stderr).toBe('');
    expect(fromSource.stdout.trim()).toBe('source');
    // A source file other than the entry counts too.
    at(source, now - 100);
    writeFileSync(join(dir, 'src', 'other.ts'), 'export {};\n');
    at(join(dir, 'src', 'other.ts'), now);
    expect(run(dir).stdout.trim()).toBe('source');
    expect(run(dir, { BLOCK_CASCADE_FROM_SOURCE: '1' }).stdout.trim()).toBe('source');
  });

  it('runs the sources when there is no build', () => {
    const { dir, built } = fakePackage(true);
    rmSync(dirname(dirname(dirname(built))), { recursive: true });
    expect(run(dir).stdout.trim()).toBe('source');
  });

  it('runs dist/ when there are no sources (an installed package)', () => {
    const { dir } = fakePackage(false);
    rmSync(join(dir, 'src'), { recursive: true });
    expect(run(dir).stdout.trim()).toBe('dist');
  });

  it('refuses a stale build without tsx and says to run the build', () => {
    const { dir, built, source } = fakePackage(false);
    const now = Math.floor(Date.now() / 1000);
    at(built, now - 100);
    at(source, now);
    const result = run(dir);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/changed after the last build.*npm run build/);
  });
});
