/**
 * Loading of a model package folder: the manifest, the files it names, and a check of every
 * ONNX graph's real inputs and outputs against the contract derived from the manifest.
 *
 * ONNX Runtime 1.30's Node API reports each input's and output's element type and shape
 * (`session.inputMetadata` / `outputMetadata`: numbers for fixed dims, strings for symbolic
 * ones), so no protobuf parsing is needed at run time.
 */
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { MANIFEST_FILE, packageGraphs, type DimSpec, type GraphSpec, type PackageGraph, type TensorSpec } from './contract.js';
import { ModelPackageError, issue, modelPackageError, type ModelPackageIssue } from './errors.js';
import { fileIdentity, passedBefore, recall, remember, rememberPass } from './graph-check-cache.js';
import { siblingModule } from '../../core/source-modules.js';
import type { ModelManifest } from '../../core/manifest-types.js';

/** Absolute paths of a package's files. */
export interface ModelPaths {
  readonly manifest: string;
  readonly denoiser: string;
  /**
   * The layered form as parallel per-layer arrays (what a lane loads into session arrays):
   * `layers[i]` is layer i's `block` graph (`layer_<i>.onnx`), `keyValues[i]` its `kv` graph
   * (`layer_<i>_kv.onnx`); see `files.layered.layers` in the manifest.
   */
  readonly layered: {
    readonly embed: string;
    readonly layers: readonly string[];
    readonly keyValues: readonly string[];
    readonly head: string;
  };
  readonly textEncoder: string;
  readonly vaeDecoder: string;
}

/** A loaded (and by default validated) model package. */
export interface ModelPackage {
  /** Absolute path of the package folder. */
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly paths: ModelPaths;
}

export interface LoadModelPackageOptions {
  /**
   * Open every ONNX file and check its inputs and outputs against the contract (default
   * true). Worth turning off where the same package was already validated, e.g. in lane
   * workers after the main thread validated it.
   */
  readonly validateGraphs?: boolean;
}

/**
 * Reads and decodes `dir/model.json`. A manifest whose exact bytes this decoder decoded before,
 * in this process or an earlier one, is taken from the cache (`graph-check-cache.ts`) without
 * loading Effect Schema, whose modules take 0.3–0.5 s of a process's start (a worker restart).
 *
 * @param env - Where the cache is (`BLOCK_CASCADE_CACHE_DIR`; default `process.env`).
 * @throws {ModelPackageError} `E_MODEL_MANIFEST_UNREADABLE` or `E_MODEL_MANIFEST_INVALID`.
 * @example
 * ```ts
 * const manifest = await readManifest('models/sprites');
 * ```
 */
export async function readManifest(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<ModelManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file is missing' : `cannot be read (${String(cause)})`;
    throw modelPackageError('E_MODEL_MANIFEST_UNREADABLE', file, undefined, why, { cause });
  }
  // Bytes that decoded before parse and decode the same: the remembered value stands for both.
  const key = await manifestKey(text);
  const remembered = decoded.get(key) ?? (await recall(key, env));
  if (remembered) {
    try {
      return JSON.parse(remembered) as ModelManifest;
    } catch {
      // A damaged entry: decoded again below, and written again.
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw modelPackageError('E_MODEL_MANIFEST_UNREADABLE', file, undefined, `is not valid JSON (${(cause as Error).message})`, { cause });
  }
  const { decodeManifest } = await import('./manifest.js');
  const manifest = decodeManifest(json, file);
  const value = JSON.stringify(manifest);
  decoded.set(key, value);
  await remember(key, value, env);
  return manifest;
}

/** Manifests decoded in this process, by {@link manifestKey}: JSON of the decoded value. */
const decoded = new Map<string, string>();

/** The decoder's identity: its own module's bytes, so that a changed decoder never takes an old result. */
let decoderId: Promise<string> | null = null;

/**
 * The cache key of a manifest's bytes for this decoder.
 *
 * @example
 * ```ts
 * await recall(await manifestKey(await readFile('models/sprites/model.json', 'utf8')));
 * ```
 */
