/**
 * The prompt tokenizer of the model contract, the one every entry point uses (API, live and
 * scheduled switches, session files, CLI, the embed service): lower-case, split on anything that
 * is not a letter, look each word up in the manifest's vocabulary, then pad with 0.
 *
 * Prompts are checked first ({@link checkPromptWords}): a word the vocabulary lacks would be read
 * as `<unk>` and words past `maxTokens` would be cut, both silently, so both are refused unless
 * the caller allows unknown words.
 */
import type { ModelManifest } from '../../core/manifest-types.js';
import { PromptTooLongError, UnknownWordsError } from '../../core/errors.js';

/** Token id of the padding word (`vocabulary[0]`). */
export const PAD_TOKEN = 0;
/** Token id of words that are not in the vocabulary (`vocabulary[1]`). */
export const UNKNOWN_TOKEN = 1;

/** The parts of a manifest's `text` the tokenizer reads. */
export type PromptVocabulary = Pick<ModelManifest['text'], 'vocabulary' | 'maxTokens'>;

/** How strictly a prompt is checked. */
export interface PromptCheckOptions {
  /** Read words the vocabulary lacks as `<unk>` instead of refusing the prompt. Default false. */
  readonly allowUnknownWords?: boolean | undefined;
}

const indexes = new WeakMap<readonly string[], ReadonlyMap<string, number>>();

function indexOf(vocabulary: readonly string[]): ReadonlyMap<string, number> {
  let index = indexes.get(vocabulary);
  if (index === undefined) {
    const map = new Map<string, number>();
    // The first occurrence of a word wins; the special words 0 and 1 never match a word.
    vocabulary.forEach((word, i) => {
      if (i > UNKNOWN_TOKEN && !map.has(word)) map.set(word, i);
    });
    index = map;
    indexes.set(vocabulary, index);
  }
  return index;
}

/**
 * The words of a prompt as the model reads them: lower case, split on anything not a letter.
 *
 * @example
 * ```ts
 * promptWords('A red ball, moving left!'); // ['a', 'red', 'ball', 'moving', 'left']
 * ```
 */
export function promptWords(prompt: string): string[] {
  return prompt.toLowerCase().split(/[^\p{L}]+/u).filter((word) => word !== '');
}

/**
 * The words a model knows: its vocabulary without the padding and unknown entries.
 *
 * @example
 * ```ts
 * knownWords(manifest.text.vocabulary); // ['a', 'red', 'green', …]
 * ```
 */
export function knownWords(vocabulary: readonly string[]): string[] {
  return [...indexOf(vocabulary).keys()];
}

/**
 * Words of `prompt` the vocabulary lacks, each once, in prompt order.
 *
 * @example
 * ```ts
 * unknownWords('Blue squirrel moving up', manifest.text.vocabulary); // ['squirrel']
 * ```
 */
export function unknownWords(prompt: string, vocabulary: readonly string[]): string[] {
  const index = indexOf(vocabulary);
  return [...new Set(promptWords(prompt).filter((word) => !index.has(word)))];
}

/**
 * Checks that the model can read `prompt` as written: every word in its vocabulary (unless
 * `allowUnknownWords`) and at most `maxTokens` words. Call it before any work starts.
 *
 * @param field - How the prompt is named in the error (`switches[1].prompt`).
 * @throws {UnknownWordsError} naming the unknown words and listing the vocabulary.
 * @throws {PromptTooLongError} naming the model's token limit.
 *
 * @example
 * ```ts
 * checkPromptWords('prompt', 'red ball moving left', manifest.text); // passes
 * checkPromptWords('prompt', 'red squirrel', manifest.text); // throws UnknownWordsError (unknownWords: ['squirrel'])
 * checkPromptWords('prompt', 'red squirrel', manifest.text, { allowUnknownWords: true }); // passes
 * ```
 */
export function checkPromptWords(field: string, prompt: string, text: PromptVocabulary, options: PromptCheckOptions = {}): void {
  const words = promptWords(prompt);
  if (options.allowUnknownWords !== true) {
    const unknown = unknownWords(prompt, text.vocabulary);
    if (unknown.length > 0) throw new UnknownWordsError(field, unknown, knownWords(text.vocabulary));
  }
  if (words.length > text.maxTokens) throw new PromptTooLongError(field, words.length, text.maxTokens);
}

/**
 * Token ids of `prompt`, exactly `text.maxTokens` long, ready for the text encoder's `tokens`
 * input (one row). It does not check: unknown words become {@link UNKNOWN_TOKEN} and words past
 * the limit are dropped, so callers run {@link checkPromptWords} first.
 *
 * @example
 * ```ts
 * tokenizePrompt('A red ball, moving left!', manifest.text);
 * // BigInt64Array [17n, 2n, 9n, 16n, 12n, 0n, 0n, 0n] with the default vocabulary
 * ```
 */
export function tokenizePrompt(prompt: string, text: PromptVocabulary): BigInt64Array {
  const index = indexOf(text.vocabulary);
  const out = new BigInt64Array(text.maxTokens); // zero-filled: padding
  let n = 0;
  for (const word of promptWords(prompt)) {
    if (n === out.length) break;
    out[n++] = BigInt(index.get(word) ?? UNKNOWN_TOKEN);
  }
  return out;
}
