"""The trained default model: patch autoencoder, text encoder and block-causal DiT.

The DiT follows the model contract (docs/model-contract.md): frame-major tokens, rotary
positions on frame indices (rotate-half), K/V of a call's tokens returned rotated, additive
attention masks, an x̂0 head converted to a flow. Its methods mirror the contract's graphs
(embed, layer_kv, layer_block, head) so that export.py can export each one from the same code
that was trained. Written for torch 1.13 (export, here) and torch 2.x (training on a GPU):
no scaled_dot_product_attention, no parameter-free nn.LayerNorm (torch 1.13 exports it at
opset 17 as an invalid node: docs/design.md).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

MIN_SIGMA = 0.05
# The exported package's sampler timesteps (model.json, no warp: σ = t/1000). The first-block
# distillation trains on these σ and first-block.py samples with them.
PACKAGE_TIMESTEPS = (1000, 750, 500, 250)
PACKAGE_SIGMAS = tuple(t / 1000.0 for t in PACKAGE_TIMESTEPS)


def layer_norm(x, eps=1e-6):
    """Parameter-free LayerNorm over the last axis, written out for the exporter."""
    mean = x.mean(dim=-1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dim=-1, keepdim=True)
    return centred / torch.sqrt(var + eps)


def attention(q, k, v, mask=None):
    """q [B,h,N,d], k/v [B,h,S,d], additive mask broadcast to [B,h,N,S]. Training on torch 2.x
    takes the fused kernel (same maths); export (torch 1.13) writes it out."""
    if hasattr(F, 'scaled_dot_product_attention') and q.is_cuda:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.dtype))
    logits = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is not None:
        logits = logits + mask
    return torch.matmul(torch.softmax(logits, dim=-1), v)


class Config:
    def __init__(self, **kw):
        self.channels = kw.get('channels', 8)
        self.latent = kw.get('latent', 8)  # latent height = width
        self.video = kw.get('video', 32)
        self.patch = kw.get('patch', 2)
        self.width = kw.get('width', 128)
        self.layers = kw.get('layers', 4)
        self.heads = kw.get('heads', 4)
        self.context_dim = kw.get('context_dim', 64)
        self.max_tokens = kw.get('max_tokens', 8)
        self.vocab = kw.get('vocab', 32)
        self.frames_per_block = kw.get('frames_per_block', 3)

    @property
    def head_dim(self):
        return self.width // self.heads

    @property
    def grid(self):
        return self.latent // self.patch

    @property
    def tokens_per_frame(self):
        return self.grid * self.grid

    @property
    def patch_dim(self):
        return self.patch * self.patch * self.channels

    def as_dict(self):
        return {k: getattr(self, k) for k in (
            'channels', 'latent', 'video', 'patch', 'width', 'layers', 'heads', 'context_dim',
            'max_tokens', 'vocab', 'frames_per_block')}


# ---------------------------------------------------------------- autoencoder

class PatchEncoder(nn.Module):
    """RGB [n,3,32,32] in [-1,1] -> latent [n,C,8,8]. Circular padding: the sprites live on a
    torus, and it keeps the encoder equivariant to shifts by whole latent pixels."""

    def __init__(self, c: Config):
        super().__init__()
        s = c.video // c.latent
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1, padding_mode='circular'), nn.GELU(),
            nn.Conv2d(32, 64, s, stride=s), nn.GELU(),
            nn.Conv2d(64, 64, 3, padding=1, padding_mode='circular'), nn.GELU(),
            nn.Conv2d(64, c.channels, 1))

    def forward(self, x):
        return self.net(x)


class PatchDecoder(nn.Module):
    """Normalised latent [n,C,8,8] -> RGB [n,3,32,32] in [-1,1]; holds the latent statistics so
    that the exported decoder takes the DiT's normalised latents directly."""

    def __init__(self, c: Config):
        super().__init__()
        s = c.video // c.latent
        self.register_buffer('mean', torch.zeros(1, c.channels, 1, 1))
        self.register_buffer('std', torch.ones(1, c.channels, 1, 1))
        self.net = nn.Sequential(
            nn.Conv2d(c.channels, 64, 3, padding=1, padding_mode='circular'), nn.GELU(),
            nn.Conv2d(64, 64, 3, padding=1, padding_mode='circular'), nn.GELU(),
            nn.ConvTranspose2d(64, 32, s, stride=s), nn.GELU(),
            nn.Conv2d(32, 3, 3, padding=1, padding_mode='circular'))

    def forward(self, z_normalised):
        return torch.tanh(self.net(z_normalised * self.std + self.mean))


