/**
 * The prompt tokenizer of the model contract: lower-case, split on anything that is not a
 * letter, look each word up in the manifest's vocabulary (unknown words → 1), then pad with 0
 * or cut to `maxTokens`.
 */
import type { ModelManifest } from '../../core/manifest-types.js';

/** Token id of the padding word (`vocabulary[0]`). */
export const PAD_TOKEN = 0;
/** Token id of words that are not in the vocabulary (`vocabulary[1]`). */
export const UNKNOWN_TOKEN = 1;

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
 * Token ids of `prompt`, exactly `text.maxTokens` long, ready for the text encoder's `tokens`
 * input (one row).
 *
 * @example
 * ```ts
 * tokenizePrompt('A red ball, moving left!', manifest.text);
 * // BigInt64Array [17n, 2n, 9n, 16n, 12n, 0n, 0n, 0n] with the default vocabulary
 * ```
 */
export function tokenizePrompt(prompt: string, text: ModelManifest['text']): BigInt64Array {
  const index = indexOf(text.vocabulary);
  const out = new BigInt64Array(text.maxTokens); // zero-filled: padding
  let n = 0;
  for (const word of prompt.toLowerCase().split(/[^\p{L}]+/u)) {
    if (word === '') continue;
    if (n === out.length) break;
    out[n++] = BigInt(index.get(word) ?? UNKNOWN_TOKEN);
  }
  return out;
}
