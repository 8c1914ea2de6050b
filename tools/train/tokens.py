"""Prompt vocabulary and the contract's tokenizer rule (docs/model-contract.md, "Tokenizer
rule"; the runtime's copy is src/engine/model/tokenizer.ts)."""
import re

VOCABULARY = [
    '<pad>', '<unk>', 'red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'ball', 'square',
    'triangle', 'left', 'right', 'up', 'down', 'moving', 'a', 'the', 'slowly', 'quickly', 'and',
]
_INDEX = {w: i for i, w in enumerate(VOCABULARY)}


def tokenize(prompt, max_tokens):
    words = [w for w in re.split(r'[^a-z]+', prompt.lower()) if w]
    ids = [_INDEX[w] if w in _INDEX and _INDEX[w] > 1 else 1 for w in words][:max_tokens]
    return ids + [0] * (max_tokens - len(ids))


def flip_prompt(prompt):
    """The prompt of a clip's horizontal mirror image."""
    swap = {'left': 'right', 'right': 'left'}
    return ' '.join(swap.get(w, w) for w in prompt.split(' '))
