/**
 * Small node:http helpers: JSON responses, a size-limited body reader and the check of the
 * prompt-switch body, which names the field at fault.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './errors.js';

/** Request bodies are one short prompt: anything larger is a mistake or abuse. */
export const MAX_BODY_BYTES = 4096;
/** Longest prompt accepted; the model reads only its first few words anyway. */
export const MAX_PROMPT_CHARS = 200;

/**
 * Sends `body` as JSON with `status`.
 *
 * @example
 * ```ts
 * sendJson(res, 200, { fromBlock: 12 });
 * ```
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/**
 * Reads a JSON request body of at most {@link MAX_BODY_BYTES} bytes as text.
 *
 * @throws {HttpError} 415 when it is not declared JSON, 413 when it is too large.
 *
 * @example
 * ```ts
 * const text = await readJsonText(req);
 * ```
 */
export async function readJsonText(req: IncomingMessage): Promise<string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `expected Content-Type: application/json, got ${JSON.stringify(req.headers['content-type'] ?? null)}`);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body may be at most ${MAX_BODY_BYTES} bytes, got ${declared}`, '');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // A chunked body has no declared length: count as it comes.
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body may be at most ${MAX_BODY_BYTES} bytes`, '');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A value as short JSON for an error message: cut at 60 characters, and never a stack overflow
 * (JSON.stringify of a value nested thousands deep throws a RangeError).
 */
function brief(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[[[...' : '{...';
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks the body of `POST /sessions/:id/prompt`: a JSON object with exactly one field, `prompt`, a
 * non-empty string of at most {@link MAX_PROMPT_CHARS} characters. Returns the prompt trimmed.
 *
 * @throws {HttpError} 400 naming the field at fault (`""` for the body as a whole).
 *
 * @example
 * ```ts
 * parseSwitchBody('{"prompt": " blue square moving up "}'); // 'blue square moving up'
 * parseSwitchBody('{"promt": "blue"}'); // throws: unknown field "promt" (field: "promt")
 * ```
 */
export function parseSwitchBody(text: string): string {
  const example = '{"prompt": "blue square moving up"}';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'INVALID_JSON', `the body is not valid JSON (${(error as Error).message}); send ${example}`, '');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_BODY', `the body must be a JSON object such as ${example}, got ${Array.isArray(body) ? 'an array' : brief(body)}`, '');
  }
  const record = body as Record<string, unknown>;
  // Unknown fields first: a typo ("promt") is then named as such, not as a missing "prompt".
  const unknown = Object.keys(record).find((key) => key !== 'prompt');
  if (unknown !== undefined) throw new HttpError(400, 'INVALID_FIELD', `unknown field ${JSON.stringify(unknown)}: the body takes only "prompt"`, unknown);
  const prompt = record['prompt'];
  if (prompt === undefined) throw new HttpError(400, 'INVALID_FIELD', `field "prompt" is required: a non-empty string such as "blue square moving up"`, 'prompt');
  if (typeof prompt !== 'string') throw new HttpError(400, 'INVALID_FIELD', `field "prompt": expected a string, got ${brief(prompt)}`, 'prompt');
  const trimmed = prompt.trim();
  if (trimmed === '') throw new HttpError(400, 'INVALID_FIELD', 'field "prompt": expected a non-empty string, got only white space', 'prompt');
  if (trimmed.length > MAX_PROMPT_CHARS) {
    throw new HttpError(400, 'INVALID_FIELD', `field "prompt": expected at most ${MAX_PROMPT_CHARS} characters, got ${trimmed.length}`, 'prompt');
  }
  return trimmed;
}

/**
 * Checks the body of `POST /sessions`: empty, `{}`, or `{"prompt": "…"}` as for a switch.
 * Returns the starting prompt, or undefined for the service's `--prompt`.
 *
 * @throws {HttpError} 400 naming the field at fault.
 *
 * @example
 * ```ts
 * parseOpenBody('{}'); // undefined
 * parseOpenBody('{"prompt": "blue square moving up"}'); // 'blue square moving up'
 * ```
 */
export function parseOpenBody(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0) return undefined;
  } catch {
    // parseSwitchBody names the fault
  }
  return parseSwitchBody(text);
}
