#!/usr/bin/env python3
"""
plot_eval.py: figures of eval_gpt's CSV files and of ssmax.csv, several models side by side.

    plot_eval.py lengths --out lengths.png [--train-len T] NAME=lengths.csv ...
    plot_eval.py needle  --out needle.png  [--train-len T] [--metric exact|first_digit|answer_tokens] NAME=needle.csv ...
    plot_eval.py needle-distance --out distance.png [--train-len T] NAME=needle.csv ...
    plot_eval.py scores  --out scores.png  NAME=scores.csv ...      (reads scores_heads.csv beside each)
    plot_eval.py s       --out s.png       NAME=RUN_DIR_or_ssmax.csv ...   [--param tau|sigma|b ...]

lengths: per-position loss against the position (log scale), like the paper's Fig. 5; needle: one
heat map of exact-match accuracy over context x depth per model (Fig. 6), or of first-digit accuracy,
or of the fraction of answer tokens (digits) right; needle-distance: exact-match accuracy against the
needle-to-question distance, the grid's cells pooled into bins [2^k, 2^(k+1)) with 95% Wilson
intervals; scores: the heads that
attend most to the needle and the best needle score of every trial, coloured by the answer (Figs. 7,
8); s: the learned s of every head over training and its final layer x head map.
"""
import argparse
import csv
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import stats

PALETTE = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
RESULTS = {"exact": ("#2ca02c", "exact"), "first_digit": ("#ff7f0e", "first digit only"), "wrong": ("#d62728", "wrong")}


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def lengths_axes(ax, runs, train_len=None):
    """runs: [(label, lengths.csv, colour)]: loss per position bucket, at the bucket's geometric middle."""
    for label, path, colour in runs:
        rows = read_csv(path)
        x = [math.sqrt(int(r["position_start"]) * int(r["position_end"])) for r in rows]
        ax.plot(x, [float(r["loss"]) for r in rows], "o-", color=colour, label=label, ms=3)
    if train_len:
        ax.axvline(train_len, color="gray", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("position in the context" + ("; dashed: training length" if train_len else ""))
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)


NEEDLE_METRICS = {"exact": "exact-match accuracy", "first_digit": "first-digit accuracy",
                  "answer_tokens": "fraction of answer digits right"}


def needle_grid(path):
    """context lengths, depths, and {metric: (depths x contexts) array} for every column of NEEDLE_METRICS"""
    rows = read_csv(path)
    ctx = sorted({int(r["context"]) for r in rows})
    dep = sorted({float(r["depth"]) for r in rows})
    grids = {m: np.full((len(dep), len(ctx)), np.nan) for m in NEEDLE_METRICS if m in rows[0]}
    for r in rows:
        i, j = dep.index(float(r["depth"])), ctx.index(int(r["context"]))
        for m in grids:
            grids[m][i, j] = float(r[m])
    return ctx, dep, grids


