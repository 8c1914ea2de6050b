"""Trains the default model on sprite clips made by tools/train/make-clips.ts.

    /usr/bin/python3 tools/train/train.py --data tools/train/data/clips --out tools/train/runs/main

Two phases, one seed: (1) a patch autoencoder on frames, (2) the text encoder and the
block-causal DiT with flow matching (shift 5) on whole clips, every block at its own noise
level so that the model learns to use partially denoised context (what cascading feeds it).
Runs on CUDA when there is one, else on the CPU (slow: see README.md). Writes
`checkpoint.pt` (EMA weights, config, vocabulary, latent statistics) and `loss.csv`.
"""
import os

# On a CPU, one BLAS pool of two threads beats it fighting torch's own pool (measured here:
# 1.0 s instead of 2.0 s per step of 32 clips); must be set before torch loads.
os.environ.setdefault('OPENBLAS_NUM_THREADS', str(os.cpu_count() or 1))
os.environ.setdefault('OMP_NUM_THREADS', '1')

import argparse
import copy
import csv
import gzip
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import PACKAGE_SIGMAS, Config, DiT, PatchDecoder, PatchEncoder, TextEncoder, block_causal_mask
from tokens import VOCABULARY, flip_prompt, tokenize

SHIFT = 5.0
# σ of the default sampler's steps (timesteps 1000/750/500/250 warped by shift 5): the model
# only ever denoises at these, and sees context at these or at 0.
SAMPLER_SIGMAS = (1.0, 0.9375, 0.8333333, 0.625)


def load_clips(prefix):
    meta = json.load(open(prefix + '.json'))
    with gzip.open(prefix + '.u8.gz', 'rb') as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    n, fr, h, w = meta['count'], meta['frames'], meta['height'], meta['width']
    frames = raw.reshape(n, fr, h, w, 3)
    prompts = [clip['blockPrompts'] for clip in meta['clips']]
    return meta, frames, prompts


def to_unit(frames_u8):
    """uint8 [..., H, W, 3] -> float [..., 3, H, W] in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).float() / 127.5 - 1.0
    return x.movedim(-1, -3)


def train_autoencoder(enc, dec, frames, device, steps, log):
    """frames: float [n,3,H,W] on device. Foreground pixels weigh 10x (sprites are ~8% of a frame)."""
    opt = torch.optim.AdamW(list(enc.parameters()) + list(dec.parameters()), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    for step in range(steps):
        idx = torch.randint(0, frames.shape[0], (512,), device=device)
        x = frames[idx]
        z = enc(x)
        # Noise on the latent makes the decoder tolerate the DiT's imperfect latents.
        y = dec(z + 0.1 * torch.randn_like(z))
        weight = 1.0 + 9.0 * (x.max(dim=1, keepdim=True).values > -0.6).float()
        loss = (weight * (y - x) ** 2).mean() + 1e-3 * (z ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            log(f'ae step {step} loss {loss.item():.5f}')


@torch.no_grad()
def encode_all(enc, frames_u8, device, batch=4096):
    if device.type == 'cpu':
        batch = 256  # big activations are mmap'd and page-faulted on every call
    n, f = frames_u8.shape[:2]
    flat = frames_u8.reshape(n * f, *frames_u8.shape[2:])
    out = []
    for i in range(0, flat.shape[0], batch):
        out.append(enc(to_unit(flat[i:i + batch]).to(device)))
    z = torch.cat(out)
    return z.reshape(n, f, *z.shape[1:])


def sample_sigmas(shape, device, gen):
    """Half from the sampler's own σ, half from the shifted uniform (shift 5)."""
    u = torch.rand(shape, device=device, generator=gen)
    continuous = SHIFT * u / (1 + (SHIFT - 1) * u)
    table = torch.tensor(SAMPLER_SIGMAS, device=device)
    discrete = table[torch.randint(0, len(SAMPLER_SIGMAS), shape, device=device, generator=gen)]
    pick = torch.rand(shape, device=device, generator=gen) < 0.5
    return torch.where(pick, discrete, continuous)