# ---------------------------------------------------------------- text encoder

class TextEncoder(nn.Module):
    """tokens [B,Lt] int64 -> context [B,Lt,Dc]: embeddings, positions, one attention layer."""

    def __init__(self, c: Config):
        super().__init__()
        d = c.context_dim
        self.heads = 4
        self.embed = nn.Embedding(c.vocab, d)
        self.position = nn.Parameter(torch.randn(c.max_tokens, d) * 0.02)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, tokens):
        b, n = tokens.shape
        d = self.position.shape[1]
        x = self.embed(tokens) + self.position[:n]
        q, k, v = self.qkv(layer_norm(x)).split(d, dim=-1)
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        # Padding (id 0) keys are hidden so that a prompt means the same at any length.
        mask = (tokens == 0).to(x.dtype)[:, None, None, :] * -1e9
        a = attention(split(q), split(k), split(v), mask).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(a)
        x = x + self.mlp(layer_norm(x))
        return layer_norm(x)


# ---------------------------------------------------------------- DiT

def rotary_tables(c: Config, frame_positions):
    """cos/sin [B,F,1,1,hd/2] of position·θ_j, θ_j = 10000^(-2j/hd)."""
    half = c.head_dim // 2
    theta = torch.pow(torch.tensor(10000.0), -2.0 * torch.arange(half, dtype=torch.float32) / c.head_dim)
    angles = frame_positions[..., None] * theta.to(frame_positions.device)
    table = angles[:, :, None, None, :]
    return torch.cos(table), torch.sin(table)


def to_heads(c: Config, x):
    """[B,F,Tpf,D] -> [B,h,N,hd]"""
    b = x.shape[0]
    return x.reshape(b, -1, c.heads, c.head_dim).transpose(1, 2)


def from_heads(c: Config, x):
    """[B,h,N,hd] -> [B,F,Tpf,D]"""
    b = x.shape[0]
    return x.transpose(1, 2).reshape(b, -1, c.tokens_per_frame, c.width)


def rotate(c: Config, x, rope):
    """Rotary (rotate-half) per frame, then heads: [B,F,Tpf,D] -> [B,h,N,hd]."""
    cos, sin = rope
    b, f = x.shape[0], x.shape[1]
    per_head = x.reshape(b, f, c.tokens_per_frame, c.heads, c.head_dim)
    half = c.head_dim // 2
    x1, x2 = per_head[..., :half], per_head[..., half:]
    rotated = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return rotated.reshape(b, -1, c.heads, c.head_dim).transpose(1, 2)


