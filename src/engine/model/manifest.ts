/**
 * Decoding of an untrusted `model.json` into a {@link ModelManifest}: the shape of every field
 * (Effect Schema), then the relations between fields that a schema cannot express.
 */
import type * as SchemaTypes from 'effect/Schema';
import { ModelPackageError, issue, type ModelPackageIssue } from './errors.js';
import type { ModelManifest } from '../../core/manifest-types.js';
import { effectSchema } from '../../protocol/effect-schema.js';
import { show } from '../../protocol/json-value.js';

// This module is imported only to decode a manifest (`loader.ts`), so Effect loads with it.
const { Schema, Either, ParseResult } = effectSchema();

/** The only manifest format this runtime reads. */
export const MANIFEST_FORMAT = 'block-cascade/model@2';

/** Formats this runtime knows but no longer reads, with why. */
const RETIRED_FORMATS: Readonly<Record<string, string>> = {
  'block-cascade/model@1':
    'model format 1 is no longer supported (its layer graphs took past_key/past_value and recomputed their own K/V; ' +
    `format 2 splits each layer into layer_<i>_kv and layer_<i>, listed as files.layered.layers[i].kv/.block): ` +
    'rebuild the package with `npx tsx tools/model-builder/cli.ts --out <dir>` (or re-export it to format 2)',
};

/** A leaf's message replaces every message from inside it (e.g. "expected number" of a refinement's base). */
const expect = (message: string) => ({ message: () => ({ message, override: true }) });
/** A container's message applies only when the container itself is wrong, keeping its fields' own messages. */
const expectContainer = (message: string) => ({ message: () => message });

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive()).annotations(expect('expected a positive integer'));
const NonNegativeInt = Schema.Number.pipe(Schema.int(), Schema.nonNegative()).annotations(
  expect('expected a non-negative integer'),
);
const PositiveNumber = Schema.Number.pipe(Schema.finite(), Schema.positive()).annotations(expect('expected a positive number'));
const Timestep = Schema.Number.pipe(Schema.finite(), Schema.greaterThan(0), Schema.lessThanOrEqualTo(1000)).annotations(
  expect('expected a number in (0, 1000]'),
);
const Name = Schema.String.pipe(Schema.minLength(1)).annotations(expect('expected a non-empty string'));
const FileName = Schema.String.pipe(
  Schema.minLength(1),
  // A file of the package: relative, inside the folder.
  Schema.filter((s) => !s.startsWith('/') && !s.includes('\\') && !s.split('/').includes('..')),
).annotations(expect('expected a relative file name inside the model folder'));
const Bool = Schema.Boolean.annotations(expect('expected true or false'));
const struct = <F extends SchemaTypes.Struct.Fields>(fields: F) =>
  Schema.Struct(fields).annotations(expectContainer('expected an object'));
const array = <S extends SchemaTypes.Schema.Any>(item: S, what: string) =>
  Schema.Array(item).annotations(expectContainer(`expected an array of ${what}`));

const ManifestSchema = struct({
  format: Schema.Literal(MANIFEST_FORMAT).annotations(expect(`expected "${MANIFEST_FORMAT}"`)),
  name: Name,
  latent: struct({ channels: PositiveInt, height: PositiveInt, width: PositiveInt }),
  video: struct({ height: PositiveInt, width: PositiveInt }),
  framesPerBlock: PositiveInt,
  patchSize: PositiveInt,
  tokensPerFrame: PositiveInt,
  width: PositiveInt,
  layers: PositiveInt,
  heads: PositiveInt,
  headDim: PositiveInt,
  text: struct({
    vocabulary: array(Name, 'non-empty strings'),
    maxTokens: PositiveInt,
    contextDim: PositiveInt,
  }),
  sampler: struct({
    shift: PositiveNumber,
    timesteps: array(Timestep, 'numbers in (0, 1000]'),
    warp: Bool,
    update: Schema.optionalWith(Schema.Literal('renoise', 'euler', 've-ddim').annotations(expect('expected "renoise", "euler" or "ve-ddim"')), { exact: true }),
  }),
  kv: struct({
    sinkFrames: NonNegativeInt,
    windowFrames: PositiveInt,
    recache: Schema.optionalWith(Schema.Literal('on', 'off').annotations(expect('expected "on" or "off"')), { exact: true }),
  }),
  files: struct({
    denoiser: FileName,
    layered: struct({
      embed: FileName,
      layers: array(struct({ kv: FileName, block: FileName }), 'objects { kv, block }'),
      head: FileName,
    }),
    textEncoder: FileName,
    vaeDecoder: FileName,
  }),
});