def clip_sigmas(batch, blocks, clean_context, device, gen):
    """Noise levels of a clip's blocks as inference produces them: the first k blocks are clean
    context (the cache) with probability `clean_context` per clip-prefix draw, the rest are in
    flight, older blocks never noisier than newer ones (a cascade's diagonal; P0 is one block in
    flight). Returns σ [batch, blocks] and which blocks carry the loss."""
    k = torch.randint(0, blocks, (batch, 1), device=device, generator=gen)
    # Without a clean prefix the clip starts like a video's first blocks (no context at all).
    k = torch.where(torch.rand((batch, 1), device=device, generator=gen) < clean_context, k, torch.zeros_like(k))
    index = torch.arange(blocks, device=device)[None]
    flying = sample_sigmas((batch, blocks), device, gen).sort(dim=1).values
    sigma = torch.where(index < k, torch.zeros_like(flying), flying)
    return sigma, index >= k


def load_pairs(prefix, device):
    """The teacher pairs that filter-pairs.ts kept: noise ε and the ODE's end point x0* of one
    first block each, with the prompt's tokens."""
    data = torch.load(prefix + '.pt', map_location='cpu')
    kept = torch.tensor(json.load(open(prefix + '.keep.json'))['kept'], dtype=torch.long)
    return {'noise': data['noise'][kept].float().to(device), 'x0': data['x0'][kept].float().to(device),
            'tokens': data['tokens'][kept].to(device), 'teacher': data['teacher'], 'steps': data['steps']}


def first_block_distillation(dit, text, pairs, batch, positions, mask, c, device, gen, amp):
    """Flow matching on the teacher's couplings (σ half on the package's steps, PACKAGE_SIGMAS,
    half uniform in (0, 1)): x_σ = (1 − σ)·x0* + σ·ε for a kept pair (ε, x0*)
    of a first block (no context), so that the path from ε is straight and the few sampler
    steps land on the teacher's single sprite; at σ = 1 the model maps ε to x0* directly."""
    idx = torch.randint(0, pairs['noise'].shape[0], (batch,), device=device, generator=gen)
    noise, x0 = pairs['noise'][idx], pairs['x0'][idx]
    u = torch.rand((batch, 1), device=device, generator=gen)
    table = torch.tensor(PACKAGE_SIGMAS, device=device)
    on_steps = table[torch.randint(0, len(PACKAGE_SIGMAS), (batch, 1), device=device, generator=gen)]
    sigma = torch.where(torch.rand((batch, 1), device=device, generator=gen) < 0.5, on_steps, u).expand(batch, c.frames_per_block)
    s5 = sigma[:, :, None, None, None]
    xt = (1 - s5) * x0 + s5 * noise
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
        ctx = text(pairs['tokens'][idx])[:, None].repeat(1, c.frames_per_block, 1, 1)
        x0_hat = dit.train_x0(xt, sigma * 1000.0, positions, ctx, mask)
    return ((x0_hat.float() - x0) ** 2).mean()


