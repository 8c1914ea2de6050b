"""Fine-tunes the model for the context a cascade gives it (Self-Forcing style rollouts).

    /usr/bin/python3 tools/train/cascade_train.py --data tools/train/data/clips24 \
        --resume tools/train/checkpoints/sprites-run5.pt --out tools/train/runs/cascade1 --minutes 80

Every step:
1. **Cascade term.** A batch of ground-truth clips of 8 blocks (make-clips.ts --frames 24); a
   parallelism level P uniform over 0..4 (lag Δ = 5 − P), an attention mode uniform over causal
   and bidirectional, a clean prefix of 1–3 ground-truth blocks (committed by cache steps, the
   sequential way: it anchors the rollout to the clip, so that the clip's later blocks are the
   right targets), and a tick at which a (block, denoising stage) drawn uniformly runs. The model
   rolls the rest of the clip through the cascade schedule (cascade.py: exactly the runtime's
   ticks: joint forwards, per-frame timesteps, euler steps at the package's σ, cache steps of the
   final x0 at t = 0, a 3-block rolling K/V window, the newest block's prompt) without gradients
   up to that tick; the tick's forward then runs with gradients and the loss is the x̂0 error of
   its denoising blocks against the clip (train.py's loss), given context the model made
   itself. P0 is the sequential pipeline on the model's own committed blocks.
2. **Sequential teacher-forced term** (weight --tf-weight): train.py's loss (a clean prefix of
   1-3 blocks, then blocks in flight at non-decreasing σ) on 4-block windows of the same clips,
   so that what the shipped run learned does not drift. Never without a clean prefix: plain flow
   matching on first blocks undid run 5's first-block distillation within 10 minutes (P0 colour
   96 → 75%, whole videos blank) in the first attempt.
3. **First-block term** (weight --first-weight): a video's first block (no context) along the
   --teacher's own four Euler steps from fresh noise; the model's x̂0 at each step's state is
   matched to the teacher's. It keeps the first block as run 5's distillation left it (the
   distillation pairs of make-pairs.py are not in the repository and cost 25 minutes of CPU).

Resumable: the checkpoint holds the live weights, the optimizer and the clock; --resume with a
checkpoint of this script continues its schedule (--minutes is the whole run's budget). With a
GPU it uses it (bf16 autocast), same recipe.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import argparse
import copy
import csv
import math
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cascade import rollout  # noqa: E402
from model import Config, DiT, PatchDecoder, PatchEncoder, TextEncoder, block_causal_mask  # noqa: E402
from tokens import VOCABULARY, flip_prompt, tokenize  # noqa: E402
from model import PACKAGE_SIGMAS, PACKAGE_TIMESTEPS  # noqa: E402
from train import encode_all, load_clips, sample_sigmas  # noqa: E402

ATTENTION = ('causal', 'bidirectional')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='tools/train/data/clips24', help='clips of 8 blocks (make-clips.ts --frames 24)')
    ap.add_argument('--resume', default='tools/train/checkpoints/sprites-run5.pt')
    ap.add_argument('--out', default='tools/train/runs/cascade')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--minutes', type=float, default=80.0, help='wall-clock budget of the whole run (a resumed run counts its past)')
    ap.add_argument('--batch', type=int, default=8, help='clips per cascade rollout')
    ap.add_argument('--tf-batch', type=int, default=12, help='4-block windows of the teacher-forced term')
    ap.add_argument('--tf-weight', type=float, default=0.5)
    ap.add_argument('--first-batch', type=int, default=16, help='first blocks of the first-block term')
    ap.add_argument('--first-weight', type=float, default=1.0)
    ap.add_argument('--teacher', default='tools/train/checkpoints/sprites-run5.pt', help='the first-block term keeps the first block as this model makes it')
    ap.add_argument('--lr', type=float, default=1e-4)
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--levels', default='0,1,2,3,4', help='P levels sampled uniformly')
    ap.add_argument('--switch-fraction', type=float, default=0.5, help='share of the cascade term\'s clips drawn from clips with a prompt switch (the data has ~29%%)')
    ap.add_argument('--switch-focus', type=float, default=0.5, help='share of steps whose batch shares one switch block k and whose tick has block k in flight (its older blocks still under way at P > 0)')
    ap.add_argument('--max-prefix', type=int, default=3, help='clean ground-truth blocks committed before the cascade: 1..this')
    ap.add_argument('--steps', type=int, default=0, help='stop after this many steps (0: only the clock); for smoke tests')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    args = ap.parse_args()

    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    device = torch.device(args.device)
    amp = device.type == 'cuda'
    started = time.time()
    log_file = open(os.path.join(args.out, 'train.log'), 'a')

    def log(msg):
        line = f'[{time.time() - started:7.1f}s] {msg}'
        print(line, flush=True)
        log_file.write(line + '\n')
        log_file.flush()

    ck = torch.load(args.resume, map_location='cpu')
    c = Config(**ck['config'])
    enc, dec, text, dit = PatchEncoder(c), PatchDecoder(c), TextEncoder(c), DiT(c)
    enc.load_state_dict(ck['encoder'])
    dec.load_state_dict(ck['decoder'])
    state = ck.get('cascade')
    text.load_state_dict(state['live_text'] if state else ck['text'])
    dit.load_state_dict(state['live_dit'] if state else ck['dit'])
    ema_text, ema_dit = TextEncoder(c), DiT(c)
    ema_text.load_state_dict(ck['text'])
    ema_dit.load_state_dict(ck['dit'])
    teacher = torch.load(args.teacher, map_location='cpu')
    teacher_text, teacher_dit = TextEncoder(c), DiT(c)
    teacher_text.load_state_dict(teacher['text'])
    teacher_dit.load_state_dict(teacher['dit'])
    del teacher
    for m in (enc, dec, text, dit, ema_text, ema_dit, teacher_text, teacher_dit):
        m.to(device)
    for m in (ema_text, ema_dit, enc, dec, teacher_text, teacher_dit):
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    log(f'from {args.resume} ({ck["steps"]} steps' + (f', cascade step {state["step"]}' if state else '') + f'), device {device}')

    meta, frames_u8, prompts = load_clips(args.data)
    fpb = meta['framesPerBlock']
    blocks = meta['frames'] // fpb
    if fpb != c.frames_per_block or blocks < 5:
        raise SystemExit(f'{args.data}: {blocks} blocks of {fpb} frames; needs ≥ 5 blocks of {c.frames_per_block}')
    with torch.no_grad():
        z = torch.cat([encode_all(enc, frames_u8, device), encode_all(enc, frames_u8[:, :, :, ::-1, :], device)])
        latents = (z - dec.mean[None]) / dec.std[None]
    del z
    all_prompts = prompts + [[flip_prompt(p) for p in clip] for clip in prompts]
    tokens = torch.tensor([[tokenize(p, c.max_tokens) for p in clip] for clip in all_prompts], device=device)
    n = latents.shape[0]
    switched = torch.tensor([len(set(clip)) > 1 for clip in all_prompts], device=device)
    switch_ids, plain_ids = switched.nonzero()[:, 0], (~switched).nonzero()[:, 0]
    # The block at which each clip's prompt first changes (0: none).
    switch_block = torch.tensor([next((b for b, p in enumerate(clip) if p != clip[0]), 0) for clip in all_prompts], device=device)
    by_switch = {k: (switch_block == k).nonzero()[:, 0] for k in range(2, blocks)}
    if args.switch_focus > 0 and min(len(v) for v in by_switch.values()) == 0:
        raise SystemExit(f'{args.data}: --switch-focus needs clips that switch at every block 2..{blocks - 1}')
    log(f'{meta["count"]} clips of {blocks} blocks (+ mirror images): latents {tuple(latents.shape)}')

    params = list(text.parameters()) + list(dit.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    step, elapsed0 = 0, 0.0
    if state:
        opt.load_state_dict(state['optimizer'])
        gen.set_state(state['generator'])
        step, elapsed0 = state['step'], state['seconds']
    levels = [int(v) for v in args.levels.split(',')]
    tf_mask = block_causal_mask(c, 4, device)
    budget = args.minutes * 60.0
    t0 = time.time() - elapsed0
    base_steps = ck['steps'] - (state['step'] if state else 0)
    base_seconds = ck['train_seconds'] - (state['seconds'] if state else 0.0)
    loss_path = os.path.join(args.out, 'loss.csv')
    new_file = not (state and os.path.exists(loss_path))
    losses = open(loss_path, 'a', newline='')
    writer = csv.writer(losses)
    if new_file:
        writer.writerow(['step', 'seconds', 'loss_cascade', 'loss_teacher_forced', 'loss_first_block'] + [f'loss_P{p}' for p in range(5)])
    window = {'cascade': [], 'tf': [], 'first': [], **{p: [] for p in range(5)}}

    def rint(high):
        return int(torch.randint(0, high, (1,), device=device, generator=gen))

    def save():
        torch.save({
            'config': c.as_dict(), 'vocabulary': VOCABULARY,
            'encoder': enc.state_dict(), 'decoder': dec.state_dict(),
            'text': ema_text.state_dict(), 'dit': ema_dit.state_dict(),
            'steps': base_steps + step, 'train_seconds': base_seconds + time.time() - t0,
            'total_seconds': ck['total_seconds'] + time.time() - started,
            'runs': ck.get('runs', [])[:len(ck.get('runs', [])) - (1 if state else 0)] + [{
                'steps': step, 'seconds': round(time.time() - t0), 'resumed': True, 'cascade': True, 'args': vars(args)}],
            'device': str(torch.cuda.get_device_name(0)) if amp else 'cpu', 'clips': ck['clips'], 'seed': args.seed,
            'cascade': {'step': step, 'seconds': time.time() - t0, 'optimizer': opt.state_dict(), 'generator': gen.get_state(),
                        'live_text': text.state_dict(), 'live_dit': dit.state_dict()},
        }, os.path.join(args.out, 'checkpoint.pt'))

    next_save = time.time() + 600
    while True:
        elapsed = time.time() - t0
        if elapsed > budget or (args.steps and step >= args.steps):
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / budget))))
        for g in opt.param_groups:
            g['lr'] = lr
        text.train()
        dit.train()
        # ---- cascade term
        level = levels[rint(len(levels))]
        lag = 5 - level
        attention = ATTENTION[rint(2)]
        focus = torch.rand((1,), device=device, generator=gen).item() < args.switch_focus
        if focus:
            # Every clip switches prompt at block k; the tick is one where k denoises (at P > 0
            # its older blocks are still in flight and take their steps under k's prompt).
            k = 2 + rint(blocks - 2)
            prefix = 1 + rint(min(args.max_prefix, k - 1))
            grad_tick = (k - prefix) * lag + rint(4)
        else:
            prefix = 1 + rint(args.max_prefix)
            # A (block, denoising stage) uniformly; the loss takes every denoising block of its tick.
            grad_tick = rint(blocks - prefix) * lag + rint(4)
        # Clips with a prompt switch at --switch-fraction: at P4 a switch reaches the three
        # blocks already in flight (they finish under the new prompt) and the new block's
        # context still shows the old prompt; the plain videos were already at P0's level.
        if focus:
            idx = by_switch[k][torch.randint(0, len(by_switch[k]), (args.batch,), device=device, generator=gen)]
        else:
            pick = torch.rand((args.batch,), device=device, generator=gen) < args.switch_fraction
            idx = torch.where(pick, switch_ids[torch.randint(0, len(switch_ids), (args.batch,), device=device, generator=gen)],
                              plain_ids[torch.randint(0, len(plain_ids), (args.batch,), device=device, generator=gen)])
        dy, dx = (int(v) for v in torch.randint(0, c.latent, (2,), generator=gen, device=device))
        x0 = torch.roll(latents[idx], shifts=(dy, dx), dims=(3, 4))
        noise = torch.randn(x0.shape, device=device, generator=gen)
        offset = torch.randint(0, 100, (args.batch, 1), device=device, generator=gen).float()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            ctx = text(tokens[idx].reshape(-1, c.max_tokens)).reshape(args.batch, blocks, c.max_tokens, -1).float()
        out = rollout(dit, c, ctx, noise, lag, attention, prefix=x0[:, :prefix * fpb], position_offset=offset,
                      stop_tick=grad_tick, grad_tick=grad_tick, amp=amp)
        denoising = [(i, b) for i, (b, s) in enumerate(out['members']) if s < 4]
        pred = torch.cat([out['x0_hat'][:, i * fpb:(i + 1) * fpb] for i, _ in denoising], dim=1)
        target = torch.cat([x0[:, b * fpb:(b + 1) * fpb] for _, b in denoising], dim=1)
        loss_cascade = ((pred - target) ** 2).mean()
        # ---- sequential teacher-forced term (train.py) on 4-block windows
        loss_tf = torch.zeros((), device=device)
        if args.tf_weight > 0:
            idx = torch.randint(0, n, (args.tf_batch,), device=device, generator=gen)
            start = rint(blocks - 3)
            frames = slice(start * fpb, (start + 4) * fpb)
            dy, dx = (int(v) for v in torch.randint(0, c.latent, (2,), generator=gen, device=device))
            w0 = torch.roll(latents[idx][:, frames], shifts=(dy, dx), dims=(3, 4))
            # A clean prefix of 1-3 blocks, then blocks in flight at non-decreasing σ (train.py's
            # clip_sigmas without its prefix-free clips: those train the first block by plain flow
            # matching, which undid run 5's first-block distillation in a first attempt).
            k = torch.randint(1, 4, (args.tf_batch, 1), device=device, generator=gen)
            index = torch.arange(4, device=device)[None]
            flying_sigma = sample_sigmas((args.tf_batch, 4), device, gen).sort(dim=1).values
            sigma = torch.where(index < k, torch.zeros_like(flying_sigma), flying_sigma)
            trained = index >= k
            sigma_f, trained_f = sigma.repeat_interleave(fpb, 1), trained.repeat_interleave(fpb, 1)
            wn = torch.randn(w0.shape, device=device, generator=gen)
            s5 = sigma_f[:, :, None, None, None]
            xt = (1 - s5) * w0 + s5 * wn
            pos = torch.randint(0, 200, (args.tf_batch, 1), device=device, generator=gen).float() + torch.arange(4 * fpb, device=device).float()[None]
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                wctx = text(tokens[idx][:, start:start + 4].reshape(-1, c.max_tokens)).reshape(args.tf_batch, 4, c.max_tokens, -1)
                x0_hat = dit.train_x0(xt, sigma_f * 1000.0, pos, wctx.repeat_interleave(fpb, dim=1), tf_mask)
            err = ((x0_hat.float() - w0) ** 2).mean(dim=(2, 3, 4))
            weight = (trained_f & (sigma_f > 0)).float()
            loss_tf = (weight * err).sum() / weight.gt(0).sum().clamp(min=1)
        # ---- first-block term: x̂0 of a video's first block (no context) at each of the package's
        # steps, on the teacher's own 4-step Euler path, matched to the teacher's x̂0
        loss_first = torch.zeros((), device=device)
        if args.first_weight > 0:
            fb = args.first_batch
            idx = torch.randint(0, n, (fb,), device=device, generator=gen)
            ftok = tokens[idx][:, 0]
            fstate = torch.randn((fb, fpb, c.channels, c.latent, c.latent), device=device, generator=gen)
            fpos = torch.randint(0, 100, (fb, 1), device=device, generator=gen).float() + torch.arange(fpb, device=device).float()[None]
            states, targets = [], []
            with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                tctx = teacher_text(ftok)
                for s_i, t_s in enumerate(PACKAGE_TIMESTEPS):
                    t_hat = teacher_dit.train_x0(fstate, torch.full((fb, fpb), float(t_s), device=device), fpos, tctx, None).float()
                    states.append(fstate)
                    targets.append(t_hat)
                    sigma, sigma_next = PACKAGE_SIGMAS[s_i], (PACKAGE_SIGMAS[s_i + 1] if s_i + 1 < len(PACKAGE_SIGMAS) else 0.0)
                    fstate = fstate + (sigma_next - sigma) * (fstate - t_hat) / sigma
            ts = torch.tensor(PACKAGE_TIMESTEPS, device=device, dtype=torch.float32).repeat_interleave(fb)[:, None].expand(-1, fpb)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                sctx = text(ftok).repeat(len(PACKAGE_TIMESTEPS), 1, 1)
                s_hat = dit.train_x0(torch.cat(states), ts, fpos.repeat(len(PACKAGE_TIMESTEPS), 1), sctx, None)
            loss_first = ((s_hat.float() - torch.cat(targets)) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        (loss_cascade + args.tf_weight * loss_tf + args.first_weight * loss_first).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(0.998, (1 + step) / (10 + step))
            for ema, live in ((ema_text, text), (ema_dit, dit)):
                ema_params = list(ema.parameters())
                torch._foreach_mul_(ema_params, decay)
                torch._foreach_add_(ema_params, [p.detach() for p in live.parameters()], alpha=1 - decay)
        window['cascade'].append(loss_cascade.item())
        window['tf'].append(loss_tf.item())
        window['first'].append(loss_first.item())
        window[level].append(loss_cascade.item())
        step += 1
        if step % 50 == 0:
            mean = lambda v: float(np.mean(v)) if v else ''
            writer.writerow([base_steps + step, round(time.time() - t0 + base_seconds, 1), mean(window['cascade']), mean(window['tf']), mean(window['first'])]
                            + [mean(window[p]) for p in range(5)])
            losses.flush()
            if step % 200 == 0:
                log(f'step {step} lr {lr:.2e} cascade x̂0 loss {mean(window["cascade"]):.4f} teacher-forced {mean(window["tf"]):.4f} first block {mean(window["first"]):.4f} '
                    + ' '.join(f'P{p} {mean(window[p]):.4f}' if window[p] else f'P{p} -' for p in range(5)))
            window = {'cascade': [], 'tf': [], 'first': [], **{p: [] for p in range(5)}}
        if time.time() > next_save:
            save()
            next_save += 600
    log(f'done: {step} steps in {time.time() - t0:.0f}s')
    save()


if __name__ == '__main__':
    main()
