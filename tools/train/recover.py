"""Recovers a train.py checkpoint of the shipped model from its ONNX files.

    /usr/bin/python3 tools/train/recover.py --model models/sprites --data tools/train/data/clips8k \
        --out tools/train/checkpoints/sprites-run5.pt

No PyTorch checkpoint of the shipped weights was committed (tools/train/runs/ is ignored) and
the package ships no VAE encoder. This script
1. reads the initializers of denoiser.onnx, text_encoder.onnx and vae_decoder.onnx into
   model.py's DiT, TextEncoder and PatchDecoder (torch exports a Linear's weight as an anonymous
   transposed MatMul initializer; it is named by the bias its MatMul's Add consumes);
2. checks them: runs the PyTorch modules and the ONNX graphs (onnxruntime-node, through
   onnx-run.ts) on the same inputs (a denoiser call with a past and a causal two-block mask, a
   text encoding, a decode) and fails unless the largest difference is below --tolerance;
3. refits a PatchEncoder against the frozen decoder: decode((enc(x) − mean)/std) ≈ x on
   rendered frames (foreground ×10, as train.py), plus a cycle term enc(dec(z)) ≈ z on latents
   the DiT itself generates (sequential, the package's four Euler steps), which keeps the new
   encoder's latents on the DiT's side of the decoder; reports the DiT's x̂0 error on clips
   encoded with it (train.py's loss; the shipped run ended near 0.060);
4. writes a checkpoint that train.py --resume, cascade_train.py --resume and export.py accept
   (float32, the run record taken from model.json), and with --check-export exports it to a
   scratch folder and compares every file with the package byte for byte.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

import argparse
import filecmp
import json
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper
import warnings

warnings.filterwarnings('ignore', category=UserWarning)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import Config, DiT, PatchDecoder, PatchEncoder, TextEncoder, block_causal_mask  # noqa: E402
from tokens import VOCABULARY, tokenize  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def onnx_state(path, prefix):
    """State dict of the module exported as `path`, keys without `prefix`. Named initializers
    are taken as they are; an anonymous MatMul initializer W is a Linear's weightᵀ, named by the
    bias initializer of the Add that consumes the MatMul's output."""
    graph = onnx.load(path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {}
    for name, value in inits.items():
        if not name.startswith('onnx::'):
            state[name] = value
            continue
        found = set()
        for node in consumers.get(name, []):
            if node.op_type != 'MatMul' or node.input[1] != name:
                raise ValueError(f'{path}: initializer {name} used by {node.op_type} {list(node.input)}')
            for add in consumers.get(node.output[0], []):
                if add.op_type != 'Add':
                    continue
                biases = [i for i in add.input if i in inits and i.endswith('.bias')]
                found.update(b[:-len('.bias')] + '.weight' for b in biases)
        if len(found) != 1:
            raise ValueError(f'{path}: cannot name initializer {name} (candidates {sorted(found)})')
        state[found.pop()] = value.T.copy()
    out = {}
    for name, value in state.items():
        if not name.startswith(prefix):
            raise ValueError(f'{path}: initializer {name} lacks the prefix {prefix!r}')
        out[name[len(prefix):]] = torch.from_numpy(np.ascontiguousarray(value))
    return out


def load_package(model_dir):
    """Config, DiT, TextEncoder, PatchDecoder with the package's weights (strict loads)."""
    manifest = json.load(open(os.path.join(model_dir, 'model.json')))
    if manifest['text']['vocabulary'] != VOCABULARY:
        raise ValueError('the package vocabulary is not tokens.py\'s')
    c = Config(channels=manifest['latent']['channels'], latent=manifest['latent']['height'], video=manifest['video']['height'],
               patch=manifest['patchSize'], width=manifest['width'], layers=manifest['layers'], heads=manifest['heads'],
               context_dim=manifest['text']['contextDim'], max_tokens=manifest['text']['maxTokens'],
               vocab=len(manifest['text']['vocabulary']), frames_per_block=manifest['framesPerBlock'])
    dit, text, dec = DiT(c), TextEncoder(c), PatchDecoder(c)
    files = manifest['files']
    dit.load_state_dict(onnx_state(os.path.join(model_dir, files['denoiser']), 'dit.'), strict=True)
    text.load_state_dict(onnx_state(os.path.join(model_dir, files['textEncoder']), ''), strict=True)
    dec.load_state_dict(onnx_state(os.path.join(model_dir, files['vaeDecoder']), 'dec.'), strict=True)
    for m in (dit, text, dec):
        m.eval()
    return manifest, c, dit, text, dec


def exported_pad(x):
    """Circular padding by one as torch 1.13 exports it (ONNX Slice/Concat): the row/column
    added in front is x[-2], not x[-1] (eager PyTorch: x[-1]); the one behind is x[0]."""
    x = torch.cat([x[:, :, -2:-1], x, x[:, :, 0:1]], dim=2)
    return torch.cat([x[:, :, :, -2:-1], x, x[:, :, :, 0:1]], dim=3)


def decode_as_exported(dec, z_normalised):
    """PatchDecoder.forward with the exported graph's padding (see exported_pad)."""
    h = z_normalised * dec.std + dec.mean
    for layer in dec.net:
        if isinstance(layer, torch.nn.Conv2d) and layer.padding_mode == 'circular':
            if layer.padding != (1, 1):
                raise ValueError('decode_as_exported handles circular padding by 1 only')
            h = torch.nn.functional.conv2d(exported_pad(h), layer.weight, layer.bias, layer.stride)
        else:
            h = layer(h)
    return torch.tanh(h)


def run_onnx(model_path, feeds):
    """Outputs of `model_path` under onnxruntime-node for `feeds` {name: tensor}."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, 'in.json'), os.path.join(tmp, 'out.json')
        json.dump({k: {'type': 'int64' if v.dtype == torch.int64 else 'float32', 'dims': list(v.shape),
                       'data': v.flatten().tolist()} for k, v in feeds.items()}, open(inp, 'w'))
        subprocess.run(['npx', 'tsx', os.path.join(HERE, 'onnx-run.ts'), model_path, inp, out], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result = json.load(open(out))
    return {k: torch.tensor(v['data'], dtype=torch.float32).reshape(v['dims']) for k, v in result.items()}


@torch.no_grad()
def check_against_onnx(model_dir, manifest, c, dit, text, dec, log):
    """Largest |PyTorch − ONNX| over the denoiser, text encoder and decoder outputs."""
    gen = torch.Generator().manual_seed(123)
    files = manifest['files']
    worst = 0.0
    tokens = torch.tensor([tokenize('green triangle moving up', c.max_tokens)])
    context = text(tokens)
    got = run_onnx(os.path.join(model_dir, files['textEncoder']), {'tokens': tokens})
    d = (got['context'] - context).abs().max().item()
    log(f'text encoder: max |diff| {d:.3g}')
    worst = max(worst, d)
    # Two in-flight blocks at different timesteps over a past of 6 frames, causal mask.
    fpb, tpf = c.frames_per_block, c.tokens_per_frame
    frames, past = 2 * fpb, 2 * fpb
    latents = torch.randn(1, frames, c.channels, c.latent, c.latent, generator=gen)
    timesteps = torch.tensor([[750.0] * fpb + [1000.0] * fpb])
    positions = torch.arange(past, past + frames).float()[None]
    past_key = torch.randn(c.layers, 1, c.heads, past * tpf, c.head_dim, generator=gen)
    past_value = torch.randn(c.layers, 1, c.heads, past * tpf, c.head_dim, generator=gen)
    inflight = block_causal_mask(c, 2)[0, 0]
    mask = torch.cat([torch.zeros(frames * tpf, past * tpf), inflight], dim=1)[None, None]
    ours = dit.denoise(latents, timesteps, positions, context, past_key, past_value, mask)
    got = run_onnx(os.path.join(model_dir, files['denoiser']), {
        'latents': latents, 'timesteps': timesteps, 'frame_positions': positions, 'context': context,
        'past_key': past_key, 'past_value': past_value, 'attention_mask': mask})
    for name, value in zip(('flow', 'present_key', 'present_value'), ours):
        d = (got[name] - value).abs().max().item()
        log(f'denoiser {name}: max |diff| {d:.3g} (max |value| {value.abs().max().item():.3g})')
        worst = max(worst, d)
    z = torch.randn(1, fpb, c.channels, c.latent, c.latent, generator=gen)
    flat = z.reshape(-1, *z.shape[2:])
    exported = decode_as_exported(dec, flat).reshape(1, fpb, 3, c.video, c.video)
    eager = dec(flat).reshape(1, fpb, 3, c.video, c.video)
    got = run_onnx(os.path.join(model_dir, files['vaeDecoder']), {'latents': z})
    d = (got['frames'] - exported).abs().max().item()
    log(f'vae decoder: max |diff| {d:.3g} against the decoder with the exported padding; '
        f'eager PyTorch (true circular padding, as trained) differs from the ONNX graph by up to '
        f'{(got["frames"] - eager).abs().max().item():.3g} (mean {(got["frames"] - eager).abs().mean().item():.3g})')
    return max(worst, d)


@torch.no_grad()
def generate_latents(c, dit, text, prompts, blocks, gen):
    """Sequential (P0) generation with the package's sampler: normalised latents
    [n, blocks·F, C, h, w] of the given prompts (one per video)."""
    from cascade import rollout
    ctx = text(torch.tensor([tokenize(p, c.max_tokens) for p in prompts]))
    n = len(prompts)
    noise = torch.randn(n, blocks * c.frames_per_block, c.channels, c.latent, c.latent, generator=gen)
    return rollout(dit, c, ctx[:, None].expand(n, blocks, *ctx.shape[1:]), noise, lag=5, attention='causal')['x0']


def refit_encoder(c, dit, text, dec, data, minutes, log, seed):
    """A PatchEncoder fitted against the frozen decoder (see the module docstring)."""
    from train import load_clips, to_unit
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    meta, frames_u8, prompts = load_clips(data)
    n = frames_u8.shape[0]
    frames = frames_u8.reshape(-1, *frames_u8.shape[2:])
    for p in dec.parameters():
        p.requires_grad_(False)
    mean, std = dec.mean, dec.std
    # Latents the DiT makes, for the cycle term: 128 videos of 4 blocks over the data's prompts.
    t = time.time()
    pick = torch.randperm(n, generator=gen)[:128]
    generated = generate_latents(c, dit, text, [prompts[i][0] for i in pick.tolist()], 4, gen)
    generated = generated.reshape(-1, c.channels, c.latent, c.latent)
    with torch.no_grad():
        gen_frames = dec(generated)
    log(f'{generated.shape[0]} generated latent frames for the cycle term in {time.time() - t:.0f}s')
    enc = PatchEncoder(c)
    opt = torch.optim.AdamW(enc.parameters(), lr=2e-3, weight_decay=0.0)
    budget = minutes * 60.0
    t0 = time.time()
    step = 0
    while time.time() - t0 < budget:
        progress = (time.time() - t0) / budget
        for g in opt.param_groups:
            g['lr'] = 2e-3 * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * progress)))
        idx = torch.randint(0, frames.shape[0], (192,), generator=gen)
        x = to_unit(frames[idx.numpy()])
        z = (enc(x) - mean) / std
        y = dec(z)
        weight = 1.0 + 9.0 * (x.max(dim=1, keepdim=True).values > -0.6).float()
        recon = (weight * (y - x) ** 2).mean()
        j = torch.randint(0, generated.shape[0], (64,), generator=gen)
        cycle = (((enc(gen_frames[j]) - mean) / std - generated[j]) ** 2).mean()
        loss = recon + cycle
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0:
            log(f'encoder step {step} reconstruction {recon.item():.5f} cycle {cycle.item():.5f}')
        step += 1
    log(f'encoder: {step} steps in {time.time() - t0:.0f}s')
    enc.eval()
    return enc, (meta, frames_u8, prompts)


@torch.no_grad()
def dit_loss_on(c, dit, text, enc, dec, clips, gen, count=256):
    """train.py's x̂0 loss (clean-prefix noise, 4-block clips) on `count` clips encoded by
    `enc`; with the same σ and noise for any encoder."""
    from train import clip_sigmas, to_unit
    from tokens import tokenize as tok
    meta, frames_u8, prompts = clips
    fpb = meta['framesPerBlock']
    blocks = meta['frames'] // fpb
    idx = torch.randperm(frames_u8.shape[0], generator=gen)[:count].numpy()
    x = to_unit(frames_u8[idx].reshape(-1, *frames_u8.shape[2:]))
    z = ((enc(x) - dec.mean) / dec.std).reshape(count, blocks * fpb, c.channels, c.latent, c.latent)
    sigma, trained = clip_sigmas(count, blocks, 0.75, torch.device('cpu'), gen)
    sigma_f, trained_f = sigma.repeat_interleave(fpb, 1), trained.repeat_interleave(fpb, 1)
    noise = torch.randn(z.shape, generator=gen)
    s5 = sigma_f[:, :, None, None, None]
    xt = (1 - s5) * z + s5 * noise
    tokens = torch.tensor([[tok(p, c.max_tokens) for p in prompts[i]] for i in idx])
    ctx = text(tokens.reshape(-1, c.max_tokens)).reshape(count, blocks, c.max_tokens, -1).repeat_interleave(fpb, 1)
    x0 = dit.train_x0(xt, sigma_f * 1000.0, torch.arange(blocks * fpb).float()[None].repeat(count, 1), ctx, block_causal_mask(c, blocks))
    err = ((x0 - z) ** 2).mean(dim=(2, 3, 4))
    weight = (trained_f & (sigma_f > 0)).float()
    return ((weight * err).sum() / weight.gt(0).sum()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default=os.path.join(ROOT, 'models/sprites'))
    ap.add_argument('--data', default=os.path.join(ROOT, 'tools/train/data/clips8k'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'tools/train/checkpoints/sprites-run5.pt'))
    ap.add_argument('--encoder-minutes', type=float, default=5.0)
    ap.add_argument('--tolerance', type=float, default=1e-4)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--check-export', action='store_true', help='export the checkpoint to a scratch folder and compare it with --model byte for byte')
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    log = lambda msg: print(f'[{time.time() - started:6.1f}s] {msg}', flush=True)

    manifest, c, dit, text, dec = load_package(args.model)
    log(f'loaded {args.model}: DiT {sum(p.numel() for p in dit.parameters())} parameters, text encoder '
        f'{sum(p.numel() for p in text.parameters())}, decoder {sum(p.numel() for p in dec.parameters())}')
    worst = check_against_onnx(args.model, manifest, c, dit, text, dec, log)
    if not worst < args.tolerance:
        raise SystemExit(f'PyTorch and ONNX differ by {worst:.3g} (tolerance {args.tolerance})')
    log(f'PyTorch modules match the ONNX graphs: max |diff| {worst:.3g} < {args.tolerance}')

    enc, clips = refit_encoder(c, dit, text, dec, args.data, args.encoder_minutes, log, args.seed)
    loss = dit_loss_on(c, dit, text, enc, dec, clips, torch.Generator().manual_seed(7))
    log(f"the DiT's x̂0 loss on clips encoded by the refitted encoder: {loss:.4f}")

    training = manifest['training']
    ck = {
        'config': c.as_dict(),
        'vocabulary': VOCABULARY,
        'encoder': enc.state_dict(),
        'decoder': dec.state_dict(),
        'text': text.state_dict(),
        'dit': dit.state_dict(),
        'steps': training['steps'],
        'train_seconds': training['train_seconds'],
        'total_seconds': training['total_seconds'],
        'runs': [{'steps': training['steps'], 'seconds': round(training['train_seconds']), 'resumed': False,
                  'recovered': f'tools/train/recover.py from {os.path.relpath(args.model, ROOT)} (runs 1-5); encoder refitted, x̂0 loss {loss:.4f}'}],
        'device': training['device'],
        'clips': training['clips'],
        'seed': training['seed'],
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(ck, args.out)
    log(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)')

    if args.check_export:
        # export-check.json holds PyTorch's outputs; with one thread they differ from the
        # package's (exported with torch's default pool, 2 threads here) by ~4e-6: run export.py
        # as it was run.
        export_env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS')}
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, os.path.join(HERE, 'export.py'), '--checkpoint', args.out, '--out', tmp,
                            '--sampler', manifest['sampler']['update'], '--name', manifest['name']], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=export_env)
            names = sorted(os.listdir(args.model))
            same = [n for n in names if filecmp.cmp(os.path.join(tmp, n), os.path.join(args.model, n), shallow=False)]
            differ = [n for n in names if n not in same]
            log(f'export of the checkpoint: {len(same)}/{len(names)} files identical to {args.model}' + (f'; differ: {differ}' if differ else ''))
            if differ:
                raise SystemExit('the export does not reproduce the package byte for byte')


if __name__ == '__main__':
    main()
