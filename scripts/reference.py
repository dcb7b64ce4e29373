#!/usr/bin/env python3
"""
reference.py: the PyTorch reference model, written independently of the C code from the
definitions in README.md, in float64. For each small config it

  1. draws random weights (float32 values) and writes them as our checkpoint (NAME.ckpt),
     and for the GPT-2-style config also as an llm.c model file (NAME.llmc.bin);
  2. runs forward and backward on random tokens and writes the probabilities, the loss and
     every parameter gradient, then the losses of 10 AdamW steps (NAME.ref).

tests/test_model.c loads the checkpoint, repeats the computation in C and compares.
Run it with `make reference`; the outputs are small and committed.

NAME.ref layout: int32 header[256] = {magic 20261124, version 1, B, T, steps, parameter count,
V, Vp, ...; [8..13] lr, beta1, beta2, eps, weight decay, clip as float32 bits}, then
int32 tokens (steps, B, T+1), float32 probs (B, T, Vp), float32 loss, float32 grads (parameter
count, in the checkpoint's tensor order), float32 losses (steps).
"""
import argparse
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

ATTN = {"softmax": 0, "ssmax": 1, "ssmax-fixed": 2, "ssmax-bias": 3, "temp": 4, "logn": 5, "softmax1": 6, "sink": 7,
        "ssmax-sink": 8, "sigmoid": 9, "softpick": 10}
# each normalizer's per-head parameters, in the order of the checkpoint's slots attn0, attn1
ATTN_PARAMS = {"softmax": [], "ssmax": ["s"], "ssmax-fixed": ["s"], "ssmax-bias": ["s", "b"], "temp": ["tau"],
               "logn": [], "softmax1": [], "sink": ["sigma"], "ssmax-sink": ["s", "sigma"], "sigmoid": [],
               "softpick": []}
FIXED = {"ssmax-fixed"}  # normalizers whose parameters get no gradient
SOFTPICK_EPS = 1e-6
LOGN_T_TRAIN = 4  # the LogN reference config's training length: rows past it get ln n / ln 4
POS = {"learned": 0, "rope": 1, "none": 2}
NORM = {"layernorm": 0, "rmsnorm": 1}
MLP = {"gelu": 0, "swiglu": 1}
NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b",
         "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb", "lmw", "attn0", "attn1", "qnormw", "knormw"]
DECAY = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw", "lmw"}