def resume_run(ck):
    """The run record of a checkpoint written before runs were recorded."""
    return {'steps': ck['steps'], 'seconds': round(ck['train_seconds']), 'resumed': False}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='tools/train/data/clips')
    ap.add_argument('--out', default='tools/train/runs/main')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--minutes', type=float, default=8.0, help='DiT training time budget')
    ap.add_argument('--schedule-minutes', type=float, help='length of the cosine learning-rate schedule (default: --minutes); longer stops the run part-way down it')
    ap.add_argument('--ae-steps', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=256)
    ap.add_argument('--lr', type=float, default=4e-4)
    ap.add_argument('--clean-context', type=float, default=0.75, help='probability that a clip has a clean prefix of context blocks')
    ap.add_argument('--resume', help='continue from this checkpoint (its autoencoder, text encoder and DiT)')
    ap.add_argument('--fresh-dit', action='store_true', help='with --resume: keep only its autoencoder; new text encoder and DiT')
    ap.add_argument('--pairs', help='teacher pairs of the first block (make-pairs.py, filter-pairs.ts): PREFIX of PREFIX.pt and PREFIX.keep.json')
    ap.add_argument('--pair-batch', type=int, default=24, help='first blocks distilled per step with --pairs')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    log_file = open(os.path.join(args.out, 'train.log'), 'w')
    started = time.time()

    def log(msg):
        line = f'[{time.time() - started:7.1f}s] {msg}'
        print(line, flush=True)
        log_file.write(line + '\n')
        log_file.flush()

    meta, frames_u8, prompts = load_clips(args.data)
    fpb = meta['framesPerBlock']
    blocks = meta['frames'] // fpb
    c = Config(vocab=len(VOCABULARY), frames_per_block=fpb, video=meta['width'])
    log(f'{meta["count"]} clips of {meta["frames"]} frames {meta["height"]}x{meta["width"]}, device {device}')

    # Horizontal mirror images double the data: "left" becomes "right", nothing else changes.
    mirrored_u8 = frames_u8[:, :, :, ::-1, :]
    all_prompts = prompts + [[flip_prompt(p) for p in clip] for clip in prompts]
    tokens = torch.tensor([[tokenize(p, c.max_tokens) for p in clip] for clip in all_prompts], device=device)

    # Phase 1: autoencoder.
    enc, dec = PatchEncoder(c).to(device), PatchDecoder(c).to(device)
    resume = torch.load(args.resume, map_location=device) if args.resume else None
    if resume is None:
        ae_frames = to_unit(frames_u8[:, :: 2].reshape(-1, meta['height'], meta['width'], 3)).to(device)
        train_autoencoder(enc, dec, ae_frames, device, args.ae_steps, log)
        del ae_frames
    else:
        enc.load_state_dict(resume['encoder'])
        dec.load_state_dict(resume['decoder'])
        log(f'resumed from {args.resume} ({resume["steps"]} steps)')
    enc.eval()
    z = torch.cat([encode_all(enc, frames_u8, device), encode_all(enc, mirrored_u8, device)])
    if resume is None:
        dec.mean.copy_(z.mean(dim=(0, 1, 3, 4)).reshape(1, -1, 1, 1))
        dec.std.copy_(z.std(dim=(0, 1, 3, 4)).reshape(1, -1, 1, 1))
    mean, std = dec.mean, dec.std
    latents = (z - mean[None]) / std[None]  # [n, F, C, h, w]
    log(f'latents {tuple(latents.shape)}, channel std {std.flatten().tolist()}')
    del z

    # Phase 2: text encoder + DiT.
    text, dit = TextEncoder(c).to(device), DiT(c).to(device)
    if resume is not None and not args.fresh_dit:
        text.load_state_dict(resume['text'])
        dit.load_state_dict(resume['dit'])
    params = list(text.parameters()) + list(dit.parameters())
    log(f'DiT {sum(p.numel() for p in dit.parameters())} parameters, text encoder {sum(p.numel() for p in text.parameters())}, '
        f'decoder {sum(p.numel() for p in dec.parameters())}')
    ema_text, ema_dit = copy.deepcopy(text), copy.deepcopy(dit)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    mask = block_causal_mask(c, blocks, device)
    pairs = load_pairs(args.pairs, device) if args.pairs else None
    if pairs is not None:
        log(f'{pairs["noise"].shape[0]} teacher pairs from {args.pairs} (teacher {pairs["teacher"]}, {pairs["steps"]} Euler steps)')
        pair_mask = block_causal_mask(c, 1, device)
        pair_positions = torch.arange(fpb, device=device).float()[None].repeat(args.pair_batch, 1)
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    amp = device.type == 'cuda'
    budget = args.minutes * 60.0
    schedule = (args.schedule_minutes or args.minutes) * 60.0
    t0 = time.time()
    losses = open(os.path.join(args.out, 'loss.csv'), 'w', newline='')
    writer = csv.writer(losses)
    writer.writerow(['step', 'seconds', 'loss', 'loss_sampler_sigmas', 'loss_first_block'])
    step, window, window_s, window_d = 0, [], [], []
    # A resumed run continues the step count and clock of the checkpoint's runs.
    continues = resume is not None and not args.fresh_dit
    step_offset = resume['steps'] if continues else 0
    seconds_offset = resume['train_seconds'] if continues else 0.0
    n = latents.shape[0]
    frames_per_clip = blocks * fpb
    def save_checkpoint():
        torch.save({
            'config': c.as_dict(),
            'vocabulary': VOCABULARY,
            'encoder': enc.state_dict(),
            'decoder': dec.state_dict(),
            'text': ema_text.state_dict(),
            'dit': ema_dit.state_dict(),
            'steps': step + step_offset,
            'train_seconds': time.time() - t0 + seconds_offset,
            'total_seconds': time.time() - started + (resume['total_seconds'] if resume is not None else 0),
            'runs': (resume.get('runs', [resume_run(resume)]) if continues else []) + [{'steps': step, 'seconds': round(time.time() - t0), 'resumed': continues, 'args': vars(args)}],
            'device': str(torch.cuda.get_device_name(0)) if amp else 'cpu',
            'clips': meta['count'],
            'seed': args.seed,
        }, os.path.join(args.out, 'checkpoint.pt'))

    next_save = t0 + 600
    while True:
        elapsed = time.time() - t0
        if elapsed > budget:
            break
        progress = elapsed / schedule
        lr = args.lr * min(1.0, (step + 1) / 500) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g['lr'] = lr
        idx = torch.randint(0, n, (args.batch,), device=device, generator=gen)
        # Shifts by whole latent pixels on the torus: the circular encoder makes these exact.
        dy, dx = (int(v) for v in torch.randint(0, c.latent, (2,), generator=gen, device=device))
        x0 = torch.roll(latents[idx], shifts=(dy, dx), dims=(3, 4))
        sigma, trained = clip_sigmas(args.batch, blocks, args.clean_context, device, gen)
        sigma_f = sigma.repeat_interleave(fpb, dim=1)  # per frame
        trained_f = trained.repeat_interleave(fpb, dim=1)
        noise = torch.randn(x0.shape, device=device, generator=gen)
        s5 = sigma_f[:, :, None, None, None]
        xt = (1 - s5) * x0 + s5 * noise
        offset = torch.randint(0, 200, (args.batch, 1), device=device, generator=gen).float()
        positions = offset + torch.arange(frames_per_clip, device=device).float()[None]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            ctx = text(tokens[idx].reshape(-1, c.max_tokens)).reshape(args.batch, blocks, c.max_tokens, -1)
            ctx = ctx.repeat_interleave(fpb, dim=1)
            x0_hat = dit.train_x0(xt, sigma_f * 1000.0, positions, ctx, mask)
        err = ((x0_hat.float() - x0) ** 2).mean(dim=(2, 3, 4))  # [B, F]
        # Plain x̂0 error (the flow loss |v̂ − v|² = |x̂0 − x0|²/σ² without the 1/σ²): the high σ,
        # where a block must be made from its context, dominate, as they should for 4 steps.
        weight = (trained_f & (sigma_f > 0)).float()
        loss = (weight * err).sum() / weight.gt(0).sum().clamp(min=1)
        distill = first_block_distillation(dit, text, pairs, args.pair_batch, pair_positions, pair_mask, c, device, gen, amp) if pairs is not None else None
        opt.zero_grad(set_to_none=True)
        (loss if distill is None else loss + distill).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(0.999, (1 + step) / (10 + step))
            for ema, live in ((ema_text, text), (ema_dit, dit)):
                ema_params = list(ema.parameters())
                torch._foreach_mul_(ema_params, decay)
                torch._foreach_add_(ema_params, [p.detach() for p in live.parameters()], alpha=1 - decay)
            near = torch.zeros_like(sigma_f, dtype=torch.bool)
            for s in SAMPLER_SIGMAS:
                near |= (sigma_f - s).abs() < 1e-4
            window.append(loss.item())
            if distill is not None:
                window_d.append(distill.item())
            if near.any():
                window_s.append(((err * near).sum() / near.sum()).item())
        step += 1
        if time.time() > next_save:
            save_checkpoint()  # a look at the model mid-run (tools: scratch diagnostics, eval)
            next_save += 600
        if step % 200 == 0:
            writer.writerow([step + step_offset, round(time.time() - t0 + seconds_offset, 1), float(np.mean(window)), float(np.mean(window_s)) if window_s else '', float(np.mean(window_d)) if window_d else ''])
            losses.flush()
            if step % 1000 == 0:
                log(f'step {step} lr {lr:.2e} loss {np.mean(window):.4f} x0-mse at sampler σ {np.mean(window_s):.4f}'
                    + (f' first-block distillation {np.mean(window_d):.4f}' if window_d else ''))
            window, window_s, window_d = [], [], []

    log(f'done: {step} steps in {time.time() - t0:.0f}s')
    save_checkpoint()


if __name__ == '__main__':
    main()
