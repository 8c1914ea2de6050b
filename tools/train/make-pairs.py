"""Teacher pairs for few-step distillation of the first block (tools/train/README.md, run 5).

    /usr/bin/python3 tools/train/make-pairs.py --checkpoint tools/train/runs/run3/checkpoint.pt \
        --out tools/train/data/pairs --count 10240

A video's first block has no context: the model must place a sprite from pure noise. Sampled with 4
steps, run 3 drew one sprite in only 56% of first blocks (ve-ddim; 37% with Euler steps), while
the same weights integrated as a flow ODE with 32 Euler steps drew one in 88% (first-block.py). This script
records that ODE's map: for each pair a seeded noise ε of one block, a prompt drawn from the
training vocabulary, and the ODE's end point x0* (normalised latents), plus the decoded frames
so that `filter-pairs.ts` can keep only the pairs the quality probe accepts. Training on
(ε → x0*) straightens the first block's path so that 4 steps reach a single sprite.

Writes PREFIX.pt (noise, x0, tokens, prompts), PREFIX.u8 (decoded frames, [count, F, 32, 32, 3])
and PREFIX.json (their shape and prompts, for filter-pairs.ts).
"""
import argparse
import itertools
import json
import os
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np
import torch

from model import block_causal_mask, load_checkpoint
from tokens import tokenize

COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white']
SHAPES = ['ball', 'square', 'triangle']
DIRECTIONS = ['left', 'right', 'up', 'down']


@torch.no_grad()
def euler_ode(dit, noise, tokens_context, steps, mask):
    """Integrates the flow from σ = 1 to 0 with `steps` equal Euler steps; returns x0*."""
    b, f = noise.shape[:2]
    positions = torch.arange(f).float()[None].repeat(b, 1)
    x = noise
    sigmas = [1.0 - i / steps for i in range(steps)] + [0.0]
    for s, s_next in zip(sigmas, sigmas[1:]):
        x0 = dit.train_x0(x, torch.full((b, f), s * 1000.0), positions, tokens_context, mask)
        x = x + (s_next - s) * (x - x0) / s
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--out', required=True, help='output prefix')
    ap.add_argument('--count', type=int, default=8192)
    ap.add_argument('--steps', type=int, default=32, help='Euler steps of the teacher ODE')
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--seed', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))

    _, c, dit, text, dec = load_checkpoint(args.checkpoint)
    f = c.frames_per_block
    mask = block_causal_mask(c, 1)
    prompts_all = [f'{col} {shape} moving {d}' for col, shape, d in itertools.product(COLOURS, SHAPES, DIRECTIONS)]
    gen = torch.Generator().manual_seed(args.seed)
    noises, x0s, toks, prompts, frames = [], [], [], [], []
    started = time.time()
    for start in range(0, args.count, args.batch):
        b = min(args.batch, args.count - start)
        pick = torch.randint(0, len(prompts_all), (b,), generator=gen)
        batch_prompts = [prompts_all[i] for i in pick.tolist()]
        tokens = torch.tensor([tokenize(p, c.max_tokens) for p in batch_prompts])
        noise = torch.randn((b, f, c.channels, c.latent, c.latent), generator=gen)
        with torch.no_grad():
            context = text(tokens)[:, None].repeat(1, f, 1, 1)
            x0 = euler_ode(dit, noise, context, args.steps, mask)
            rgb = dec(x0.reshape(-1, c.channels, c.latent, c.latent))
        u8 = ((rgb.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
        noises.append(noise.half())
        x0s.append(x0.half())
        toks.append(tokens)
        prompts += batch_prompts
        frames.append(u8.reshape(b, f, c.video, c.video, 3))
        print(f'[{time.time() - started:6.0f}s] {start + b}/{args.count} pairs', flush=True)
    torch.save({'noise': torch.cat(noises), 'x0': torch.cat(x0s), 'tokens': torch.cat(toks), 'prompts': prompts,
                'teacher': args.checkpoint, 'steps': args.steps, 'seed': args.seed}, args.out + '.pt')
    np.concatenate(frames).tofile(args.out + '.u8')
    with open(args.out + '.json', 'w') as out:
        json.dump({'count': len(prompts), 'frames': f, 'height': c.video, 'width': c.video, 'prompts': prompts}, out)


if __name__ == '__main__':
    main()