/** The value at `path` inside `root`, or undefined. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function crossFieldIssues(file: string, m: ModelManifest): ModelPackageIssue[] {
  const issues: ModelPackageIssue[] = [];
  const bad = (field: string, message: string) => issues.push(issue(file, field, `field "${field}": ${message}`));
  const p = m.patchSize;
  if (m.latent.height % p !== 0) bad('patchSize', `${p} does not divide latent.height ${m.latent.height}`);
  if (m.latent.width % p !== 0) bad('patchSize', `${p} does not divide latent.width ${m.latent.width}`);
  const tokens = (m.latent.height / p) * (m.latent.width / p);
  if (m.tokensPerFrame !== tokens) {
    bad('tokensPerFrame', `is ${m.tokensPerFrame} but (latent.height / patchSize) · (latent.width / patchSize) is ${tokens}`);
  }
  if (m.heads * m.headDim !== m.width) {
    bad('headDim', `heads · headDim is ${m.heads} · ${m.headDim} = ${m.heads * m.headDim} but width is ${m.width}`);
  }
  if (m.headDim % 2 !== 0) bad('headDim', `is ${m.headDim}, must be even for rotary embeddings`);
  if (m.files.layered.layers.length !== m.layers) {
    bad('files.layered.layers', `lists ${m.files.layered.layers.length} layers but layers is ${m.layers}`);
  }
  if (m.text.vocabulary.length < 2) bad('text.vocabulary', 'needs at least the padding word and the unknown word');
  const ts = m.sampler.timesteps;
  if (ts.length === 0) bad('sampler.timesteps', 'is empty');
  for (let i = 1; i < ts.length; i++) {
    if ((ts[i] as number) >= (ts[i - 1] as number)) {
      bad(`sampler.timesteps.${i}`, `timesteps must be strictly descending, got ${show(ts)}`);
      break;
    }
  }
  return issues;
}

/**
 * Decodes parsed JSON into a manifest, checking every field and the relations between them.
 *
 * @param json - The parsed, untrusted content of `model.json`.
 * @param file - Path of the manifest, used in error messages.
 * @throws {ModelPackageError} `E_MODEL_MANIFEST_INVALID`, one issue per bad field, each naming
 *   the file and the field path, e.g.
 *   `models/x/model.json: field "latent.channels": expected a positive integer, got "4"`;
 *   a format-1 manifest gets a single issue on `format` that says to rebuild the package.
 *
 * @example
 * ```ts
 * const manifest = decodeManifest(JSON.parse(text), 'models/random/model.json');
 * ```
 */
export function decodeManifest(json: unknown, file: string): ModelManifest {
  const format = valueAt(json, ['format']);
  const retired = typeof format === 'string' && Object.hasOwn(RETIRED_FORMATS, format) ? RETIRED_FORMATS[format] : undefined;
  if (retired !== undefined) {
    throw new ModelPackageError('E_MODEL_MANIFEST_INVALID', [issue(file, 'format', `field "format": ${retired}`)]);
  }
  const decoded = Schema.decodeUnknownEither(ManifestSchema, { errors: 'all', onExcessProperty: 'ignore' })(json);
  if (Either.isLeft(decoded)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((i): ModelPackageIssue => {
      const field = i.path.map(String).join('.');
      const got = i._tag === 'Missing' ? '' : `, got ${show(valueAt(json, i.path))}`;
      const text = i._tag === 'Missing' ? 'is missing' : `${i.message}${got}`;
      return field === '' ? issue(file, undefined, `${text}`) : issue(file, field, `field "${field}": ${text}`);
    });
    throw new ModelPackageError('E_MODEL_MANIFEST_INVALID', toNonEmpty(issues, file));
  }
  const manifest: ModelManifest = decoded.right;
  const issues = crossFieldIssues(file, manifest);
  if (issues.length > 0) throw new ModelPackageError('E_MODEL_MANIFEST_INVALID', toNonEmpty(issues, file));
  return manifest;
}

function toNonEmpty(issues: ModelPackageIssue[], file: string): [ModelPackageIssue, ...ModelPackageIssue[]] {
  const [first, ...rest] = issues;
  return first === undefined ? [issue(file, undefined, 'invalid manifest')] : [first, ...rest];
}