export async function manifestKey(text: string): Promise<string> {
  decoderId ??= readFile(siblingModule(import.meta.url, './manifest').file).then((bytes) => sha256(bytes));
  return `manifest decoded by ${await decoderId}: ${sha256(text)}`;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

function pathsOf(dir: string, m: ModelManifest): ModelPaths {
  const at = (f: string) => join(dir, f);
  return {
    manifest: at(MANIFEST_FILE),
    denoiser: at(m.files.denoiser),
    layered: {
      embed: at(m.files.layered.embed),
      layers: m.files.layered.layers.map((l) => at(l.block)),
      keyValues: m.files.layered.layers.map((l) => at(l.kv)),
      head: at(m.files.layered.head),
    },
    textEncoder: at(m.files.textEncoder),
    vaeDecoder: at(m.files.vaeDecoder),
  };
}

/**
 * Loads a model package: decodes its manifest, checks that every file it names exists and,
 * unless `validateGraphs` is false, validates every ONNX graph with {@link validateModelGraphs}.
 *
 * @param dir - The package folder (relative paths resolve against the working directory;
 *   error messages show them as given).
 * @throws {ModelPackageError} naming the file, and the field, input or output that is wrong.
 *
 * @example
 * ```ts
 * const pkg = await loadModelPackage('models/random');
 * const session = await InferenceSession.create(pkg.paths.denoiser);
 * ```
 */
export async function loadModelPackage(dir: string, options: LoadModelPackageOptions = {}): Promise<ModelPackage> {
  const manifest = await readManifest(dir);
  const missing: ModelPackageIssue[] = [];
  for (const g of packageGraphs(manifest)) {
    const file = join(dir, g.file);
    try {
      await access(file);
    } catch {
      missing.push(issue(file, g.field, `file is missing (named by ${MANIFEST_FILE} ${g.field})`));
    }
  }
  const [first, ...rest] = missing;
  if (first !== undefined) throw new ModelPackageError('E_MODEL_FILE_MISSING', [first, ...rest]);
  if (options.validateGraphs ?? true) await validateModelGraphs(dir, manifest);
  const abs = resolve(dir);
  return { dir: abs, manifest, paths: pathsOf(abs, manifest) };
}

type Metadata = InferenceSession.ValueMetadata;

function describeDim(d: DimSpec): string {
  return d.kind === 'static' ? String(d.size) : d.symbol;
}

function isDynamic(dim: number | string): boolean {
  return typeof dim === 'string' || dim < 0;
}

function checkTensor(
  file: string, kind: 'input' | 'output', spec: TensorSpec, meta: Metadata, issues: ModelPackageIssue[],
): void {
  const bad = (message: string) => issues.push(issue(file, spec.name, `${kind} "${spec.name}" ${message}`));
  if (!meta.isTensor) {
    bad('is not a tensor');
    return;
  }
  if (meta.type !== spec.type) bad(`has element type ${meta.type} but the contract needs ${spec.type}`);
  const want = `[${spec.dims.map(describeDim).join(', ')}]`;
  if (meta.shape.length === 0) {
    bad(`declares no shape; the contract needs ${want}`);
    return;
  }
  if (meta.shape.length !== spec.dims.length) {
    bad(`has rank ${meta.shape.length} [${meta.shape.join(', ')}] but the contract needs rank ${spec.dims.length} ${want}`);
    return;
  }
  spec.dims.forEach((d, i) => {
    const got = meta.shape[i] as number | string;
    if (d.kind === 'dynamic') {
      if (!isDynamic(got)) bad(`dim ${i} is fixed to ${got} but must be dynamic (${d.symbol}) in ${want}`);
    } else if (!isDynamic(got) && got !== d.size) {
      // A symbolic dim where the contract has a fixed size cannot disagree: it is accepted.
      const source = d.field === undefined ? 'the contract needs' : `${MANIFEST_FILE} ${d.field} is`;
      bad(`dim ${i} is ${got} but ${source} ${d.size}`);
    }
  });
}

function checkGraph(file: string, spec: GraphSpec, session: InferenceSession): ModelPackageIssue[] {
  const issues: ModelPackageIssue[] = [];
  const sides = [
    ['input', spec.inputs, session.inputMetadata],
    ['output', spec.outputs, session.outputMetadata],
  ] as const;
  for (const [kind, specs, metas] of sides) {
    for (const s of specs) {
      const meta = metas.find((m) => m.name === s.name);
      if (meta === undefined) {
        const names = metas.map((m) => `"${m.name}"`).join(', ');
        issues.push(issue(file, s.name, `${kind} "${s.name}" is missing (the graph's ${kind}s are ${names || 'none'})`));
      } else {
        checkTensor(file, kind, s, meta, issues);
      }
    }
  }
  // The runtime feeds only contract inputs: any other input would be left unfed. Extra
  // outputs are harmless (never fetched) and allowed.
  for (const meta of session.inputMetadata) {
    if (!spec.inputs.some((s) => s.name === meta.name)) {
      issues.push(issue(file, meta.name, `input "${meta.name}" is not part of the model contract`));
    }
  }
  return issues;
}

async function openGraph(dir: string, g: PackageGraph): Promise<InferenceSession> {
  const file = join(dir, g.file);
  try {
    return await InferenceSession.create(file, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      // Only the IO metadata is read: skip graph optimisations to open fast.
      graphOptimizationLevel: 'disabled',
    });
  } catch (cause) {
    throw modelPackageError('E_MODEL_GRAPH_UNREADABLE', file, undefined, `ONNX Runtime cannot open it (${String(cause)})`, { cause });
  }
}

