#!/usr/bin/env python3
"""
safetensors_model.py: a PyTorch model (float64) built from an exported model.safetensors + config.json,
read the way the Hugging Face families define them, not through this project's C code:
  GPT-2 (model_type gpt2): Conv1D weights (in, out), y = x W + b; LayerNorm; tanh GELU; learned positions.
  Llama (model_type llama): nn.Linear weights (out, in); RMSNorm; SwiGLU; RoPE rotating the channel pairs
  (j, j + hs/2) of each head ("rotate_half"); or no positions.
The "ssmax_train" section of config.json names what lies beyond the families (the attention normalizer
and its per-head parameters, QK-norm, biases and LayerNorm where the family has none, document masking);
the normalizers themselves are those of scripts/reference.py.

    safetensors_model.py DIR --prompt-ids 1,2,3        the next-token distribution's top 5 after the ids
    safetensors_model.py DIR --ref tests/ref/X.ref --out probs.bin
                                                       the probabilities on the reference's first batch, as
                                                       float32 (B, T, Vp), and their largest difference to its
    safetensors_model.py --write-hf-gpt2 CKPT DIR [--dtype F32|F16|BF16]
                                                       a Hugging Face GPT-2 style file (hub names, Conv1D
                                                       layout, causal-mask buffers, no ssmax_train) from a
                                                       reference checkpoint of the gpt2-softmax shape, for tests
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402  (the normalizers' definitions, shapes of the reference checkpoints)

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}


def read_safetensors(path):
    """{name: float64 numpy array}; every header field checked"""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: shorter than a header" % path)
    n = struct.unpack("<Q", data[:8])[0]
    if n > len(data) - 8:
        raise ValueError("%s: header length past the file" % path)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        kind, size = DTYPES[t["dtype"]]
        b, e = t["data_offsets"]
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        if not (0 <= b <= e <= len(body)) or e - b != count * size:
            raise ValueError("%s: tensor %s has bad offsets" % (path, name))
        raw = body[b:e]
        if t["dtype"] == "BF16":
            x = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            x = np.frombuffer(raw, dtype=np.dtype(kind).newbyteorder("<"))
        out[name] = x.astype(np.float64).reshape(t["shape"])
    return out


def load(folder):
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    return w, cfg


def describe(cfg):
    """the architecture: from ssmax_train where the file has it, else the family's plain one"""
    own = cfg.get("ssmax_train")
    if own:
        return dict(own)
    if cfg["model_type"] == "gpt2":
        return dict(attn="softmax", pos="learned", norm="layernorm", mlp="gelu", layers=cfg["n_layer"], heads=cfg["n_head"],
                    width=cfg["n_embd"], ffn=cfg.get("n_inner") or 4 * cfg["n_embd"], vocab=cfg["vocab_size"],
                    tie=int(cfg.get("tie_word_embeddings", True)), bias=1, qk_norm=0, doc_mask=0, eot=0, rope_theta=10000.0)
    return dict(attn="softmax", pos="rope", norm="rmsnorm", mlp="swiglu", layers=cfg["num_hidden_layers"],
                heads=cfg["num_attention_heads"], width=cfg["hidden_size"], ffn=cfg["intermediate_size"], vocab=cfg["vocab_size"],
                tie=int(cfg.get("tie_word_embeddings", False)), bias=int(cfg.get("attention_bias", False)), qk_norm=0,
                doc_mask=0, eot=0, rope_theta=cfg.get("rope_theta", 10000.0))


