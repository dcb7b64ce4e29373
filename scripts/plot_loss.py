#!/usr/bin/env python3
"""
plot_loss.py: train and validation loss of several runs in one figure, and a table of final losses.

    plot_loss.py --out runs/compare/loss.png softmax=runs/compare/softmax ssmax=runs/compare/ssmax

Each NAME=DIR reads DIR/log.csv (written by train_gpt); a plain DIR is named by the normalizer in its
config.json, and the default title describes the first run's model from its config.json. With --shard, the unigram entropy of the
tokens in that shard is drawn as a reference line: a model below it has learned more than token counts.
"""
import argparse
import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def read_log(path):
    steps, train, vsteps, val, tokps = [], [], [], [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            steps.append(int(row["step"]))
            train.append(float(row["train_loss"]))
            tokps.append(float(row["tok_per_s"]))
            if row["val_loss"]:
                vsteps.append(int(row["step"]))
                val.append(float(row["val_loss"]))
    return np.array(steps), np.array(train), np.array(vsteps), np.array(val), np.array(tokps)


def run_config(d):
    """the run's config.json (train_gpt writes it at start), or None for runs from before it"""
    try:
        with open(os.path.join(d, "config.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def describe(cfg):
    m, r = cfg["model"], cfg["run"]
    return "%s: L=%d C=%d heads=%d, T=%d, %d tok/step, %s tokens" % (
        m.get("preset") or "model", m["layers"], m["width"], m["heads"], r["seq"], r["tokens_per_step"], m["tokenizer"])


def smooth(x, k):
    if len(x) < k or k < 2:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])


def unigram_entropy(shard):
    with open(shard, "rb") as f:
        header = np.frombuffer(f.read(1024), dtype=np.int32)
        if header[0] != 20240520:
            sys.exit(f"error: {shard} is not a token shard (magic {header[0]})\nHINT: pass a train_*.bin made by prepare_data")
        tokens = np.frombuffer(f.read(), dtype=np.uint16)
    p = np.bincount(tokens).astype(np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="NAME=DIR pairs or DIRs; DIR holds log.csv")
    ap.add_argument("--out", default="loss.png", help="output PNG (default: loss.png)")
    ap.add_argument("--shard", help="a train shard, to draw its unigram entropy")
    ap.add_argument("--title", default=None, help="figure title (default: the first run's model, from its config.json)")
    args = ap.parse_args()

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    rows = []
    for i, spec in enumerate(args.runs):
        if "=" in spec:
            name, d = spec.split("=", 1)
        else:  # a plain run folder: named by its normalizer
            d = spec
            cfg = run_config(d)
            name = cfg["model"]["attn"] if cfg else os.path.basename(os.path.normpath(d))
        if i == 0 and args.title is None:
            cfg = run_config(d)
            args.title = (describe(cfg) + "\n" if cfg else "") + "train (thin) and validation (dots) loss"
        path = os.path.join(d, "log.csv")
        if not os.path.exists(path):
            sys.exit(f"error: {path} does not exist\nHINT: train the run first (train_gpt -o {d})")
        steps, train, vsteps, val, tokps = read_log(path)
        color = f"C{i}"
        ax.plot(steps, train, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, smooth(train, 20), color=color, linewidth=1.2, label=f"{name} train (smoothed)")
        if len(val):
            ax.plot(vsteps, val, "o-", color=color, markersize=3.5, linewidth=1.6, label=f"{name} val")
        rows.append((name, steps[-1] if len(steps) else 0, float(np.mean(train[-20:])) if len(train) else math.nan,
                     val[-1] if len(val) else math.nan, val.min() if len(val) else math.nan,
                     float(np.median(tokps)) if len(tokps) else math.nan))
    if args.shard:
        h = unigram_entropy(args.shard)
        ax.axhline(h, color="gray", linestyle="--", linewidth=1)
        ax.text(ax.get_xlim()[1], h, f" unigram entropy {h:.2f}", va="bottom", ha="right", color="gray", fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss (nats/token)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    lo = min(r[4] for r in rows if not math.isnan(r[4])) if any(not math.isnan(r[4]) for r in rows) else None
    if lo is not None:
        ax.set_ylim(lo - 0.2, max(lo + 2.5, ax.get_ylim()[0] + 0.5))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out)

    print(f"{'run':<14} {'steps':>6} {'train (last 20)':>16} {'val (final)':>12} {'val (best)':>11} {'tok/s':>8}")
    for name, s, tr, v, vb, tp in rows:
        print(f"{name:<14} {s:>6} {tr:>16.4f} {v:>12.4f} {vb:>11.4f} {tp:>8.0f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