class DiTLayer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.width
        self.c = c
        self.modulation = nn.Linear(d, 6 * d)
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.attn_out = nn.Linear(d, d)
        self.cross_q = nn.Linear(d, d)
        self.cross_kv = nn.Linear(c.context_dim, 2 * d)
        self.cross_out = nn.Linear(d, d)
        self.mlp_in = nn.Linear(d, 4 * d)
        self.mlp_out = nn.Linear(4 * d, d)
        # adaLN-Zero: every residual branch starts closed.
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        nn.init.zeros_(self.cross_out.weight)
        nn.init.zeros_(self.cross_out.bias)

    def _modulated(self, hidden, temb):
        c = self.c
        b = hidden.shape[0]
        h = hidden.reshape(b, -1, c.tokens_per_frame, c.width)
        mod = self.modulation(F.silu(temb))[:, :, None, :]
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mod.split(c.width, dim=-1)
        x = layer_norm(h) * (1 + scale_a) + shift_a
        return h, x, (gate_a, shift_m, scale_m, gate_m)

    def key_values(self, hidden, temb, frame_positions):
        """layer_<i>_kv: rotated keys and values [B,h,N,hd] of these tokens."""
        c = self.c
        _, x, _ = self._modulated(hidden, temb)
        k, v = self.kv(x).split(c.width, dim=-1)
        return rotate(c, k, rotary_tables(c, frame_positions)), to_heads(c, v)

    def block(self, hidden, temb, frame_positions, context, key, value, mask):
        """layer_<i>: queries of these tokens attend to the given full K/V set."""
        c = self.c
        h, x, mods = self._modulated(hidden, temb)
        q = rotate(c, self.q(x), rotary_tables(c, frame_positions))
        return self._after_attention(h, mods, attention(q, key, value, mask), context)

    def _after_attention(self, h, mods, attn, context):
        c = self.c
        gate_a, shift_m, scale_m, gate_m = mods
        h = h + self.attn_out(from_heads(c, attn)) * gate_a
        b = h.shape[0]
        cq = to_heads(c, self.cross_q(layer_norm(h)))
        ck, cv = self.cross_kv(context).split(c.width, dim=-1)
        # context [B, Lt, Dc] (one prompt for the call) or [B, F, Lt, Dc] (per frame, training)
        if context.dim() == 3:
            heads = lambda t: t.reshape(b, -1, c.heads, c.head_dim).transpose(1, 2)
            cross = attention(cq, heads(ck), heads(cv))
            h = h + self.cross_out(from_heads(c, cross))
        else:
            f = context.shape[1]
            heads = lambda t: t.reshape(b, f, -1, c.heads, c.head_dim).transpose(2, 3)  # [B,F,h,Lt,hd]
            qf = cq.reshape(b, c.heads, f, c.tokens_per_frame, c.head_dim).transpose(1, 2)  # [B,F,h,Tpf,hd]
            cross = attention(qf, heads(ck), heads(cv))  # [B,F,h,Tpf,hd]
            cross = cross.transpose(2, 3).reshape(b, f, c.tokens_per_frame, c.width)
            h = h + self.cross_out(cross)
        m = layer_norm(h) * (1 + scale_m) + shift_m
        h = h + self.mlp_out(F.gelu(self.mlp_in(m))) * gate_m
        return h.reshape(b, -1, c.width)


def grid_positions(grid, d):
    """[grid², d]: sin/cos of the row in the first half, of the column in the second, unit scale."""
    rows = torch.arange(grid, dtype=torch.float32).repeat_interleave(grid)
    cols = torch.arange(grid, dtype=torch.float32).repeat(grid)
    quarter = d // 4
    freqs = 0.5 + 2.5 * torch.arange(quarter, dtype=torch.float32) / quarter  # radians per cell
    parts = [torch.sin(rows[:, None] * freqs), torch.cos(rows[:, None] * freqs), torch.sin(cols[:, None] * freqs), torch.cos(cols[:, None] * freqs)]
    return torch.cat(parts, dim=1)


