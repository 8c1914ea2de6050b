/** What the options resolver must know of a model: its steps, re-cache default, executors and vocabulary. */
import type { ModelManifest } from '../core/manifest-types.js';
import type { ResolveContext } from '../core/options.js';
import { EXECUTORS } from '../engine/executors/registry.js';
import { checkPromptWords, type PromptCheckOptions } from '../engine/model/tokenizer.js';

/**
 * The resolver's context for a model on `lanes` lanes. With the model's `text`, prompts are
 * checked against its vocabulary and token limit (the tokenizer's {@link checkPromptWords}).
 *
 * @example
 * ```ts
 * resolveSettings({ parallelism: 4 }, resolveContextFor(manifest, 2));
 * resolveGeneration(request, [], resolveContextFor(manifest, 1, { allowUnknownWords: true }));
 * ```
 */
export function resolveContextFor(m: Pick<ModelManifest, 'sampler' | 'kv'> & { readonly text?: ModelManifest['text'] }, lanes: number, words: PromptCheckOptions = {}): ResolveContext {
  const { text } = m;
  return {
    lanes,
    executors: EXECUTORS,
    defaultSteps: m.sampler.timesteps.length,
    ...(m.kv.recache ? { defaultRecache: m.kv.recache } : {}),
    layered: true,
    ...(text ? { checkWords: (field: string, prompt: string) => checkPromptWords(field, prompt, text, words) } : {}),
  };
}