def needle_figure(runs, train_len=None, metric="exact"):
    """runs: [(label, needle.csv)]: one heat map per model of a NEEDLE_METRICS column."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3 * len(runs), 3.6), sharey=True, squeeze=False)
    for ax, (label, path) in zip(axes[0], runs):
        ctx, dep, grids = needle_grid(path)
        if metric not in grids:
            raise SystemExit("error: %s has no column '%s'\nHINT: re-run eval_gpt needle with this version" % (path, metric))
        acc = grids[metric]
        im = ax.imshow(acc, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
        ax.set_xticks(range(len(ctx)))
        ax.set_xticklabels(["%g" % (x / train_len) for x in ctx] if train_len else [str(x) for x in ctx])
        ax.set_yticks(range(len(dep)))
        ax.set_yticklabels(["%d%%" % round(100 * d) for d in dep])
        for i in range(len(dep)):
            for j in range(len(ctx)):
                ax.text(j, i, "%.1f" % acc[i, j], ha="center", va="center", fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("context / training length" if train_len else "context")
    axes[0][0].set_ylabel("needle depth")
    fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label=NEEDLE_METRICS[metric])
    return fig


def needle_by_distance(path):
    """exact-match accuracy by needle-to-question distance: [(bin start, bin end, right, trials)], the cells of
    needle.csv pooled into bins [2^k, 2^(k+1)) of their mean distance (distance 0: its own bin [0, 1))"""
    bins = {}
    for r in read_csv(path):
        if "distance" not in r:
            raise SystemExit("error: %s has no distance column\nHINT: re-run eval_gpt needle with this version" % path)
        d, n = float(r["distance"]), int(r["trials"])
        k = -1 if d < 1 else int(math.floor(math.log2(d)))
        acc = bins.setdefault(k, [0, 0])
        acc[0] += round(float(r["exact"]) * n)
        acc[1] += n
    return [(0 if k < 0 else 2 ** k, 1 if k < 0 else 2 ** (k + 1), right, n) for k, (right, n) in sorted(bins.items())]


def needle_distance_axes(ax, runs, train_len=None):
    """runs: [(label, needle.csv, colour)]: accuracy per distance bin, at the bin's geometric middle, Wilson bars"""
    for label, path, colour in runs:
        rows = needle_by_distance(path)
        x = [math.sqrt(max(a, 0.5) * b) for a, b, _, _ in rows]
        y = [k / n for _, _, k, n in rows]
        lo_hi = [stats.wilson(k, n) for _, _, k, n in rows]
        ax.errorbar(x, y, yerr=[[max(0.0, v - lo) for v, (lo, _) in zip(y, lo_hi)], [max(0.0, hi - v) for v, (_, hi) in zip(y, lo_hi)]],
                    fmt="o-", color=colour, label=label, ms=3, capsize=2, lw=1.2)
    if train_len:
        ax.axvline(train_len, color="gray", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("tokens between the needle and the question" + ("; dashed: training length" if train_len else ""))
    ax.set_ylabel("exact-match accuracy (95% Wilson)")
    ax.grid(alpha=0.3)


def scores_figure(runs):
    """runs: [(label, scores.csv, colour)]: top heads (from scores_heads.csv) and sorted best scores."""
    fig, axes = plt.subplots(2, len(runs), figsize=(3 * len(runs), 6.5), squeeze=False)
    for k, (label, path, colour) in enumerate(runs):
        heads_path = path[:-4] + "_heads.csv" if path.endswith(".csv") else path + "_heads.csv"
        heads = read_csv(heads_path)
        top = sorted(((float(h["mean_score"]), "L%sH%s" % (h["layer"], h["head"])) for h in heads), reverse=True)[:8]
        axes[0][k].bar(range(len(top)), [v for v, _ in top], color=colour)
        axes[0][k].set_xticks(range(len(top)))
        axes[0][k].set_xticklabels([n for _, n in top], rotation=60, fontsize=7)
        axes[0][k].set_ylim(0, 1)
        axes[0][k].set_title(label + ": top heads", fontsize=9)
        trials = sorted(read_csv(path), key=lambda r: float(r["best_score"]))
        for i, r in enumerate(trials):
            axes[1][k].bar(i, float(r["best_score"]), color=RESULTS[r["result"]][0], width=1.0)
        axes[1][k].set_ylim(0, 1)
        axes[1][k].set_xlabel("trial (sorted)")
        axes[1][k].set_title("highest needle score per trial", fontsize=9)
    axes[0][0].set_ylabel("mean needle score")
    axes[1][0].set_ylabel("needle score")
    handles = [plt.Rectangle((0, 0), 1, 1, color=v[0]) for v in RESULTS.values()]
    axes[1][-1].legend(handles, [v[1] for v in RESULTS.values()], fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def read_s(path, param=None):
    """a per-head parameter of ssmax.csv over training: (steps, values (steps, L, H), its name); param: the
    column (default: the first parameter column, s for the SSMax family, tau, sigma, ...)"""
    rows = read_csv(path)
    if not rows:
        raise SystemExit("error: '%s' holds no rows\nHINT: the run logs its parameters at step 0 and at each validation" % path)
    columns = [c for c in rows[0].keys() if c not in ("step", "layer", "head")]
    name = param or columns[0]
    if name not in columns:
        raise SystemExit("error: '%s' has no column %s (it has %s)\nHINT: pick one with --param" % (path, name, ", ".join(columns)))
    steps = sorted({int(r["step"]) for r in rows})
    L = max(int(r["layer"]) for r in rows) + 1
    H = max(int(r["head"]) for r in rows) + 1
    s = np.full((len(steps), L, H), np.nan)
    for r in rows:
        if r[name] != "":
            s[steps.index(int(r["step"])), int(r["layer"]), int(r["head"])] = float(r[name])
    return np.array(steps), s, name


def s_figure(runs, param=None):
    """runs: [(label, ssmax.csv)]: a per-head parameter (s by default) of every head over training
    (colour = layer), and the final layer x head map."""
    fig, axes = plt.subplots(2, len(runs), figsize=(4.6 * len(runs), 7), squeeze=False)
    cmap = plt.get_cmap("viridis")
    name = "s"
    for k, (label, path) in enumerate(runs):
        steps, s, name = read_s(path, param)
        L, H = s.shape[1:]
        for l in range(L):
            for h in range(H):
                axes[0][k].plot(steps, s[:, l, h], color=cmap(l / max(1, L - 1)), lw=1, alpha=0.8)
        axes[0][k].set_title(label + ": %s per head (colour = layer)" % name, fontsize=9)
        axes[0][k].set_ylabel(name)
        axes[0][k].set_xlabel("step")
        axes[0][k].grid(alpha=0.3)
        im = axes[1][k].imshow(s[-1], cmap="viridis", aspect="auto")
        for l in range(L):
            for h in range(H):
                axes[1][k].text(h, l, "%.2f" % s[-1, l, h], ha="center", va="center", fontsize=7, color="w")
        axes[1][k].set_xlabel("head")
        axes[1][k].set_ylabel("layer")
        axes[1][k].set_title("final %s (step %d)" % (name, steps[-1]), fontsize=9)
        fig.colorbar(im, ax=axes[1][k])
    fig.tight_layout()
    return fig


def named(items):
    out = []
    for item in items:
        if "=" not in item:
            raise SystemExit("error: expected NAME=PATH, got '%s'\nHINT: e.g. softmax=runs/a/lengths.csv" % item)
        name, path = item.split("=", 1)
        if os.path.isdir(path):
            path = os.path.join(path, "ssmax.csv")
        if not os.path.exists(path):
            raise SystemExit("error: no file '%s'\nHINT: run eval_gpt (or train_gpt with --attn ssmax) first" % path)
        out.append((name, path))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["lengths", "needle", "needle-distance", "scores", "s", "params"])
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--train-len", type=int, default=None, help="training length, marked on the axes")
    ap.add_argument("--metric", choices=sorted(NEEDLE_METRICS), default="exact", help="needle: what the heat maps show")
    ap.add_argument("--param", default=None, help="s/params: which per-head parameter (default: the first column)")
    ap.add_argument("runs", nargs="+", help="NAME=PATH")
    a = ap.parse_args()
    runs = named(a.runs)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(runs))]
    if a.kind == "lengths":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        lengths_axes(ax, [(n, p, c) for (n, p), c in zip(runs, colours)], a.train_len)
        ax.legend(fontsize=8)
        fig.tight_layout()
    elif a.kind == "needle":
        fig = needle_figure(runs, a.train_len, a.metric)
    elif a.kind == "needle-distance":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        needle_distance_axes(ax, [(n, p, c) for (n, p), c in zip(runs, colours)], a.train_len)
        ax.legend(fontsize=8)
        fig.tight_layout()
    elif a.kind == "scores":
        fig = scores_figure([(n, p, c) for (n, p), c in zip(runs, colours)])
    else:
        fig = s_figure(runs, a.param)
    fig.savefig(a.out, dpi=90, bbox_inches="tight")
    print("wrote %s" % a.out)


if __name__ == "__main__":
    main()