def rotate_half_rope(x, theta):
    # x (B, NH, T, hs): channel j pairs with j + hs/2, angle t * theta^(-2j/hs)
    Tn, hs = x.shape[2], x.shape[3]
    inv = theta ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)
    ang = torch.arange(Tn, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([torch.cos(ang)] * 2, dim=-1)
    sin = torch.cat([torch.sin(ang)] * 2, dim=-1)
    half = hs // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


def forward(w, cfg, idx):
    """logits (B, T, V) of token ids idx (B, T)"""
    a = describe(cfg)
    T = lambda n: torch.from_numpy(w[n]) if n in w else None
    gpt2 = cfg["model_type"] == "gpt2"
    pre = "" if gpt2 and "wte.weight" in w else "transformer." if gpt2 else ""
    L, NH, C = a["layers"], a["heads"], a["width"]
    hs = C // NH
    Bn, Tn = idx.shape

    def norm(x, base):
        wt, b = T(base + ".weight"), T(base + ".bias")
        if a["norm"] == "layernorm":
            return F.layer_norm(x, (x.shape[-1],), wt, b, eps=1e-5)
        y = x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * wt
        return y + b if b is not None else y

    def conv1d(x, base):  # GPT-2's Conv1D: weight (in, out)
        y = x @ T(base + ".weight")
        return y + T(base + ".bias") if T(base + ".bias") is not None else y

    def linear(x, base):  # nn.Linear: weight (out, in)
        return F.linear(x, T(base + ".weight"), T(base + ".bias"))

    x = T(pre + "wte.weight" if gpt2 else "model.embed_tokens.weight")[idx]
    if a["pos"] == "learned":
        x = x + T(pre + "wpe.weight")[:Tn]
    causal = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    if a.get("doc_mask"):
        p = torch.arange(Tn)
        start = torch.cummax(torch.where(idx == a["eot"], p[None, :], torch.zeros_like(idx)), dim=1).values
        mask = causal[None] & (p[None, None, :] >= start[:, :, None])
    else:
        mask = causal[None].expand(Bn, Tn, Tn)
    n = mask.sum(-1).to(torch.float64)
    mask = mask[:, None]
    heads = lambda t: t.view(Bn, Tn, NH, hs).transpose(1, 2)
    for l in range(L):
        lp = "%sh.%d." % (pre, l) if gpt2 else "model.layers.%d." % l
        att = lp + ("attn" if gpt2 else "self_attn")
        h = norm(x, lp + ("ln_1" if gpt2 else "input_layernorm"))
        if gpt2:
            q, k, v = [heads(t) for t in conv1d(h, att + ".c_attn").split(C, dim=-1)]
        else:
            q, k, v = [heads(linear(h, "%s.%s_proj" % (att, j))) for j in "qkv"]
        if a.get("qk_norm"):
            q = q * torch.rsqrt((q * q).mean(-1, keepdim=True) + 1e-5) * T(att + ".q_norm.weight")
            k = k * torch.rsqrt((k * k).mean(-1, keepdim=True) + 1e-5) * T(att + ".k_norm.weight")
        if a["pos"] == "rope":
            q, k = rotate_half_rope(q, a["rope_theta"]), rotate_half_rope(k, a["rope_theta"])
        z = q @ k.transpose(-2, -1) / math.sqrt(hs)
        params = {p: T("%s.normalizer.%s" % (att, p)) for p in reference.ATTN_PARAMS[a["attn"]]}
        y = (reference.attention_weights(z, a["attn"], params, n, mask) @ v).transpose(1, 2).reshape(Bn, Tn, C)
        x = x + (conv1d(y, att + ".c_proj") if gpt2 else linear(y, att + ".o_proj"))
        h = norm(x, lp + ("ln_2" if gpt2 else "post_attention_layernorm"))
        if gpt2:
            f = conv1d(h, lp + "mlp.c_fc")
            if a["mlp"] == "swiglu":
                gate, up = f.split(a["ffn"], dim=-1)
                f = F.silu(gate) * up
            else:
                f = F.gelu(f, approximate="tanh")
            x = x + conv1d(f, lp + "mlp.c_proj")
        else:
            if a["mlp"] == "swiglu":
                f = F.silu(linear(h, lp + "mlp.gate_proj")) * linear(h, lp + "mlp.up_proj")
            else:
                f = F.gelu(linear(h, lp + "mlp.up_proj"), approximate="tanh")
            x = x + linear(f, lp + "mlp.down_proj")
    x = norm(x, pre + "ln_f" if gpt2 else "model.norm")
    head = T("lm_head.weight") if not a["tie"] else T(pre + "wte.weight" if gpt2 else "model.embed_tokens.weight")
    return x @ head.T


def reference_batch(path):
    with open(path, "rb") as f:
        h = np.frombuffer(f.read(1024), dtype=np.int32)
        B, T_, steps, V, VP = h[2], h[3], h[4], h[6], h[7]
        tokens = np.frombuffer(f.read(4 * steps * B * (T_ + 1)), dtype=np.int32).reshape(steps, B, T_ + 1)
        probs = np.frombuffer(f.read(4 * B * T_ * VP), dtype=np.float32).reshape(B, T_, VP)
    return torch.from_numpy(tokens[0, :, :-1].astype(np.int64)), probs, int(V), int(VP)


def write_safetensors(path, tensors, dtype="F32"):
    """{name: numpy array} in the given dtype, header padded to 8 bytes"""
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, x in tensors.items():
        if dtype == "BF16" and name.endswith((".weight", ".bias")) and not name.endswith("attn.bias"):
            raw = (np.asarray(x, dtype=np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()  # truncation
            dt = "BF16"
        elif dtype == "F16" and not name.endswith("attn.bias"):
            raw, dt = np.asarray(x, dtype="<f2").tobytes(), "F16"
        else:
            raw, dt = np.asarray(x, dtype="<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(np.shape(x)), "data_offsets": [at, at + len(raw)]}
        blobs.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_hf_gpt2(ckpt, folder, dtype):
    """the reference checkpoint of a gpt2-softmax shape as the Hugging Face hub lays GPT-2 out"""
    cfg = reference.CONFIGS["gpt2-softmax"]
    s, _ = reference.shapes(cfg)
    with open(ckpt, "rb") as f:
        f.seek(1024)
        flat = np.frombuffer(f.read(), dtype=np.float32)
    P, at = {}, 0
    for name in reference.NAMES:
        if s[name] is None:
            continue
        k = int(np.prod(s[name]))
        P[name] = flat[at:at + k].reshape(s[name])
        at += k
    V, L, T_ = reference.V, reference.L, reference.T
    t = {"wte.weight": P["wte"][:V], "wpe.weight": P["wpe"]}
    for l in range(L):
        t["h.%d.ln_1.weight" % l], t["h.%d.ln_1.bias" % l] = P["ln1w"][l], P["ln1b"][l]
        t["h.%d.attn.bias" % l] = np.tril(np.ones((T_, T_), dtype=np.float32))[None, None]  # the causal-mask buffer
        t["h.%d.attn.c_attn.weight" % l], t["h.%d.attn.c_attn.bias" % l] = P["qkvw"][l].T, P["qkvb"][l]
        t["h.%d.attn.c_proj.weight" % l], t["h.%d.attn.c_proj.bias" % l] = P["attprojw"][l].T, P["attprojb"][l]
        t["h.%d.ln_2.weight" % l], t["h.%d.ln_2.bias" % l] = P["ln2w"][l], P["ln2b"][l]
        t["h.%d.mlp.c_fc.weight" % l], t["h.%d.mlp.c_fc.bias" % l] = P["fcw"][l].T, P["fcb"][l]
        t["h.%d.mlp.c_proj.weight" % l], t["h.%d.mlp.c_proj.bias" % l] = P["fcprojw"][l].T, P["fcprojb"][l]
    t["ln_f.weight"], t["ln_f.bias"] = P["lnfw"], P["lnfb"]
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), t, dtype)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": L, "n_head": reference.NH,
              "n_embd": reference.C, "n_positions": T_, "n_ctx": T_, "n_inner": None, "vocab_size": V,
              "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
              "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "bos_token_id": 0, "eos_token_id": 0}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", help="a folder with model.safetensors and config.json")
    ap.add_argument("--prompt-ids", default=None, help="token ids, comma-separated")
    ap.add_argument("--ref", default=None, help="a reference file (tests/ref/NAME.ref): its first batch")
    ap.add_argument("--out", default=None, help="with --ref: write the probabilities here (float32)")
    ap.add_argument("--write-hf-gpt2", nargs=2, metavar=("CKPT", "DIR"), default=None)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="F32")
    args = ap.parse_args()
    if args.write_hf_gpt2:
        write_hf_gpt2(*args.write_hf_gpt2, args.dtype)
        return
    if not args.folder:
        sys.exit("error: give a folder with model.safetensors and config.json\nHINT: e.g. safetensors_model.py export --prompt-ids 1,2,3")
    w, cfg = load(args.folder)
    if args.ref:
        idx, ref_probs, V, VP = reference_batch(args.ref)
        with torch.no_grad():
            logits = forward(w, cfg, idx)[..., :V]
        probs = torch.softmax(logits, dim=-1).numpy()
        full = np.zeros(ref_probs.shape, dtype=np.float32)
        full[..., :V] = probs
        if args.out:
            full.tofile(args.out)
        print("%.3g" % float(np.abs(full.astype(np.float64) - ref_probs).max()))
        return
    ids = [int(x) for x in (args.prompt_ids or "0").split(",")]
    with torch.no_grad():
        logits = forward(w, cfg, torch.tensor([ids]))[0, -1]
    p = torch.softmax(logits, dim=-1)
    top = torch.topk(p, min(5, p.numel()))
    for prob, i in zip(top.values.tolist(), top.indices.tolist()):
        print("%6d  %.4f" % (i, prob))


if __name__ == "__main__":
    main()
