#!/usr/bin/python3
"""The torch pieces of DDPM training that tools/train_policy.py, tools/train_unet_policy.py and
tools/make_onnx_fixtures.py share, so that the three train, noise and schedule the learning rate the same way:

  * ``setup_torch``: torch made reproducible (fixed threads, deterministic algorithms);
  * ``squaredcos_cap_v2_betas``, ``scheduler_config``: the DDPM schedule as diffusers' DDPMScheduler computes and
    configures it;
  * ``warmup_cosine_lr``: linear warmup, then a cosine decay to a floor;
  * ``noised``: the forward process x_t = sqrt(acp_t) x0 + sqrt(1 - acp_t) noise, for samples of any rank;
  * ``adamw_matrices_decay``, ``train_step``, ``load_ema``: one epsilon-prediction step with an AdamW optimizer,
    gradient clipping and an EMA of the weights;
  * ``heldout_eps_mse``: the epsilon MSE on a fixed set (t and noise seeded).

Needs Debian's python3-torch (1.13); torch is imported lazily so that importing this module costs nothing.
"""

import math
import warnings


def setup_torch(threads):
    """Imports torch with `threads` intra-op threads, one inter-op thread and deterministic algorithms (the same bytes
    on every run of the same machine), and silences the ONNX exporter's warning about prim::Constant shapes."""
    import torch
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (torch allows it once per process)
        pass
    torch.use_deterministic_algorithms(True)
    warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
    return torch


def squaredcos_cap_v2_betas(T):
    """diffusers' squaredcos_cap_v2 betas of T train timesteps, float32 (as DDPMScheduler computes them)."""
    import torch

    def abar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
    return torch.tensor([min(1 - abar((i + 1) / T) / abar(i / T), 0.999) for i in range(T)], dtype=torch.float32)


def scheduler_config(T, beta_schedule, clip_sample):
    """A diffusers DDPMScheduler config (scheduler_config.json's keys, in its order): epsilon prediction, fixed_small
    variance, "leading" spacing."""
    return {
        "num_train_timesteps": T,
        "beta_start": 0.0001,
        "beta_end": 0.02,
        "beta_schedule": beta_schedule,
        "trained_betas": None,
        "variance_type": "fixed_small",
        "clip_sample": clip_sample,
        "clip_sample_range": 1.0,
        "prediction_type": "epsilon",
        "thresholding": False,
        "timestep_spacing": "leading",
        "steps_offset": 0,
        "rescale_betas_zero_snr": False,
    }


def warmup_cosine_lr(step, steps, base, warmup, floor):
    """The learning rate of step `step` of `steps`: linear warmup to `base` over `warmup` steps, then a cosine decay
    from `base` to `floor` * `base`."""
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p)))


def noised(x0, acp, t, noise):
    """x_t of the DDPM forward process: acp[t] (one per row of x0) broadcast over the other dims of x0."""
    a = acp[t].reshape([x0.shape[0]] + [1] * (x0.dim() - 1))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def adamw_matrices_decay(model, lr, weight_decay):
    """AdamW (betas 0.9, 0.999) with weight decay on the matrices and kernels (dim >= 2) only, not on biases and
    norms."""
    import torch
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.999))


def train_step(model, opt, ema, ema_decay, step, lr, x0_pool, cond_pool, acp, T, batch, gen):
    """One epsilon-prediction step of `model(x_t, t, cond)` on `batch` rows drawn from the pools (rows, then t, then
    the noise, all from `gen`), with learning rate `lr`, gradient norm clipped to 1, then the EMA update (decay
    min(ema_decay, (1 + step) / (10 + step))). Returns the batch loss."""
    import torch
    import torch.nn.functional as F
    for g in opt.param_groups:
        g["lr"] = lr
    idx = torch.randint(0, len(cond_pool), (batch,), generator=gen)
    x0, c = x0_pool[idx], cond_pool[idx]
    t = torch.randint(0, T, (batch,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    loss = F.mse_loss(model(noised(x0, acp, t, noise), t, c), noise)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    dcy = min(ema_decay, (1.0 + step) / (10.0 + step))
    with torch.no_grad():
        for e, p in zip(ema, model.parameters()):
            e.mul_(dcy).add_(p.detach(), alpha=1.0 - dcy)
    return float(loss)


def load_ema(model, ema):
    """Copies the EMA weights into the model (what the scripts export)."""
    import torch
    with torch.no_grad():
        for e, p in zip(ema, model.parameters()):
            p.copy_(e)


def heldout_eps_mse(eps, x0, acp, T, seed):
    """The epsilon MSE of eps(x_t, t) on x0, with t ~ U{0..T-1} and the noise drawn from a generator seeded `seed`."""
    import torch
    import torch.nn.functional as F
    gen = torch.Generator().manual_seed(seed)
    t = torch.randint(0, T, (x0.shape[0],), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    with torch.no_grad():
        return float(F.mse_loss(eps(noised(x0, acp, t, noise), t), noise))
