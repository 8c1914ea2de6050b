"""Exports a checkpoint from train.py as a model package (docs/model-contract.md, format 2).

    /usr/bin/python3 tools/train/export.py --checkpoint tools/train/runs/main/checkpoint.pt --out models/sprites

Writes model.json, the monolithic denoiser, the layered form (embed, layer_<i>_kv, layer_<i>,
head), the text encoder and the VAE decoder, all opset 17 with the contract's dynamic axes,
plus export-check.json: inputs and PyTorch's outputs of one denoiser call with a past, which
test/trained-model.test.ts compares with onnxruntime-node.
"""
import argparse
import json
import os

import torch
import torch.nn as nn

from model import PACKAGE_TIMESTEPS, load_checkpoint
from tokens import tokenize

OPSET = 17


class Denoiser(nn.Module):
    def __init__(self, dit):
        super().__init__()
        self.dit = dit

    def forward(self, latents, timesteps, frame_positions, context, past_key, past_value, attention_mask):
        return self.dit.denoise(latents, timesteps, frame_positions, context, past_key, past_value, attention_mask)


class Embed(nn.Module):
    def __init__(self, dit):
        super().__init__()
        self.dit = dit

    def forward(self, latents, timesteps):
        return self.dit.embed(latents, timesteps)


class LayerKv(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, hidden, time_embedding, frame_positions):
        return self.layer.key_values(hidden, time_embedding, frame_positions)


class LayerBlock(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, hidden, time_embedding, frame_positions, context, key, value, attention_mask):
        return self.layer.block(hidden, time_embedding, frame_positions, context, key, value, attention_mask)


class Head(nn.Module):
    def __init__(self, dit):
        super().__init__()
        self.dit = dit

    def forward(self, hidden, time_embedding, latents, timesteps):
        return self.dit.head(hidden, time_embedding, latents, timesteps)


class VaeDecoder(nn.Module):
    def __init__(self, dec):
        super().__init__()
        self.dec = dec

    def forward(self, latents):
        b, f = latents.shape[0], latents.shape[1]
        frames = self.dec(latents.reshape(-1, *latents.shape[2:]))
        return frames.reshape(b, f, *frames.shape[1:])