CONFIGS = {
    # name: attn, pos, norm, mlp, tie, bias
    "gpt2-softmax": ("softmax", "learned", "layernorm", "gelu", 1, 1),
    "gpt2-ssmax": ("ssmax", "learned", "layernorm", "gelu", 1, 1),
    "llama-softmax": ("softmax", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-ssmax": ("ssmax", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-ssmax-fixed": ("ssmax-fixed", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-ssmax-bias": ("ssmax-bias", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-temp": ("temp", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-logn": ("logn", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-softmax1": ("softmax1", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-sink": ("sink", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-ssmax-sink": ("ssmax-sink", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-sigmoid": ("sigmoid", "rope", "rmsnorm", "swiglu", 0, 0),
    "llama-softpick": ("softpick", "rope", "rmsnorm", "swiglu", 0, 0),
    "gpt2-sink": ("sink", "learned", "layernorm", "gelu", 1, 1),
    "gpt2-softpick": ("softpick", "learned", "layernorm", "gelu", 1, 1),
    "nope-ssmax": ("ssmax", "none", "rmsnorm", "swiglu", 0, 0),
    # document masking (a 7th field): end-of-text tokens (EOT) start documents inside the windows
    "llama-ssmax-docmask": ("ssmax", "rope", "rmsnorm", "swiglu", 0, 0, 1),
    "llama-sink-docmask": ("sink", "rope", "rmsnorm", "swiglu", 0, 0, 1),
    "gpt2-softpick-docmask": ("softpick", "learned", "layernorm", "gelu", 1, 1, 1),
    # QK-norm (7th field 2)
    "llama-ssmax-qknorm": ("ssmax", "rope", "rmsnorm", "swiglu", 0, 0, 2),
    "gpt2-softmax-qknorm": ("softmax", "learned", "layernorm", "gelu", 1, 1, 2),
}
EOT = 5  # the document configs' end-of-text token


def doc_masked(cfg):
    return len(cfg) > 6 and cfg[6] == 1


def qk_normed(cfg):
    return len(cfg) > 6 and cfg[6] == 2
L, NH, C, T, B, V, STEPS = 2, 2, 16, 8, 2, 37, 10
VP = (V + 63) // 64 * 64
HP = dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, wd=0.1, clip=1.0)


class Dims:
    """model sizes; the defaults are the small reference configs (F: 4C for gelu, as llm.c files require)"""
    def __init__(self, L=L, NH=NH, C=C, T=T, V=V, F=None, mlp="gelu"):
        self.L, self.NH, self.C, self.T, self.V = L, NH, C, T, V
        self.VP = (V + 63) // 64 * 64
        self.F = F if F is not None else (4 * C if mlp == "gelu" else 24)


def shapes(cfg, d=None):
    attn, pos, norm, mlp, tie, bias = cfg[:6]
    d = d or Dims(mlp=mlp)
    L, NH, C, T, VP = d.L, d.NH, d.C, d.T, d.VP
    Fh = d.F
    Fin = 2 * Fh if mlp == "swiglu" else Fh
    ln = norm == "layernorm"
    s = {
        "wte": (VP, C), "wpe": (T, C) if pos == "learned" else None,
        "ln1w": (L, C), "ln1b": (L, C) if ln else None,
        "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C) if bias else None,
        "attprojw": (L, C, C), "attprojb": (L, C) if bias else None,
        "ln2w": (L, C), "ln2b": (L, C) if ln else None,
        "fcw": (L, Fin, C), "fcb": (L, Fin) if bias else None,
        "fcprojw": (L, C, Fh), "fcprojb": (L, C) if bias else None,
        "lnfw": (C,), "lnfb": (C,) if ln else None,
        "lmw": None if tie else (VP, C),
        "attn0": (L, NH) if len(ATTN_PARAMS[attn]) > 0 else None,
        "attn1": (L, NH) if len(ATTN_PARAMS[attn]) > 1 else None,
        "qnormw": (L, C // NH) if qk_normed(cfg) else None, "knormw": (L, C // NH) if qk_normed(cfg) else None,
    }
    return s, Fh


def init_params(cfg, gen, d=None, dtype=torch.float64):
    """float32 random values (then held in float64), large enough that attention is far from uniform"""
    d = d or Dims(mlp=cfg[3])
    s, _ = shapes(cfg, d)
    P = {}
    for name in NAMES:
        if s[name] is None:
            continue
        kind = ATTN_PARAMS[cfg[0]][int(name[-1])] if name.startswith("attn") else None
        if name in ("ln1w", "ln2w", "lnfw", "qnormw", "knormw"):
            x = 1.0 + 0.1 * torch.randn(s[name], generator=gen)
        elif kind == "s":
            x = 0.6 + 0.3 * torch.rand(s[name], generator=gen)
        elif kind == "b":
            x = 0.2 * torch.randn(s[name], generator=gen)
        elif kind == "tau":
            x = 0.7 + 0.6 * torch.rand(s[name], generator=gen)
        elif kind == "sigma":
            x = 0.5 * torch.randn(s[name], generator=gen)
        elif name in DECAY:
            x = 0.3 * torch.randn(s[name], generator=gen)
        else:
            x = 0.1 * torch.randn(s[name], generator=gen)
        if name in ("wte", "lmw"):
            x[d.V:] = 0  # padded vocabulary rows
        P[name] = x.float().to(dtype)
    return P


def rope(x, theta):
    # x is (B, NH, T, hs): rotate each (even, odd) channel pair by t * theta^(-2i/hs)
    Tn, hs = x.shape[2], x.shape[3]
    i = torch.arange(hs // 2, dtype=torch.float64)
    ang = torch.arange(Tn, dtype=torch.float64)[:, None] * theta ** (-2.0 * i / hs)[None, :]
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def norm_fn(x, w, b, kind):
    if kind == "layernorm":
        return F.layer_norm(x, (x.shape[-1],), w, b, eps=1e-5)
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w


def forward(P, cfg, idx, d=None):
    attn, pos, norm, mlp, tie, bias = cfg[:6]
    d = d or Dims(mlp=mlp)
    L, NH, C = d.L, d.NH, d.C
    Fh = d.F
    Bn, Tn = idx.shape
    hs = C // NH
    dt = P["wte"].dtype
    g = lambda n, l=None: None if n not in P else (P[n] if l is None else P[n][l])
    x = P["wte"][idx]
    if pos == "learned":
        x = x + P["wpe"][:Tn]
    causal = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    if doc_masked(cfg):  # a query sees the keys from the last end-of-text token at or before it
        pos_ = torch.arange(Tn)
        start = torch.cummax(torch.where(idx == EOT, pos_[None, :], torch.zeros_like(idx)), dim=1).values  # (B, T)
        mask = causal[None] & (pos_[None, None, :] >= start[:, :, None])  # (B, T, T)
    else:
        mask = causal[None].expand(Bn, Tn, Tn)
    n = mask.sum(-1).to(dt)  # (B, T): keys visible to each query
    mask = mask[:, None]  # (B, 1, T, T)
    for l in range(L):
        h = norm_fn(x, g("ln1w", l), g("ln1b", l), norm)
        qkv = F.linear(h, g("qkvw", l), g("qkvb", l))
        q, k, v = [t.view(Bn, Tn, NH, hs).transpose(1, 2) for t in qkv.split(C, dim=-1)]
        if qk_normed(cfg):  # RMSNorm of each head's q and k, gains shared by the heads, before RoPE
            q = norm_fn(q, g("qnormw", l), None, "rmsnorm")
            k = norm_fn(k, g("knormw", l), None, "rmsnorm")
        if pos == "rope":
            q, k = rope(q, 10000.0), rope(k, 10000.0)
        z = q @ k.transpose(-2, -1) / math.sqrt(hs)
        y = (attention_weights(z, attn, {k_: P[f"attn{i}"][l] for i, k_ in enumerate(ATTN_PARAMS[attn])}, n, mask)
             @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + F.linear(y, g("attprojw", l), g("attprojb", l))
        h = norm_fn(x, g("ln2w", l), g("ln2b", l), norm)
        f = F.linear(h, g("fcw", l), g("fcb", l))
        if mlp == "swiglu":
            gate, up = f.split(Fh, dim=-1)
            a = F.silu(gate) * up
        else:
            a = F.gelu(f, approximate="tanh")
        x = x + F.linear(a, g("fcprojw", l), g("fcprojb", l))
    x = norm_fn(x, P["lnfw"], g("lnfb"), norm)
    return x @ (P["wte"] if tie else P["lmw"]).T  # (B, T, Vp)


def attention_weights(z, attn, p, n, mask):
    """z: (B, NH, T, T) scores q.k / sqrt(hs); p: this layer's per-head parameters by name; n: (B, T) keys
    visible to each query; mask: (B, 1, T, T) which keys each query sees. Returns the weights (B, NH, T, T),
    zero where masked."""
    head = lambda x: x[None, :, None, None]  # (NH) -> broadcast over batch, queries, keys
    logn = torch.log(n)[:, None, :, None]
    if attn in ("ssmax", "ssmax-fixed", "ssmax-sink"):
        z = z * head(p["s"]) * logn  # n^(s z) = e^(s ln(n) z)
    elif attn == "ssmax-bias":
        z = z * (head(p["s"]) * logn + head(p["b"]))
    elif attn == "temp":
        z = z * head(p["tau"])
    elif attn == "logn":
        z = z * torch.clamp(logn / math.log(LOGN_T_TRAIN), min=1.0)
    if attn == "sigmoid":  # sigmoid(z - ln n), no normalisation over the row
        return torch.sigmoid(z - logn).masked_fill(~mask, 0.0)
    if attn == "softpick":  # relu(e^z - 1) / (sum over visible keys of |e^z - 1| + eps)
        e = torch.exp(z) - 1
        den = e.abs().masked_fill(~mask, 0.0).sum(-1, keepdim=True) + SOFTPICK_EPS
        return (torch.relu(e) / den).masked_fill(~mask, 0.0)
    z = z.masked_fill(~mask, float("-inf"))
    if attn in ("softmax1", "sink", "ssmax-sink"):  # e^z / (e^sigma + sum e^z): a sink column in the softmax
        sigma = torch.zeros(z.shape[1], dtype=z.dtype) if attn == "softmax1" else p["sigma"]
        col = head(sigma).expand(z.shape[0], -1, z.shape[2], 1)
        return torch.softmax(torch.cat([z, col], dim=-1), dim=-1)[..., :-1]
    return torch.softmax(z, dim=-1)


def loss_of(logits, targets, vocab=V):
    return F.cross_entropy(logits[..., :vocab].reshape(-1, vocab), targets.reshape(-1))


def header(values):
    h = np.zeros(256, dtype=np.int32)
    for i, v in values.items():
        h[i] = np.array([v], dtype=np.float32).view(np.int32)[0] if isinstance(v, float) else v
    return h


def write_checkpoint(path, P, cfg):
    attn, pos, norm, mlp, tie, bias = cfg[:6]
    s, Fh = shapes(cfg)
    count = sum(int(np.prod(s[n])) for n in NAMES if s[n] is not None)
    T_over_lnfact = T / math.lgamma(T + 1.0)
    h = header({0: 20261123, 1: 2 if doc_masked(cfg) or qk_normed(cfg) else 1, 2: T, 3: V, 4: L, 5: NH, 6: C, 7: VP, 8: Fh, 9: ATTN[attn], 10: POS[pos],
                11: NORM[norm], 12: MLP[mlp], 13: tie, 14: bias, 15: 1, 16: 10000.0, 17: float(T_over_lnfact),
                18: count, 19: 0, 20: 0, 21: LOGN_T_TRAIN if attn == "logn" else 0,
                22: 1 if doc_masked(cfg) else 0, 23: EOT if doc_masked(cfg) else 0, 24: 1 if qk_normed(cfg) else 0})
    with open(path, "wb") as f:
        f.write(h.tobytes())
        for n in NAMES:
            if n in P:
                f.write(P[n].float().numpy().tobytes())


def write_llmc(path, P):
    # llm.c's GPT-2 file: magic 20240326, version 3, maxT, V, L, NH, C, Vp, then fp32 params
    h = header({0: 20240326, 1: 3, 2: T, 3: V, 4: L, 5: NH, 6: C, 7: VP})
    with open(path, "wb") as f:
        f.write(h.tobytes())
        for n in NAMES[:16]:
            f.write(P[n].float().numpy().tobytes())


def make_reference(name, cfg, outdir, seed):
    gen = torch.Generator().manual_seed(seed)
    P = init_params(cfg, gen)
    tokens = torch.randint(0, V, (STEPS, B, T + 1), generator=gen)
    if doc_masked(cfg):  # documents starting at positions 2 and 5 of the first row, 3 of the second
        tokens[:, 0, 2] = tokens[:, 0, 5] = tokens[:, 1, 3] = EOT
    write_checkpoint(os.path.join(outdir, name + ".ckpt"), P, cfg)
    if name == "gpt2-softmax":
        write_llmc(os.path.join(outdir, name + ".llmc.bin"), P)

    params = {n: p.clone().requires_grad_(not (n.startswith("attn") and cfg[0] in FIXED)) for n, p in P.items()}
    logits = forward(params, cfg, tokens[0, :, :-1])
    loss = loss_of(logits, tokens[0, :, 1:])
    loss.backward()
    probs = torch.softmax(logits.detach()[..., :V], dim=-1)
    probs = torch.cat([probs, torch.zeros(B, T, VP - V, dtype=torch.float64)], dim=-1)
    grads = [(params[n].grad if params[n].grad is not None else torch.zeros_like(params[n])).reshape(-1)
             for n in NAMES if n in params]

    # 10 AdamW steps from the same start: torch.optim.AdamW, decay on matrices only, global-norm clipping
    params = {n: p.clone().requires_grad_(not (n.startswith("attn") and cfg[0] in FIXED)) for n, p in P.items()}
    train = [p for p in params.values() if p.requires_grad]
    groups = [{"params": [params[n] for n in params if n in DECAY], "weight_decay": HP["wd"]},
              {"params": [params[n] for n in params if n not in DECAY and params[n].requires_grad], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=HP["lr"], betas=(HP["beta1"], HP["beta2"]), eps=HP["eps"])
    losses = []
    for step in range(STEPS):
        opt.zero_grad()
        l = loss_of(forward(params, cfg, tokens[step, :, :-1]), tokens[step, :, 1:])
        l.backward()
        torch.nn.utils.clip_grad_norm_(train, HP["clip"])
        opt.step()
        losses.append(l.item())

    count = sum(g.numel() for g in grads)
    h = header({0: 20261124, 1: 1, 2: B, 3: T, 4: STEPS, 5: count, 6: V, 7: VP, 8: HP["lr"], 9: HP["beta1"],
                10: HP["beta2"], 11: HP["eps"], 12: HP["wd"], 13: HP["clip"]})
    with open(os.path.join(outdir, name + ".ref"), "wb") as f:
        f.write(h.tobytes())
        f.write(tokens.numpy().astype(np.int32).tobytes())
        f.write(probs.float().numpy().tobytes())
        f.write(np.array([loss.item()], dtype=np.float32).tobytes())
        f.write(torch.cat(grads).float().numpy().tobytes())
        f.write(np.array(losses, dtype=np.float32).tobytes())
    print(f"{name}: loss {loss.item():.6f}, {count} parameters, losses after 10 AdamW steps {losses[-1]:.6f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/ref", help="output folder (default: tests/ref)")
    ap.add_argument("--seed", type=int, default=1234, help="random seed (default: 1234)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        make_reference(name, cfg, args.out, args.seed + i)


if __name__ == "__main__":
    main()