/**
 * The VAE decoder's real frame size, when its graph leaves height or width symbolic (so the
 * metadata check above cannot see a disagreement): one run on zero latents of one block. A
 * decoder that makes frames of another size than `video` says would otherwise be read past its
 * end and give black frames.
 */
async function probeDecoderSize(file: string, m: ModelManifest, session: InferenceSession): Promise<ModelPackageIssue[]> {
  const meta = session.outputMetadata.find((o) => o.name === 'frames');
  if (meta === undefined || !meta.isTensor || (!isDynamic(meta.shape[3] as number | string) && !isDynamic(meta.shape[4] as number | string))) return [];
  const dims = [1, m.framesPerBlock, m.latent.channels, m.latent.height, m.latent.width];
  const latents = new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  let shape: readonly number[];
  try {
    shape = ((await session.run({ latents })) as Record<string, Tensor>)['frames']?.dims ?? [];
  } catch (cause) {
    return [issue(file, 'frames', `cannot be run on zero latents of one block [${dims.join(', ')}] to check its frame size (${String(cause)})`)];
  }
  const [, frames, channels, height, width] = shape;
  if (shape.length === 5 && frames === m.framesPerBlock && channels === 3 && height === m.video.height && width === m.video.width) return [];
  return [issue(file, 'video', `output "frames" is [${shape.join(', ')}] for one block, but ${MANIFEST_FILE} video is ${m.video.height}×${m.video.width} (height×width) with framesPerBlock ${m.framesPerBlock}: expected [1, ${m.framesPerBlock}, 3, ${m.video.height}, ${m.video.width}]`)];
}

/**
 * Opens every ONNX file of the package with ONNX Runtime and checks its inputs and outputs
 * (names, element types, ranks, fixed dims, and that per-call dims are left dynamic) against
 * the contract that `manifest` implies (see `contract.ts`). All files are checked; the error
 * lists every difference. A package that passed before, in this process or an earlier one
 * (`graph-check-cache.ts`), with the same manifest and every file unchanged since (same inode,
 * size, modification and change times), is not opened again.
 *
 * @throws {ModelPackageError} `E_MODEL_GRAPH_MISMATCH`, e.g.
 *   `models/x/denoiser.onnx: input "latents" dim 2 is 4 but model.json latent.channels is 8`,
 *   or `E_MODEL_GRAPH_UNREADABLE` when a file is not a valid ONNX model.
 *
 * @example
 * ```ts
 * const manifest = await readManifest('models/random');
 * await validateModelGraphs('models/random', manifest);
 * ```
 */
export async function validateModelGraphs(dir: string, manifest: ModelManifest): Promise<void> {
  const key = await filesKey(dir, manifest);
  if (key !== null && (validated.has(key) || (await passedBefore(key)))) return void validated.add(key);
  await checkModelGraphs(dir, manifest);
  if (key === null) return;
  validated.add(key);
  await rememberPass(key);
}

/**
 * Packages that passed {@link checkModelGraphs} in this process, by {@link filesKey}: opening
 * every graph costs 0.2–0.5 s, and services, benches and tests start many runtimes on one
 * package. Earlier processes' passes are on disk (`graph-check-cache.ts`).
 */
const validated = new Set<string>();

/**
 * The manifest and the identity of every graph file (`fileIdentity`). Null when a file cannot be
 * read (the check reports it).
 */
async function filesKey(dir: string, manifest: ModelManifest): Promise<string | null> {
  try {
    const files = await Promise.all(packageGraphs(manifest).map((g) => fileIdentity(resolve(dir, g.file))));
    return JSON.stringify([manifest, files]);
  } catch {
    return null;
  }
}

async function checkModelGraphs(dir: string, manifest: ModelManifest): Promise<void> {
  const issues: ModelPackageIssue[] = [];
  for (const g of packageGraphs(manifest)) {
    const session = await openGraph(dir, g);
    try {
      const found = checkGraph(join(dir, g.file), g.spec, session);
      issues.push(...found);
      if (g.role === 'vaeDecoder' && found.length === 0) issues.push(...(await probeDecoderSize(join(dir, g.file), manifest, session)));
    } finally {
      await session.release();
    }
  }
  const [first, ...rest] = issues;
  if (first !== undefined) throw new ModelPackageError('E_MODEL_GRAPH_MISMATCH', [first, ...rest]);
}
