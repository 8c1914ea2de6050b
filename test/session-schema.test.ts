/**
 * schemas/session.schema.json: generated from the Effect schema that decodes session files
 * (`npm run schema`), referenced by every example session, and in agreement with the decoder.
 * A small draft-07 validator (the keywords the generated schema uses, and no others) checks
 * files against it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSessionFile, sessionFields, SessionFileError, sessionJsonSchema } from '../src/protocol/session-file.js';

const SCHEMA_FILE = 'schemas/session.schema.json';
const DIR = 'examples/sessions';

type JsonSchema = Record<string, unknown>;

/** Keywords the validator understands; the schema may use no others. */
const KEYWORDS = new Set(['$schema', 'title', 'description', 'type', 'required', 'properties', 'additionalProperties', 'items', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'pattern']);

function unknownKeywords(schema: JsonSchema, at = '#'): string[] {
  const found = Object.keys(schema).filter((k) => !KEYWORDS.has(k)).map((k) => `${at}/${k}`);
  for (const [name, sub] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) found.push(...unknownKeywords(sub, `${at}/properties/${name}`));
  if (schema.items !== undefined) found.push(...unknownKeywords(schema.items as JsonSchema, `${at}/items`));
  return found;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Errors of `value` against `schema`, as "path: what"; empty when it is valid. */
function validate(schema: JsonSchema, value: unknown, at = '$'): string[] {
  const errors: string[] = [];
  const type = schema.type as string | undefined;
  const actual = typeOf(value);
  if (type !== undefined && actual !== type && !(type === 'number' && actual === 'integer')) return [`${at}: expected ${type}, got ${actual}`];
  if (schema.enum !== undefined && !(schema.enum as unknown[]).includes(value)) errors.push(`${at}: not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errors.push(`${at}: not above ${schema.exclusiveMinimum}`);
  }
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  if (actual === 'array' && schema.items !== undefined) (value as unknown[]).forEach((item, i) => errors.push(...validate(schema.items as JsonSchema, item, `${at}[${i}]`)));
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const key of (schema.required ?? []) as string[]) if (!Object.hasOwn(object, key)) errors.push(`${at}.${key}: missing`);
    for (const [key, v] of Object.entries(object)) {
      if (Object.hasOwn(properties, key)) errors.push(...validate(properties[key] as JsonSchema, v, `${at}.${key}`));
      else if (schema.additionalProperties === false) errors.push(`${at}.${key}: not allowed`);
    }
  }
  return errors;
}

function decodes(json: unknown): boolean {
  try {
    decodeSessionFile(json, 'x.json');
    return true;
  } catch (error) {
    if (error instanceof SessionFileError) return false;
    throw error;
  }
}

const committed = JSON.parse(await readFile(SCHEMA_FILE, 'utf8')) as JsonSchema;

describe('schemas/session.schema.json', () => {
  it('is what `npm run schema` generates from the session schema', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8'), 'run "npm run schema"').toBe(`${JSON.stringify(sessionJsonSchema(), null, 2)}\n`);
  });

  it('is a draft-07 object schema of every session field, closed, using only keywords the validator knows', () => {
    expect(committed.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(committed).toMatchObject({ type: 'object', additionalProperties: false, required: ['seed', 'blocks', 'prompt'] });
    expect(Object.keys(committed.properties as object).sort()).toEqual(['$schema', ...Object.keys(sessionFields())].sort());
    expect(unknownKeywords(committed)).toEqual([]);
  });

  it('every example session names it ("$schema", relative), is valid against it and decodes', async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const json = JSON.parse(await readFile(join(DIR, f), 'utf8')) as Record<string, unknown>;
      expect(json.$schema, f).toBe('../../schemas/session.schema.json');
      expect(existsSync(resolve(DIR, json.$schema as string)), f).toBe(true);
      expect(validate(committed, json), f).toEqual([]);
      expect(decodes(json), f).toBe(true);
    }
  });

  it('agrees with the decoder on what each field may hold', () => {
    const base = { $schema: 'session.schema.json', seed: 0, blocks: 4, prompt: 'red ball moving left' };
    const good: unknown[] = [
      base,
      { seed: 0, blocks: 4, prompt: 'x' },
      { ...base, lanes: 2, parallelism: 4, fps: 100, featureCache: { policy: 'bwcache', threshold: 0.1 }, timeline: [{ atBlock: 2, prompt: 'blue ball moving left' }, { atSecond: 0.5, stop: true }] },
    ];
    const bad: unknown[] = [
      { ...base, $schema: 5 },
      { ...base, seed: -1 },
      { ...base, seed: 1.5 },
      { ...base, blocks: 0 },
      { ...base, blocks: 2.5 },
      { ...base, prompt: '   ' },
      { ...base, prompt: 3 },
      { ...base, model: '' },
      { ...base, lanes: 0 },
      { ...base, fps: 101 },
      { ...base, fps: 0 },
      { ...base, colour: 'red' },
      { ...base, featureCache: { policy: 'bwcache', depth: 2 } },
      { ...base, featureCache: { coefficients: ['a'] } },
      { ...base, timeline: [{ atBlock: 0.5, prompt: 'x' }] },
      { ...base, timeline: [{ atBlock: 2, stop: false }] },
      { ...base, timeline: [{ atBlock: 2, prompt: 'x', colour: 'red' }] },
      { ...base, timeline: 'soon' },
      { seed: 0, blocks: 4 },
    ];
    for (const json of good) {
      expect(validate(committed, json), JSON.stringify(json)).toEqual([]);
      expect(decodes(json), JSON.stringify(json)).toBe(true);
    }
    for (const json of bad) {
      expect(validate(committed, json), JSON.stringify(json)).not.toEqual([]);
      expect(decodes(json), JSON.stringify(json)).toBe(false);
    }
  });

  it('the decoder ignores "$schema"', () => {
    const session = decodeSessionFile({ $schema: '../../schemas/session.schema.json', seed: 1, blocks: 2, prompt: 'x' }, 'x.json');
    expect(session).toEqual({ seed: 1, blocks: 2, prompt: 'x' });
  });
});
