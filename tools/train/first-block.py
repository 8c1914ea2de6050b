"""How often a checkpoint draws its first block (no context) as one sprite, per sampler.

    /usr/bin/python3 tools/train/first-block.py CHECKPOINT [PER_PROMPT]

Samples the first block of 4 prompts × PER_PROMPT (default 32) noises (seed 0) in PyTorch with
4 steps (σ = 1, 0.75, 0.5, 0.25; the ve-ddim and euler updates of docs/model-contract.md) and
with 8 and 32 Euler steps, decodes it and counts the blocks whose 3 frames each show exactly
one blob (the quality probe's foreground rule: brightest channel > 60, 8-connected on the
torus, blobs of 4+ pixels). README.md, run 5, says what it showed.
"""
import os
import sys

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import numpy as np
import torch

from model import PACKAGE_SIGMAS, block_causal_mask, load_checkpoint
from tokens import tokenize

PROMPTS = ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down']
FOREGROUND = 60
MIN_BLOB = 4


def count_blobs(img):
    """img uint8 [H, W, 3] -> blobs of MIN_BLOB+ foreground pixels (8-connected, on the torus)."""
    mask = img.max(axis=2) > FOREGROUND
    seen = np.zeros_like(mask)
    h, w = mask.shape
    blobs = 0
    for y in range(h):
        for x in range(w):
            if not mask[y, x] or seen[y, x]:
                continue
            stack, size = [(y, x)], 0
            seen[y, x] = True
            while stack:
                a, b = stack.pop()
                size += 1
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        u, v = (a + dy) % h, (b + dx) % w
                        if mask[u, v] and not seen[u, v]:
                            seen[u, v] = True
                            stack.append((u, v))
            blobs += size >= MIN_BLOB
    return blobs


@torch.no_grad()
def one_blob_share(models, c, per, sigmas, update):
    """Share of first blocks, per prompt, whose frames each show one blob."""
    dit, text, dec = models
    b, f = per * len(PROMPTS), c.frames_per_block
    tokens = torch.tensor([tokenize(p, c.max_tokens) for p in PROMPTS for _ in range(per)])
    context = text(tokens)[:, None].repeat(1, f, 1, 1)
    positions = torch.arange(f).float()[None].repeat(b, 1)
    mask = block_causal_mask(c, 1)
    x = torch.randn((b, f, c.channels, c.latent, c.latent), generator=torch.Generator().manual_seed(0))
    for i, s in enumerate(sigmas):
        s_next = sigmas[i + 1] if i + 1 < len(sigmas) else 0.0
        x0 = dit.train_x0(x, torch.full((b, f), s * 1000.0), positions, context, mask)
        if update == 'euler':
            x = x + (s_next - s) * (x - x0) / s
        else:  # ve-ddim: x0 + σ′·ε̂
            x = x0 + s_next * (x - (1 - s) * x0) / s
    rgb = dec(x.reshape(-1, c.channels, c.latent, c.latent))
    u8 = ((rgb.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8).reshape(b, f, c.video, c.video, 3)
    one = np.array([all(count_blobs(u8[i, j]) == 1 for j in range(f)) for i in range(b)])
    return one.reshape(len(PROMPTS), per).mean(axis=1)


def main():
    torch.set_num_threads(1)
    _, c, dit, text, dec = load_checkpoint(sys.argv[1])
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    for name, sigmas, update in [
        ('ve-ddim 4', list(PACKAGE_SIGMAS), 've-ddim'),
        ('euler 4', list(PACKAGE_SIGMAS), 'euler'),
        ('euler 8', [1.0 - i / 8 for i in range(8)], 'euler'),
        ('euler 32', [1.0 - i / 32 for i in range(32)], 'euler'),
    ]:
        share = one_blob_share((dit, text, dec), c, per, sigmas, update)
        print(f'{name:10s} one sprite in the first block: {share.mean():.3f} (per prompt {np.round(share, 2).tolist()})', flush=True)


if __name__ == '__main__':
    main()
