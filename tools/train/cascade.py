"""The runtime's cascade, in PyTorch: what a generation at P0..P4 feeds the model, tick by tick.

It mirrors src/core/schedule.ts, src/actors/supervisor.ts, src/actors/kv-pool.ts and
the tick of src/engine/lanes/lane-worker.ts (joint execution):
- lag Δ = 5 − P; in-flight block r (counted from the first block the cascade generates) is at
  stage s = tick − r·Δ; stages 0..3 denoise at the package's timesteps (PACKAGE_TIMESTEPS, σ =
  t/1000) with the `euler` update x ← x + (σ_next − σ)·flow, stage 0 starting from the block's
  noise; stage 4 is the cache step: the block's final x0 at t = 0 in the same forward, whose
  present K/V are committed after the tick;
- one tick = one forward over every member's frames (oldest first), per-frame timesteps,
  absolute frame positions block·F + f, the newest member's prompt for the whole call;
  attention among the in-flight frames `causal` (a frame sees its own and older blocks) or
  `bidirectional` (all), the committed past always visible;
- the committed past is a rolling window of the `window_blocks` most recent cached blocks
  (kv.windowFrames 9 = 3 blocks of 3 frames, no sink), updated after each tick.
A clean prefix (ground-truth blocks, e.g. a training clip's first blocks) may be committed
before the cascade starts, each by its own cache step, as the sequential pipeline caches.
"""
import torch

from model import PACKAGE_SIGMAS, PACKAGE_TIMESTEPS, MIN_SIGMA

STAGES = 5  # 4 denoising steps + the cache step