def export(module, args, path, inputs, outputs, dynamic):
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint', default='tools/train/runs/main/checkpoint.pt')
    ap.add_argument('--out', default='models/sprites')
    ap.add_argument('--name', default='block-cascade-sprites')
    ap.add_argument('--sampler', default='euler', choices=['ve-ddim', 'euler', 'renoise'], help="the manifest's sampler.update")
    args = ap.parse_args()
    ck, c, dit, text, dec = load_checkpoint(args.checkpoint)
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)

    torch.manual_seed(0)
    B, F, T, L, h, hd, D = 1, c.frames_per_block, 2 * c.frames_per_block * c.tokens_per_frame, c.layers, c.heads, c.head_dim, c.width
    N = F * c.tokens_per_frame
    latents = torch.randn(B, F, c.channels, c.latent, c.latent)
    timesteps = torch.full((B, F), 937.5)
    positions = torch.arange(6, 6 + F).float()[None]
    context = text(torch.tensor([tokenize('red ball moving left', c.max_tokens)]))
    past_key = torch.randn(L, B, h, T, hd)
    past_value = torch.randn(L, B, h, T, hd)
    mask = torch.zeros(B, 1, N, T + N)
    frames_axes = {0: 'B', 1: 'F'}

    with torch.no_grad():
        export(Denoiser(dit), (latents, timesteps, positions, context, past_key, past_value, mask), out('denoiser.onnx'),
               ['latents', 'timesteps', 'frame_positions', 'context', 'past_key', 'past_value', 'attention_mask'],
               ['flow', 'present_key', 'present_value'],
               {'latents': frames_axes, 'timesteps': frames_axes, 'frame_positions': frames_axes, 'context': {0: 'B', 1: 'Lt'},
                'past_key': {1: 'B', 3: 'T'}, 'past_value': {1: 'B', 3: 'T'}, 'attention_mask': {0: 'B', 2: 'N', 3: 'S'},
                'flow': frames_axes, 'present_key': {1: 'B', 3: 'N'}, 'present_value': {1: 'B', 3: 'N'}})
        hidden, temb = dit.embed(latents, timesteps)
        export(Embed(dit), (latents, timesteps), out('embed.onnx'), ['latents', 'timesteps'], ['hidden', 'time_embedding'],
               {'latents': frames_axes, 'timesteps': frames_axes, 'hidden': {0: 'B', 1: 'N'}, 'time_embedding': frames_axes})
        layers = []
        for i, layer in enumerate(dit.layers):
            export(LayerKv(layer), (hidden, temb, positions), out(f'layer_{i}_kv.onnx'),
                   ['hidden', 'time_embedding', 'frame_positions'], ['key', 'value'],
                   {'hidden': {0: 'B', 1: 'N'}, 'time_embedding': frames_axes, 'frame_positions': frames_axes,
                    'key': {0: 'B', 2: 'N'}, 'value': {0: 'B', 2: 'N'}})
            k, v = layer.key_values(hidden, temb, positions)
            key, value = torch.cat([past_key[i], k], 2), torch.cat([past_value[i], v], 2)
            export(LayerBlock(layer), (hidden, temb, positions, context, key, value, mask), out(f'layer_{i}.onnx'),
                   ['hidden', 'time_embedding', 'frame_positions', 'context', 'key', 'value', 'attention_mask'], ['hidden_out'],
                   {'hidden': {0: 'B', 1: 'N'}, 'time_embedding': frames_axes, 'frame_positions': frames_axes, 'context': {0: 'B', 1: 'Lt'},
                    'key': {0: 'B', 2: 'S'}, 'value': {0: 'B', 2: 'S'}, 'attention_mask': {0: 'B', 2: 'N', 3: 'S'},
                    'hidden_out': {0: 'B', 1: 'N'}})
            layers.append({'kv': f'layer_{i}_kv.onnx', 'block': f'layer_{i}.onnx'})
        export(Head(dit), (hidden, temb, latents, timesteps), out('head.onnx'),
               ['hidden', 'time_embedding', 'latents', 'timesteps'], ['flow'],
               {'hidden': {0: 'B', 1: 'N'}, 'time_embedding': frames_axes, 'latents': frames_axes, 'timesteps': frames_axes,
                'flow': frames_axes})
        tokens = torch.tensor([tokenize('red ball moving left', c.max_tokens)])
        export(text, (tokens,), out('text_encoder.onnx'), ['tokens'], ['context'], {'tokens': {0: 'B', 1: 'Lt'}, 'context': {0: 'B', 1: 'Lt'}})
        export(VaeDecoder(dec), (latents,), out('vae_decoder.onnx'), ['latents'], ['frames'],
               {'latents': frames_axes, 'frames': frames_axes})

        flow, present_key, present_value = dit.denoise(latents, timesteps, positions, context, past_key, past_value, mask)
        flat = lambda t: [round(float(x), 7) for x in t.flatten()]
        json.dump({
            'about': 'one denoiser call computed by PyTorch at export time; test/trained-model.test.ts compares onnxruntime-node with it',
            'prompt': 'red ball moving left',
            'inputs': {'latents': flat(latents), 'timesteps': flat(timesteps), 'frame_positions': flat(positions),
                       'past_key': flat(past_key), 'past_value': flat(past_value), 'pastTokens': T},
            'outputs': {'flow': flat(flow), 'present_key': flat(present_key), 'present_value': flat(present_value)},
        }, open(out('export-check.json'), 'w'))

    manifest = {
        'format': 'block-cascade/model@2',
        'name': args.name,
        'latent': {'channels': c.channels, 'height': c.latent, 'width': c.latent},
        'video': {'height': c.video, 'width': c.video},
        'framesPerBlock': c.frames_per_block,
        'patchSize': c.patch,
        'tokensPerFrame': c.tokens_per_frame,
        'width': c.width,
        'layers': c.layers,
        'heads': c.heads,
        'headDim': c.head_dim,
        'text': {'vocabulary': ck['vocabulary'], 'maxTokens': c.max_tokens, 'contextDim': c.context_dim},
        # Evenly spaced σ on the plain flow ODE: the first block is distilled onto the straight
        # paths of its teacher's ODE (make-pairs.py), so four Euler steps land on one sprite.
        # Not Self-Forcing's re-noising sampler: the model is not distilled for it (docs/quality.md).
        'sampler': {'shift': 5, 'timesteps': list(PACKAGE_TIMESTEPS), 'warp': False, 'update': args.sampler},
        # Trained on clips of 4 blocks: keys at most 11 frames behind a query. No sink, so that
        # long videos never attend further back than that.
        # Re-caching the window under a new prompt (LongLive) is not something this model was
        # trained for: after the window has slid it loses the sprite in ~1 switch in 5, against
        # ~1 in 30 without (docs/interactive.md). Sequential mode does not re-cache by default.
        'kv': {'sinkFrames': 0, 'windowFrames': 3 * c.frames_per_block, 'recache': 'off'},
        'files': {
            'denoiser': 'denoiser.onnx',
            'layered': {'embed': 'embed.onnx', 'layers': layers, 'head': 'head.onnx'},
            'textEncoder': 'text_encoder.onnx',
            'vaeDecoder': 'vae_decoder.onnx',
        },
        'training': {k: ck[k] for k in ('steps', 'train_seconds', 'total_seconds', 'device', 'clips', 'seed')},
    }
    json.dump(manifest, open(out('model.json'), 'w'), indent=2)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