class DiT(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        d = c.width
        self.c = c
        self.patch = nn.Linear(c.patch_dim, d)
        # In-frame positions start as a strong 2-D sinusoid rather than small noise, and every
        # layer's queries start equal to its keys: a token then attends to the tokens at its
        # own place in the other frames from the first step, which is most of what moving a
        # sprite needs (trained from small random values, the first run never learned it).
        self.position = nn.Parameter(grid_positions(c.grid, d))
        self.time1 = nn.Linear(d, d)
        self.time2 = nn.Linear(d, d)
        self.layers = nn.ModuleList([DiTLayer(c) for _ in range(c.layers)])
        with torch.no_grad():
            for layer in self.layers:
                eye = torch.eye(d)
                layer.q.weight.copy_(eye)
                layer.q.bias.zero_()
                layer.kv.weight[:d].copy_(eye)
                layer.kv.bias[:d].zero_()
        self.head_modulation = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, c.patch_dim)
        nn.init.zeros_(self.head_modulation.weight)
        nn.init.zeros_(self.head_modulation.bias)

    # embed graph
    def embed(self, latents, timesteps):
        c = self.c
        b, f = latents.shape[0], latents.shape[1]
        p, g = c.patch, c.grid
        grid = latents.reshape(b, f, c.channels, g, p, g, p)
        patches = grid.permute(0, 1, 3, 5, 4, 6, 2).reshape(b, f, c.tokens_per_frame, c.patch_dim)
        hidden = (self.patch(patches) + self.position).reshape(b, -1, c.width)
        half = c.width // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half).to(latents.device)
        args = timesteps[..., None] * freqs
        temb = self.time2(F.silu(self.time1(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))))
        return hidden, temb

    # head graph: x̂0 -> flow
    def head(self, hidden, temb, latents, timesteps):
        x0 = self.predict_x0(hidden, temb)
        sigma = torch.clamp(timesteps / 1000.0, min=MIN_SIGMA)[:, :, None, None, None]
        return (latents - x0) / sigma

    def predict_x0(self, hidden, temb):
        c = self.c
        b = hidden.shape[0]
        p, g = c.patch, c.grid
        h = hidden.reshape(b, -1, c.tokens_per_frame, c.width)
        shift, scale = self.head_modulation(F.silu(temb))[:, :, None, :].split(c.width, dim=-1)
        patches = self.out(layer_norm(h) * (1 + scale) + shift)
        f = patches.shape[1]
        grid = patches.reshape(b, f, g, g, p, p, c.channels)
        return grid.permute(0, 1, 6, 2, 4, 3, 5).reshape(b, f, c.channels, c.latent, c.latent)

    def denoise(self, latents, timesteps, frame_positions, context, past_key, past_value, mask):
        """The monolithic denoiser of the contract. Returns flow, present_key, present_value."""
        hidden, temb = self.embed(latents, timesteps)
        keys, values = [], []
        for i, layer in enumerate(self.layers):
            k, v = layer.key_values(hidden, temb, frame_positions)
            keys.append(k)
            values.append(v)
            hidden = layer.block(hidden, temb, frame_positions, context,
                                 torch.cat([past_key[i], k], dim=2), torch.cat([past_value[i], v], dim=2), mask)
        return self.head(hidden, temb, latents, timesteps), torch.stack(keys), torch.stack(values)

    def train_x0(self, latents, timesteps, frame_positions, context, mask):
        """Training forward over whole clips (no past): x̂0 [B,F,C,H,W]. `context` may be per
        frame [B,F,Lt,Dc] (prompt switches inside a clip)."""
        hidden, temb = self.embed(latents, timesteps)
        for layer in self.layers:
            k, v = layer.key_values(hidden, temb, frame_positions)
            hidden = layer.block(hidden, temb, frame_positions, context, k, v, mask)
        return self.predict_x0(hidden, temb)


def block_causal_mask(c: Config, blocks: int, device=None):
    """[1,1,N,N] additive mask: a frame sees its own block and older blocks."""
    f = blocks * c.frames_per_block
    block_of = torch.arange(f, device=device) // c.frames_per_block
    visible = block_of[None, :] <= block_of[:, None]  # [query frame, key frame]
    tokens = visible.repeat_interleave(c.tokens_per_frame, 0).repeat_interleave(c.tokens_per_frame, 1)
    return torch.where(tokens, torch.zeros((), device=device), torch.full((), -1e9, device=device))[None, None]


def load_checkpoint(path):
    """A train.py checkpoint's config and its DiT, text encoder and decoder, in eval mode:
    (checkpoint dict, Config, dit, text, decoder)."""
    ck = torch.load(path, map_location='cpu')
    c = Config(**ck['config'])
    dit, text, dec = DiT(c), TextEncoder(c), PatchDecoder(c)
    dit.load_state_dict(ck['dit'])
    text.load_state_dict(ck['text'])
    dec.load_state_dict(ck['decoder'])
    for m in (dit, text, dec):
        m.eval()
    return ck, c, dit, text, dec