def tick_members(tick, lag, blocks):
    """(block, stage) of the in-flight blocks at `tick`, oldest first (schedule.ts tickMembers)."""
    return [(b, tick - b * lag) for b in range(max(0, -(-(tick - 4) // lag)), blocks) if b * lag <= tick]


def last_denoising_tick(blocks, lag):
    """The last tick at which some block denoises (its stage ≤ 3)."""
    return (blocks - 1) * lag + 3


def in_flight_mask(block_of_frame, tpf, past_tokens, attention, device):
    """[1,1,N,T+N] additive mask (attention-mask.ts): past visible; an in-flight key frame is
    hidden from a query frame of an older block when attention is causal."""
    f = len(block_of_frame)
    n = f * tpf
    mask = torch.zeros(n, past_tokens + n, device=device)
    if attention == 'causal':
        blocks = torch.tensor(block_of_frame, device=device)
        hidden = (blocks[None, :] > blocks[:, None]).repeat_interleave(tpf, 0).repeat_interleave(tpf, 1)
        mask[:, past_tokens:] = torch.where(hidden, torch.full((), -1e9, device=device), torch.zeros((), device=device))
    return mask[None, None]


def forward(dit, latents, timesteps, positions, context, past_key, past_value, mask):
    """dit.denoise, returning x̂0 instead of the flow: (x̂0, present_key, present_value)."""
    hidden, temb = dit.embed(latents, timesteps)
    keys, values = [], []
    for i, layer in enumerate(dit.layers):
        k, v = layer.key_values(hidden, temb, positions)
        keys.append(k)
        values.append(v)
        key = k if past_key is None else torch.cat([past_key[i], k], dim=2)
        value = v if past_value is None else torch.cat([past_value[i], v], dim=2)
        hidden = layer.block(hidden, temb, positions, context, key, value, mask)
    return dit.predict_x0(hidden, temb), torch.stack(keys), torch.stack(values)


def rollout(dit, c, contexts, noise, lag, attention, prefix=None, window_blocks=3, position_offset=None,
            stop_tick=None, grad_tick=None, amp=False):
    """Runs the cascade over a batch of videos.

    contexts: [B, NB, Lt, Dc], the prompt context of every block of the video (prefix blocks
      included); noise: [B, NB·F, C, h, w], each block's starting noise (prefix blocks' unused);
    prefix: [B, P·F, C, h, w] clean latents of the first P blocks, committed before tick 0, or None;
    lag: Δ (1..5); attention: 'causal' | 'bidirectional';
    position_offset: [B, 1] added to every frame position (rotary attention is relative: only
      float rounding changes), or None;
    stop_tick: run ticks 0..stop_tick (default: to the end);
    grad_tick: the forward of this tick runs with autograd and its members' x̂0 are returned.

    Returns {'x0': final latents [B, NB·F, ...] (prefix blocks: the prefix; blocks not finished:
    their current state), 'members': [(block, stage)] of grad_tick, 'x0_hat': x̂0 of those members
    [B, m·F, ...] (with grad), 'states': their input latents at grad_tick}.
    """
    device = noise.device
    b_size, nb = contexts.shape[0], contexts.shape[1]
    fpb, tpf = c.frames_per_block, c.tokens_per_frame
    first = 0 if prefix is None else prefix.shape[1] // fpb
    offset = torch.zeros(b_size, 1, device=device) if position_offset is None else position_offset
    x = noise.clone()
    if prefix is not None:
        x[:, :first * fpb] = prefix
    committed = []  # [(key, value)] of cached blocks, oldest first, each [L,B,h,F·tpf,hd]

    def past():
        kept = committed[-window_blocks:] if window_blocks > 0 else committed
        if not kept:
            return None, None, 0
        return torch.cat([k for k, _ in kept], dim=3), torch.cat([v for _, v in kept], dim=3), sum(k.shape[3] for k, _ in kept)

    def positions_of(blocks):
        frames = torch.tensor([b * fpb + f for b in blocks for f in range(fpb)], device=device, dtype=torch.float32)
        return offset + frames[None]

    result = {'members': [], 'x0_hat': None, 'states': None}
    with torch.no_grad():
        for j in range(first):
            pk, pv, pt = past()
            sl = slice(j * fpb, (j + 1) * fpb)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                _, k, v = forward(dit, x[:, sl], torch.zeros(b_size, fpb, device=device), positions_of([j]), contexts[:, j],
                                  pk, pv, torch.zeros(1, 1, fpb * tpf, pt + fpb * tpf, device=device))
            committed.append((k.float(), v.float()))
    flying = nb - first
    end = last_denoising_tick(flying, lag) + 1 if stop_tick is None else stop_tick
    for tick in range(end + 1):
        members = [(first + r, s) for r, s in tick_members(tick, lag, flying)]
        if not members:
            break
        frames = [b * fpb + f for b, _ in members for f in range(fpb)]
        latents = x[:, frames]
        stage_t = [0.0 if s == 4 else float(PACKAGE_TIMESTEPS[s]) for _, s in members]
        timesteps = torch.tensor([t for t in stage_t for _ in range(fpb)], device=device)[None].expand(b_size, -1)
        pk, pv, pt = past()
        mask = in_flight_mask([b for b, _ in members for _ in range(fpb)], tpf, pt, attention, device)
        newest = members[-1][0]
        grad = tick == grad_tick
        with torch.set_grad_enabled(grad), torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            x0_hat, k, v = forward(dit, latents, timesteps, positions_of([b for b, _ in members]), contexts[:, newest], pk, pv, mask)
        x0_hat = x0_hat.float()
        if grad:
            result.update(members=members, x0_hat=x0_hat, states=latents)
        with torch.no_grad():
            for i, (b, s) in enumerate(members):
                sl = slice(b * fpb, (b + 1) * fpb)
                own = slice(i * fpb, (i + 1) * fpb)
                if s == 4:
                    tokens = slice(i * fpb * tpf, (i + 1) * fpb * tpf)
                    committed.append((k[:, :, :, tokens].detach().float(), v[:, :, :, tokens].detach().float()))
                    continue
                sigma = PACKAGE_SIGMAS[s]
                sigma_next = PACKAGE_SIGMAS[s + 1] if s + 1 < len(PACKAGE_SIGMAS) else 0.0
                # The head's flow (latents − x̂0)/max(σ, MIN_SIGMA), then the Euler step.
                flow = (latents[:, own] - x0_hat[:, own].detach()) / max(sigma, MIN_SIGMA)
                x[:, sl] = latents[:, own] + (sigma_next - sigma) * flow
        if len(committed) > window_blocks > 0:
            committed = committed[-window_blocks:]
    result['x0'] = x
    return result
