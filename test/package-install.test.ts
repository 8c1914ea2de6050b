/**
 * The package as a user installs it: `npm pack` the project, install the tarball into an empty
 * project with ONNXRUNTIME_NODE_INSTALL=skip (the CPU provider is bundled; no CUDA download),
 * then run the CLI demo with the bundled model, a small ESM script that imports
 * `block-cascade`, and the packed example script. One pack (which builds dist/) and one install:
 * about a minute, most of it tsc and npm.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/**
 * The environment of a user's shell: without what `npm test` exports about this project
 * (npm_package_*, npm_lifecycle_*, prefixes), which would point the nested npm at it.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_https_proxy', 'npm_config_proxy', 'npm_config_noproxy']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())) env[k] = v;
  delete env.ONNXRUNTIME_NODE_INSTALL_CUDA;
  delete env.BLOCK_CASCADE_FROM_SOURCE;
  delete env.BLOCK_CASCADE_ONNX_LOG_LEVEL;
  env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 180_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

const work = mkdtempSync(join(tmpdir(), 'block-cascade-pack-'));
const app = join(work, 'app');
let tarball = '';
let packed = { stdout: '', stderr: '' };
let installed = { stdout: '', stderr: '' };

beforeAll(async () => {
  // npm pack runs `prepare` (the build), so dist/ is the current sources.
  const pack = await run(npm, ['pack', '--pack-destination', work], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  packed = pack;
  const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
  expect(name).toBeDefined();
  tarball = join(work, name as string);
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'block-cascade-user', private: true, type: 'module' }));
  const install = await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
  expect(install.code, install.stderr).toBe(0);
  installed = install;
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package, installed with ONNXRUNTIME_NODE_INSTALL=skip', () => {
  it('packs and installs without npm config warnings and without the CUDA download', () => {
    const all = `${packed.stderr}\n${installed.stdout}\n${installed.stderr}`;
    expect(all).not.toMatch(/Unknown (project|user|env|cli|builtin) config/);
    expect(all).not.toMatch(/Downloading|nuget/i);
    const ortBin = join(app, 'node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch);
    expect(existsSync(join(ortBin, 'onnxruntime_binding.node'))).toBe(true);
    expect(readdirSync(ortBin).filter((f) => /providers_(cuda|shared)/.test(f))).toEqual([]);
  });

  it('ships dist, the bundled model, the schema and the examples, but no sources or tests', async () => {
    const tar = await run('tar', ['-tzf', tarball], work);
    expect(tar.code, tar.stderr).toBe(0);
    const files = tar.stdout.split('\n').filter(Boolean);
    for (const f of ['package/dist/src/index.js', 'package/dist/src/index.d.ts', 'package/bin/block-cascade.js', 'package/schemas/session.schema.json', 'package/examples/sessions/sprite.json', 'package/models/sprites/model.json']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test|tools)\//.test(f))).toEqual([]);
  });

  it('`npx block-cascade run` makes a GIF with the bundled model', async () => {
    const { code, stderr } = await run(npx, ['--no-install', 'block-cascade', 'run', 'node_modules/block-cascade/examples/sessions/sprite.json', '--blocks', '2', '--out', 'x.gif'], app);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/2 blocks, 6 frames/);
    const gif = await readFile(join(app, 'x.gif'));
    expect(gif.subarray(0, 6).toString('latin1')).toBe('GIF89a');
  }, 120_000);

  it("an ESM script imports block-cascade's compiled API, its schema, and gets the CUDA error when the provider is not installed", async () => {
    writeFileSync(
      join(app, 'api.mjs'),
      `import { createRuntime, LaneError } from 'block-cascade';
const runtime = await createRuntime({ warmUp: false });
let frames = 0;
try {
  for await (const frame of runtime.generate({ prompt: 'red ball moving left', blocks: 2, seed: 1 })) frames += frame.rgb.length === frame.width * frame.height * 3 ? 1 : 0;
} finally {
  await runtime.close();
}
let cuda = null;
try {
  await (await createRuntime({ lanes: [{ device: 'cuda:0', threads: 1 }], warmUp: false })).close();
} catch (error) {
  cuda = { laneError: error instanceof LaneError, message: error.message };
}
console.log(JSON.stringify({ frames, entry: import.meta.resolve('block-cascade'), schema: import.meta.resolve('block-cascade/schemas/session.schema.json'), cuda }));
`,
    );
    const { code, stdout, stderr } = await run(process.execPath, ['api.mjs'], app);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim()) as { frames: number; entry: string; schema: string; cuda: { laneError: boolean; message: string } | null };
    expect(result.frames).toBe(6);
    expect(result.entry).toBe(pathToFileURL(join(app, 'node_modules/block-cascade/dist/src/index.js')).href);
    expect(existsSync(new URL(result.schema))).toBe(true);
    if (process.platform === 'linux' && process.arch === 'x64') {
      expect(result.cuda).toMatchObject({ laneError: true, message: expect.stringContaining('the CUDA execution provider is not installed') });
    }
    expect(stderr).not.toMatch(/onnxruntime:|\x1b\[/);
  }, 120_000);

  it('the packed example script runs against the compiled package (tsx from this checkout)', async () => {
    const tsx = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    const { code, stdout, stderr } = await run(process.execPath, ['--import', tsx, 'node_modules/block-cascade/examples/scripted.ts', 'node_modules/block-cascade/examples/sessions/switch.json', 's.gif'], app);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('end: 10 blocks');
  }, 120_000);
});
