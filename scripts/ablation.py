#!/usr/bin/env python3
"""
ablation.py: the SSMax paper's ablations at CPU scale, end to end, with one command.

    ablation.py --scale default|smoke|geometry|geometry-smoke [--out runs/ablation] [--data books|tinyshakespeare]
                [--seeds N] [--publish docs/experiments/NAME] [--max-runs N] [--report-only]

Trains (a) Softmax, (b) SSMax, (c) SSMax with s fixed at 1, (d) SSMax with a bias, and (f) Softmax
switched to SSMax for the last part of the steps; (e) is (a)'s checkpoint converted to SSMax. The work
goes in units of one config and one seed: pretraining, then
  - length generalisation: per-position loss on held-out books up to 32x (geometry: 16x) the
    training length, RoPE theta as trained and raised 50x (eval_gpt lengths), every seed;
  - for the first seed, the needle: retrieval fine-tuning on needle examples at the training length
    with RoPE theta already raised 50x (train_gpt --task needle --rope-theta), then the needle grid
    over context x depth at that theta, and the attention that the answer puts on the needle over
    random trials (eval_gpt needle). The geometry scale mixes needles into pretraining instead and
    scores the pretrained model, then again after the paper's route (fine-tuning at the trained
    theta); it also measures the context gate on many windows of T.
and writes OUT/report.md with every figure, the tables and the paper's claims with verdicts. Finished
units are reused, an interrupted pretraining resumes from its checkpoint; with --publish each unit is
copied to DIR as it ends and not repeated later, even from an empty output folder.

    ablation.py --configs softmax,ssmax,sink,sigmoid [--scale ...] [--out runs/compare-DIR]

runs the same pipeline (pretraining, lengths, needle fine-tuning and evaluation, report) for any set
of normalizers by their --attn names instead of the paper's (a)-(f).
"""
import argparse
import math
import glob
import os
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_eval  # noqa: E402
import stats  # noqa: E402

# every knob of a scale; default: ~2 hours on 2 cores; smoke: a minute, for make test
SCALES = {
    "default": dict(model="small", T=256, B=16, steps=4500, lr=2e-3, warmup=200, val_every=250, val_batches=20, seeds=3,
                    ft_steps=1500, ft_lr=5e-4, ft_warmup=50, len_windows=32, needle_mults=[1, 2, 4, 8, 12],
                    depths=[0, 0.25, 0.5, 0.75, 1], trials=10, score_mult=8, score_trials=100),
    "smoke": dict(model="tiny", T=160, B=4, steps=30, lr=3e-3, warmup=5, val_every=10, val_batches=2, seeds=2,
                  ft_steps=8, ft_lr=5e-4, ft_warmup=2, len_windows=2, needle_mults=[1, 2],
                  depths=[0, 0.5, 1], trials=2, score_mult=2, score_trials=6),
    # the paper's attention geometry: head size 64 at T = 1024 (the geometry preset, 3.3M parameters), its
    # constant learning rate after warm-up, validation over all held-out books, needles mixed into
    # pretraining (10% of the windows), the needle scored at theta x50 on the pretrained model and again
    # after the paper's route (paper_steps of fine-tuning at the trained theta), (f) switching at half way
    # so that s can move; and LogN, the best of the other normalizers in the retrieval experiment. (a), (b),
    # (d) over every seed come first (the comparison the experiment must make), then (f) and LogN
    "geometry": dict(model="geometry", T=1024, B=8, steps=2400, lr=2e-3, warmup=100, val_every=200, val_batches=16, seeds=3,
                     schedule="constant", val_spread=True, needle_frac=0.1, switch_frac=0.5, len_mult=16, len_windows=16,
                     needle_mults=[1, 2, 4, 8], depths=[0, 0.25, 0.5, 0.75, 1], trials=50, score_mult=4, score_trials=100,
                     paper_steps=300, ft_lr=5e-4, ft_warmup=20, gate_windows=256, configs=["a", "b", "d", "f", "logn"], primary=["a", "b", "d"]),
    # the same pipeline at the smoke scale's size, for make test
    "geometry-smoke": dict(model="tiny", T=160, B=4, steps=30, lr=3e-3, warmup=5, val_every=10, val_batches=2, seeds=2,
                           schedule="constant", val_spread=True, needle_frac=0.5, switch_frac=0.5, len_mult=16, len_windows=2,
                           needle_mults=[1, 2], depths=[0, 0.5, 1], trials=2, score_mult=2, score_trials=6,
                           paper_steps=8, ft_lr=5e-4, ft_warmup=2, gate_windows=4, configs=["a", "b", "d", "f", "logn"], primary=["a", "b", "d"]),
}
CONFIGS = ["a", "b", "c", "d", "e", "f"]
# the paper's configs, and LogN (Qwen's; not in the paper), which a scale may add beside them
LABELS = {"a": "(a) Softmax", "b": "(b) SSMax", "c": "(c) SSMax, s = 1", "d": "(d) SSMax + bias",
          "e": "(e) Softmax -> SSMax after", "f": "(f) Softmax -> SSMax during", "logn": "LogN"}
ATTN = {"a": "softmax", "b": "ssmax", "c": "ssmax-fixed", "d": "ssmax-bias", "e": "ssmax", "f": "ssmax", "logn": "logn"}
COLORS = {"a": "#1f77b4", "b": "#d62728", "c": "#ff7f0e", "d": "#2ca02c", "e": "#9467bd", "f": "#8c564b",
          "logn": "#e377c2"}


PALETTE = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#000000"]


def normalizer_names():
    """the --attn names train_gpt knows (from its --help)"""
    out = subprocess.run(["./train_gpt", "--help"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "--attn NAME" in line:
            return line.split("--attn NAME", 1)[1].split("(default")[0].replace("|", " ").split()
    return []


def check_normalizers(spec, known):
    """the distinct --attn names of a comma-separated list, or an error naming the choices"""
    names = [n for n in spec.split(",") if n]
    bad = [n for n in names if n not in known]
    if bad or len(set(names)) != len(names) or not names:
        sys.exit("error: --configs takes distinct normalizer names, got '%s'\nHINT: choose from %s (build first: make)"
                 % (spec, ", ".join(known) or "./train_gpt --help"))
    return names


def set_seeds(S, seeds, hint):
    """--seeds into the scale's knobs, refused below 1"""
    if seeds is not None:
        if seeds < 1:
            sys.exit("error: --seeds must be at least 1, got %d\nHINT: %s seeds give a 95%% interval; 1 gives none" % (seeds, hint))
        S["seeds"] = seeds


def use_configs(spec):
    """--configs: the normalizers to compare become the configs, each pretrained and evaluated alike"""
    global CONFIGS, LABELS, ATTN, COLORS, PRETRAINED
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    names = check_normalizers(spec, normalizer_names())
    CONFIGS, PRETRAINED = names, names
    LABELS = {n: n for n in names}
    ATTN = {n: n for n in names}
    COLORS = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def run(cmd, log):
    print("+ " + " ".join(cmd), flush=True)
    with open(log, "a") as f:
        f.write("+ " + " ".join(cmd) + "\n")
        f.flush()
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        with open(log) as f:
            tail = f.readlines()[-5:]
        sys.exit("error: this step failed (exit %d); the end of %s says:\n%s" % (p.returncode, log, "".join(tail)))


PRETRAINED = ["a", "b", "c", "d", "f"]
SEED = 1337


def final_ckpt(d, steps):
    return os.path.join(d, "ckpt_%08d.bin" % steps)


def seed_dir(out, c, k):
    """the pretraining run of config c from seed SEED + k (k = 0: the main one)"""
    return os.path.join(out, c, "pretrain" if k == 0 else "pretrain-seed%d" % (SEED + k))


def fresh(outputs, inputs):
    """every output exists and is newer than every input: a finished evaluation, reused"""
    if not all(os.path.exists(p) for p in outputs + inputs):
        return False
    if min(os.path.getmtime(p) for p in outputs) > max(os.path.getmtime(p) for p in inputs):
        print("reusing %s" % ", ".join(outputs))
        return True
    return False


read_csv = plot_eval.read_csv


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="default")
    ap.add_argument("--out", default=None, help="output folder (default: runs/ablation, or runs/ablation-smoke)")
    ap.add_argument("--data", choices=["books", "tinyshakespeare"], default=None,
                    help="corpus (default: books; smoke falls back to tinyshakespeare when no books are at hand)")
    ap.add_argument("--threads", type=int, default=0, help="threads per run (default: all cores)")
    ap.add_argument("--report-only", action="store_true", help="redraw the figures and report.md from finished runs")
    ap.add_argument("--seeds", type=int, default=None,
                    help="pretraining seeds per config, paired across configs (default: 3, smoke 2)")
    ap.add_argument("--publish", default=None, metavar="DIR",
                    help="copy every small result (CSVs, config.json, figures, report) to DIR, e.g. docs/experiments/NAME; "
                         "--report-only --out DIR then recomputes the report from those files alone")
    ap.add_argument("--configs", default=None,
                    help="compare these normalizers (--attn names, comma-separated) instead of the paper's (a)-(f)")
    ap.add_argument("--max-runs", type=int, default=0, help="stop after training this many runs (default: no limit)")
    args = ap.parse_args()
    if args.configs:
        use_configs(args.configs)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    S = dict(SCALES[args.scale])
    set_seeds(S, args.seeds, 3)
    out = args.out or ("runs/ablation" if args.scale == "default" else "runs/ablation-%s" % args.scale)
    if "configs" in S and not args.configs:  # the scale's own set of the paper's configs
        global CONFIGS, PRETRAINED
        CONFIGS = list(S["configs"])
        PRETRAINED = [c for c in CONFIGS if c != "e"]
    if args.configs and not args.out:
        out = out.replace("ablation", "compare")  # runs/compare, runs/compare-smoke: not mixed with (a)-(f)
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "commands.log") # appended to: an interrupted ablation keeps its history
    t_start = time.time()
    switch = int(S["steps"] * S.get("switch_frac", 0.8)) + 1  # (f): the last part with SSMax
    if args.report_only:
        report(out, S, args.data or "books", switch, None, args.scale)
        return

    data = args.data
    if data is None:
        shared = os.environ.get("SHARED_DATA", "../shared/data")
        data = "books" if os.path.isdir(os.path.join(shared, "books")) or os.path.exists("data/books-byte/train_000000.bin") \
            else "tinyshakespeare"
        if data != "books" and args.scale == "default":
            sys.exit("error: no books corpus at %s/books\nHINT: set SHARED_DATA to the folder holding books/" % shared)
    run(["scripts/prepare.sh", data, "byte"], log)
    train_glob, val_glob = "data/%s-byte/train_*.bin" % data, "data/%s-byte/val_*.bin" % data
    T, steps = S["T"], S["steps"]
    threads = ["--threads", str(args.threads)] if args.threads else []
    common = ["--model", S["model"], "-i", train_glob, "-j", val_glob, "-b", str(S["B"]), "-t", str(T),
              "-n", str(steps), "--lr", str(S["lr"]), "--warmup", str(S["warmup"]), "--schedule", S.get("schedule", "cosine"),
              "--val-every", str(S["val_every"]), "--val-batches", str(S["val_batches"]), "--ckpt-every", "500",
              "--keep-ckpts", "1", "--log-every", "50"] + threads
    if S.get("val_spread"):
        common.append("--val-spread")
    if S.get("needle_frac"):
        common += ["--needle-frac", str(S["needle_frac"])]

    def pretrain(c, d, seed):
        if os.path.exists(final_ckpt(d, steps)):
            print("reusing %s" % final_ckpt(d, steps))
            return
        extra = ["--attn", ATTN[c], "--seed", str(seed)] + (["--attn-switch-step", str(switch)] if c == "f" else [])
        # an interrupted run continues from its newest checkpoint
        target = ["--resume", d] if glob.glob(os.path.join(d, "ckpt_*.bin")) else ["-o", d]
        run(["./train_gpt"] + common + extra + target, log)

    def lengths(c, k, ckpt, convert):
        """per-position loss to len_mult x T, theta as trained and x50, windows spread over the held-out books;
        buckets with edges at the bands and the gate's positions, each window's losses kept for intervals"""
        base = eval_dir(out, c, k)
        os.makedirs(base, exist_ok=True)
        for mult in (1, 50):
            path = os.path.join(base, "lengths_theta%d.csv" % mult)
            windows = path.replace(".csv", "_windows.csv")
            if fresh([path, windows], [ckpt]):
                continue
            run(["./eval_gpt", "lengths", "-c", ckpt, "-d", val_glob, "-t", str(n_len), "--windows", str(S["len_windows"]),
                 "--edges", ",".join(str(e) for e in length_edges(T, n_len)), "--spread", "--window-out", windows,
                 "--rope-theta", str(theta * mult), "-o", path] + convert + threads, log)

    def gate(c, ckpt):
        """the context gate on many windows of T (the length evaluation's few long windows leave it +-0.1 wide)"""
        files = [os.path.join(out, c, f) for f in ("gate.csv", "gate_windows.csv")]
        if fresh(files, [ckpt]):
            return
        run(["./eval_gpt", "lengths", "-c", ckpt, "-d", val_glob, "-t", str(T), "--windows", str(S["gate_windows"]),
             "--edges", ",".join(str(T // d) for d in (64, 32, 16, 8, 4, 2, 1)), "--spread", "--window-out", files[1],
             "-o", files[0]] + threads, log)

    def finetune(c, ckpt, ft, steps, ft_theta):
        """retrieval fine-tuning on needle examples at T from a pretrained checkpoint, RoPE theta ft_theta"""
        if os.path.exists(final_ckpt(ft, steps)):
            return
        run(["./train_gpt", "--init-from", ckpt, "--attn", ATTN[c], "--rope-theta", str(ft_theta), "-i", train_glob,
             "-j", val_glob, "-b", str(S["B"]), "-t", str(T), "-n", str(steps), "--task", "needle",
             "--lr", str(S["ft_lr"]), "--schedule", "cosine", "--warmup", str(S["ft_warmup"]), "--beta2", "0.999",
             "--wd", "0", "--val-every", str(steps), "--val-batches", str(S["val_batches"]), "--ckpt-every", "0",
             "--log-every", "50", "--seed", "7", "-o", ft, "--overwrite"] + threads, log)

    def needle_grid(c, scored, suffix, convert):
        """the needle grid and the needle scores at theta x50: needle{suffix}.csv, scores{suffix}.csv"""
        files = [os.path.join(out, c, f % suffix) for f in ("needle%s.csv", "scores%s.csv")]
        if fresh(files, [scored]):
            return
        run(["./eval_gpt", "needle", "-c", scored, "-d", val_glob, "--contexts", ",".join(str(m * T) for m in S["needle_mults"]),
             "--depths", ",".join(str(d) for d in S["depths"]), "--trials", str(S["trials"]), "--rope-theta", str(theta * 50),
             "-o", files[0], "--scores", files[1], "--score-context", str(S["score_mult"] * T),
             "--score-trials", str(S["score_trials"])] + convert + threads, log)

    def needle(c, ckpt, convert):
        """the needle at theta x50. With needles mixed into pretraining the pretrained model is scored as it is,
        and (paper_steps) once more after the paper's route: fine-tuning at the trained theta, evaluation at
        x50 without further training (needle_paper.csv). Else after fine-tuning at theta x50: the retrieval
        circuit (a previous-token head, then a copy) leans on the fast RoPE frequencies, which raising theta
        at evaluation alone moves: at the default scale (head size 32) a model fine-tuned at theta 10000
        retrieves 70-80% at 1x with theta as trained and 0% with theta x50. The learning rate matters as
        much: at 2e-3 no model learned to copy the 7 digits in 2500 steps; at 5e-4 the copy appears after
        ~700 steps"""
        if S.get("needle_frac"):
            needle_grid(c, ckpt, "", convert)
            if S.get("paper_steps"):
                ft = os.path.join(out, c, "needle-ft-theta1")
                finetune(c, ckpt, ft, S["paper_steps"], theta)
                needle_grid(c, final_ckpt(ft, S["paper_steps"]), "_paper", [])
        else:
            ft = os.path.join(out, c, "needle-ft")
            finetune(c, ckpt, ft, S["ft_steps"], theta * 50)
            needle_grid(c, final_ckpt(ft, S["ft_steps"]), "", [])

    # ---- one unit per (seed, config), each finished and published before the next: pretraining from the
    # seed's init and data order (the same for every config, so differences are paired by seed), then
    # length generalisation, and for the first seed the needle. (e) is (a)'s checkpoint of the same seed
    # converted, so it comes right after (a). An experiment bigger than one sitting accumulates units
    theta = 10000.0
    n_len = S.get("len_mult", 32) * T
    order = [c for c in CONFIGS if c != "e"]
    if "e" in CONFIGS:
        order.insert(order.index("a") + 1 if "a" in order else 0, "e")
    first = [c for c in order if c in S.get("primary", order)]  # every seed of these, then every seed of the rest
    units = [(k, c) for k in range(S["seeds"]) for c in first] + \
            [(k, c) for k in range(S["seeds"]) for c in order if c not in first]
    for c in CONFIGS:
        os.makedirs(os.path.join(out, c), exist_ok=True)
    trained = 0
    for k, c in units:
        files = unit_files(out, c, k, S)
        if args.publish and all(os.path.exists(os.path.join(args.publish, os.path.relpath(f, out))) for f in files):
            print("reusing %s, seed %d: published in %s" % (LABELS[c], SEED + k, args.publish))
            continue
        if all(os.path.exists(f) for f in files):
            print("reusing %s, seed %d: finished in %s" % (LABELS[c], SEED + k, out))
            continue
        pre = seed_dir(out, "a" if c == "e" else c, k)
        ckpt = final_ckpt(pre, steps)
        if c == "e" and not os.path.exists(ckpt):
            print("skipping (e) for seed %d: (a)'s final checkpoint %s is gone (deleted after publishing); rerun (a) "
                  "for that seed to evaluate (e)" % (SEED + k, ckpt))
            continue
        if c != "e" and not os.path.exists(ckpt):
            if args.max_runs and trained >= args.max_runs:
                print("stopping after %d runs (--max-runs)" % trained)
                finish(out, args.publish, S, data, switch, time.time() - t_start, args.scale)
                return
            pretrain(c, pre, SEED + k)
            trained += 1
        convert = ["--attn", "ssmax"] if c == "e" else []
        lengths(c, k, ckpt, convert)
        if k == 0 and c == PRETRAINED[0] and S.get("gate_windows"):
            gate(c, ckpt)
        if k == 0:
            needle(c, ckpt, convert)
        if args.publish:  # a published unit keeps its results, not its weights ((a)'s until (e) is done)
            keep = {seed_dir(out, "a", k)} if c == "a" and "e" in CONFIGS else set()
            for d in {pre, os.path.join(out, c, "needle-ft"), os.path.join(out, c, "needle-ft-theta1")} - keep:
                for f in glob.glob(os.path.join(d, "ckpt_*.bin")):
                    os.remove(f)
            publish(out, args.publish)
    finish(out, args.publish, S, data, switch, time.time() - t_start, args.scale)


def eval_dir(out, c, k):
    """where the evaluations of config c's model from seed SEED + k go: OUT/c for the first seed"""
    return os.path.join(out, c) if k == 0 else seed_dir(out, c, k)


def unit_files(out, c, k, S=None):
    """what a finished (config, seed) unit leaves: its training log, its length CSVs, for the first seed its needle CSVs"""
    base = eval_dir(out, c, k)
    files = [] if c == "e" else [os.path.join(seed_dir(out, c, k), "log.csv")]
    files += [os.path.join(base, "lengths_theta%d%s.csv" % (m, w)) for m in (1, 50) for w in ("", "_windows")]
    if k == 0:
        files += [os.path.join(out, c, f) for f in ("needle.csv", "scores.csv")]
        if S and S.get("needle_frac") and S.get("paper_steps"):
            files += [os.path.join(out, c, f) for f in ("needle_paper.csv", "scores_paper.csv")]
        if S and S.get("gate_windows") and c == PRETRAINED[0]:
            files += [os.path.join(out, c, f) for f in ("gate.csv", "gate_windows.csv")]
    return files


def finish(out, publish_to, S, data, switch, seconds, scale):
    """the report of this folder's units; with --publish, of every unit published so far too"""
    report(out, S, data, switch, seconds, scale)
    if publish_to:
        publish(out, publish_to)
        report(publish_to, S, data, switch, None, scale)


def length_edges(T, n):
    """bucket ends for eval_gpt lengths --edges: sqrt(2)-spaced, plus the bands' and the gate's edges"""
    edges = {int(math.ceil(2 ** (k / 2))) for k in range(1, int(2 * math.log2(n)) + 1)}
    edges |= {e for e in (T // 16, T // 8, T // 2, T, 4 * T, 10 * T, 16 * T) if 0 < e < n} | {n}
    return sorted(e for e in edges if e <= n)


def rope_bound(hs, T, theta_train, theta_eval):
    """the critical-dimension extrapolation bound (Liu et al., arXiv 2310.05209): the rotary pairs whose
    period the training length covers are d_c = 2 ceil(hs/2 log_theta(T / 2 pi)); beyond 2 pi theta'^(d_c / hs)
    positions, the first pair that never saw a full period turns past the angles it was trained on"""
    d_c = 2 * math.ceil(hs / 2 * math.log(T / (2 * math.pi)) / math.log(theta_train))
    return 2 * math.pi * theta_eval ** (d_c / hs), d_c


BANDS = [(0, 1, "[1, T]"), (1, 4, "(T, 4T]"), (4, 10, "(4T, 10T]"), (10, 16, "(10T, 16T]")]


def window_bands(path, spans):
    """per window, the mean loss over each span (lo, hi] of positions, from eval_gpt --window-out rows"""
    rows = read_csv(path)
    out = {}
    for r in rows:
        w, a, b, loss = int(r["window"]), int(r["position_start"]) - 1, int(r["position_end"]), float(r["loss"])
        for k, (lo, hi) in enumerate(spans):
            if a >= lo and b <= hi:
                acc = out.setdefault(w, {}).setdefault(k, [0.0, 0])
                acc[0] += loss * (b - a)
                acc[1] += b - a
    return [[v[k][0] / v[k][1] if k in v and v[k][1] else float("nan") for k in range(len(spans))] for _, v in sorted(out.items())]


def band_cells(out, c, mult, T):
    """each band's mean loss over windows with its 95% bootstrap interval; '-' past the evaluated context"""
    path = os.path.join(out, c, "lengths_theta%d_windows.csv" % mult)
    if not os.path.exists(path):
        return ["-"] * len(BANDS)
    per = window_bands(path, [(lo * T, hi * T) for lo, hi, _ in BANDS])
    cells = []
    for k in range(len(BANDS)):
        xs = [w[k] for w in per if math.isfinite(w[k])]
        if not xs:
            cells.append("-")
            continue
        lo, hi = stats.bootstrap_mean(xs)
        cells.append("%.3f [%.3f, %.3f]" % (sum(xs) / len(xs), lo, hi))
    return cells


def context_gate(out, c, T):
    """does the model use its context: loss at positions (T/16, T/8] minus at (T/2, T], as (mean, lo, hi, windows)
    over the windows of gate_windows.csv (many windows of T, where the scale has them) or of the length
    evaluation"""
    for f in ("gate_windows.csv", "lengths_theta1_windows.csv"):
        path = os.path.join(out, c, f)
        if os.path.exists(path):
            break
    else:
        return None
    per = window_bands(path, [(T // 16, T // 8), (T // 2, T)])
    d = [w[0] - w[1] for w in per if math.isfinite(w[0]) and math.isfinite(w[1])]
    if not d:
        return None
    lo, hi = stats.bootstrap_mean(d)
    return sum(d) / len(d), lo, hi, len(d)


def head_size(out, c):
    import json
    for d in [os.path.join(out, c, "pretrain"), os.path.join(out, PRETRAINED[0], "pretrain")]:
        try:
            m = json.load(open(os.path.join(d, "config.json")))["model"]
            return m["width"] // m["heads"]
        except (OSError, ValueError, KeyError):
            continue
    return None


def machine_line(out):
    """'Machine: X' (the CPU and kernel tier from every run's config.json) when one machine made every run; else
    'Machines: X for every run but these: Y (its runs); ...', since an experiment that accumulates over sessions
    may run on several; 'Machine: ?' when no run says"""
    import json
    runs = {}
    for root, _, files in sorted(os.walk(out)):
        if "config.json" in files:
            try:
                b = json.load(open(os.path.join(root, "config.json"))).get("build", {})
            except (OSError, ValueError):
                continue
            name = "%s, kernel tier %s" % (b.get("cpu", "?"), b.get("kernel_tier", "?"))
            runs.setdefault(name, []).append(os.path.relpath(root, out))
    if len(runs) <= 1:
        return "Machine: %s" % (next(iter(runs), "?"))
    most = max(runs, key=lambda k: len(runs[k]))
    return "Machines: %s for every run but these: %s" % (
        most, "; ".join("%s (%s)" % (k, ", ".join(v)) for k, v in runs.items() if k != most))


def publish(out, dest):
    """the small files of an experiment, in the same layout, so that --report-only can redo the report"""
    import shutil
    n = 0
    for root, _, files in os.walk(out):
        for f in files:
            if f.endswith((".csv", ".json", ".md", ".png")):
                rel = os.path.relpath(os.path.join(root, f), out)
                os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
                shutil.copy2(os.path.join(root, f), os.path.join(dest, rel))
                n += 1
    # the command history accumulates over sittings: what this folder's log gained since its last publishing
    # is appended (OUT/.published holds how many of its bytes DEST already has)
    log, mark = os.path.join(out, "commands.log"), os.path.join(out, ".published")
    if os.path.exists(log) and os.path.abspath(log) != os.path.abspath(os.path.join(dest, "commands.log")):
        done = int(open(mark).read() or 0) if os.path.exists(mark) else 0
        with open(log, "rb") as f:
            f.seek(done)
            new = f.read()
        with open(os.path.join(dest, "commands.log"), "ab") as f:
            f.write(new)
        with open(mark, "w") as f:
            f.write(str(done + len(new)))
        n += 1
    print("published %d files to %s" % (n, dest))


# ----------------------------------------------------------------------------
# figures and the report


def log_rows(d):
    rows = read_csv(os.path.join(d, "log.csv"))
    steps = np.array([int(r["step"]) for r in rows])
    train = np.array([float(r["train_loss"]) for r in rows])
    vs = np.array([int(r["step"]) for r in rows if r["val_loss"]])
    val = np.array([float(r["val_loss"]) for r in rows if r["val_loss"]])
    return steps, train, vs, val


def smooth(x, k=25):
    if len(x) < 2 * k:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    y = (c[k:] - c[:-k]) / k
    return np.concatenate([x[: k - 1], y])


def other_seeds(out, c, S):
    """(seed, run folder) of the finished units of config c from the extra seeds"""
    return [(SEED + k, seed_dir(out, c, k)) for k in range(1, S.get("seeds", 1))
            if all(os.path.exists(f) for f in unit_files(out, c, k))]


def seed_runs(out, c, S):
    """the finished pretraining folders of config c, main seed first"""
    return [os.path.join(out, c, "pretrain")] + [d for _, d in other_seeds(out, c, S)]


def val_curves(out, c, S):
    """(steps, array (seeds, points)) of the validation loss of every seed of c, cut to the common points"""
    curves = [log_rows(d)[2:] for d in seed_runs(out, c, S)]
    n = min(len(v) for _, v in curves)
    return curves[0][0][:n], np.array([v[:n] for _, v in curves])


def plot_losses(out, switch, S):
    base = PRETRAINED[0]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    bsteps, bval = val_curves(out, base, S)
    for c in PRETRAINED:
        s, tr, _, _ = log_rows(os.path.join(out, c, "pretrain"))
        axes[0].plot(s, smooth(tr), color=COLORS[c], label=LABELS[c], lw=1.2)
        vs, va = val_curves(out, c, S)
        axes[1].plot(vs, va.mean(0), "o-", color=COLORS[c], label=LABELS[c], ms=3)
        if len(va) > 1:
            axes[1].fill_between(vs, va.min(0), va.max(0), color=COLORS[c], alpha=0.15)
        if c != base:  # paired by seed: the same init and data order
            k, n = min(len(va), len(bval)), min(va.shape[1], bval.shape[1])
            d = va[:k, :n] - bval[:k, :n]
            axes[2].plot(vs[:n], d.mean(0), "o-", color=COLORS[c], label=LABELS[c], ms=3)
            if k > 1:
                half = np.array([stats.t_interval(list(d[:, j]))[1] for j in range(n)])
                axes[2].fill_between(vs[:n], d.mean(0) - half, d.mean(0) + half, color=COLORS[c], alpha=0.15)
    axes[2].axhline(0, color=COLORS[base], lw=1)
    titles = ["training loss (smoothed, first seed)", "validation loss: mean, band = range over seeds",
              "validation loss minus %s's, paired by seed (band: 95%% t-interval)" % LABELS[base]]
    for ax, name in zip(axes, titles):
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/byte)" if ax is not axes[2] else "difference (nats/byte)")
        ax.set_title(name, fontsize=9)
        if "f" in CONFIGS:
            ax.axvline(switch, color="#8c564b", ls=":", lw=1)
        ax.grid(alpha=0.3)
    lo = min(min(log_rows(d)[3]) for c in PRETRAINED for d in seed_runs(out, c, S))
    axes[1].set_ylim(lo - 0.05, lo + 0.6)
    axes[0].set_ylim(lo - 0.3, lo + 1.0)
    axes[1].legend(fontsize=8, title="%d seeds" % S.get("seeds", 1), title_fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=90)
    plt.close(fig)


def plot_lengths(out, T):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    hs = head_size(out, PRETRAINED[0])
    for ax, mult in zip(axes, (1, 50)):
        runs = [(LABELS[c], os.path.join(out, c, "lengths_theta%d.csv" % mult), COLORS[c]) for c in CONFIGS]
        plot_eval.lengths_axes(ax, runs, T)
        title = "per-position test loss, RoPE theta %s" % ("as trained" if mult == 1 else "x50 at evaluation")
        if hs:
            bound, _ = rope_bound(hs, T, 10000.0, 10000.0 * mult)
            ax.axvline(bound, color="k", ls=":", lw=1.2)
            title += "\ndotted: RoPE bound %.0f (%.1fx T)" % (bound, bound / T)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("loss (nats/byte)")
    axes[1].set_ylabel("")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "lengths.png"), dpi=90)
    plt.close(fig)


def save(fig, path):
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def has_paper_route(out):
    """every config has the needle after the paper's route (fine-tuning at the trained theta)"""
    return all(os.path.exists(os.path.join(out, c, "needle_paper.csv")) for c in CONFIGS)


def plot_needle(out, T):
    runs = [(LABELS[c], os.path.join(out, c, "needle.csv")) for c in CONFIGS]
    save(plot_eval.needle_figure(runs, T), os.path.join(out, "needle.png"))
    save(plot_eval.needle_figure(runs, T, "first_digit"), os.path.join(out, "needle_first.png"))
    save(plot_eval.needle_figure(runs, T, "answer_tokens"), os.path.join(out, "needle_digits.png"))
    paper = has_paper_route(out)
    if paper:
        save(plot_eval.needle_figure([(LABELS[c], os.path.join(out, c, "needle_paper.csv")) for c in CONFIGS], T),
             os.path.join(out, "needle_paper.png"))
    fig, axes = plt.subplots(1, 2 if paper else 1, figsize=(13 if paper else 7, 4.5), squeeze=False, sharey=True)
    routes = [("needle.csv", "as pretrained" if paper else "")] + ([("needle_paper.csv", "after fine-tuning at the trained theta")] if paper else [])
    for ax, (f, what) in zip(axes[0], routes):
        plot_eval.needle_distance_axes(ax, [(LABELS[c], os.path.join(out, c, f), COLORS[c]) for c in CONFIGS], T)
        ax.set_title("needle retrieval by distance, RoPE theta x50" + (": " + what if what else ""), fontsize=9)
    axes[0][0].legend(fontsize=8)
    save(fig, os.path.join(out, "needle_distance.png"))


def plot_scores(out):
    runs = [(LABELS[c], os.path.join(out, c, "scores.csv"), COLORS[c]) for c in CONFIGS]
    save(plot_eval.scores_figure(runs), os.path.join(out, "needle_scores.png"))


def plot_s(out):
    """the first per-head parameter (s, tau, sigma) of every config that has one"""
    runs = [(LABELS[c], os.path.join(out, c, "pretrain", "ssmax.csv")) for c in PRETRAINED]
    runs = [r for r in runs if os.path.exists(r[1])]
    if runs:
        save(plot_eval.s_figure(runs), os.path.join(out, "ssmax_s.png"))
    return bool(runs)


def exact_wilson(path):
    """exact match over every cell of a needle grid, with its 95% Wilson interval over all trials"""
    rows = read_csv(path)
    n = sum(int(r["trials"]) for r in rows)
    k = sum(round(float(r["exact"]) * int(r["trials"])) for r in rows)
    lo, hi = stats.wilson(k, n)
    return "%.2f [%.2f, %.2f]" % (k / n if n else 0, lo, hi)


def length_summary(out, c, mult, T):
    rows = read_csv(os.path.join(out, c, "lengths_theta%d.csv" % mult))
    def mean_over(lo, hi):
        tot = cnt = 0.0
        for r in rows:
            a, b, n = int(r["position_start"]), int(r["position_end"]), int(r["count"])
            if a >= lo and b <= hi:
                tot += float(r["loss"]) * n
                cnt += n
        return tot / cnt if cnt else float("nan")
    return mean_over(1, T), mean_over(4 * T + 1, 32 * T), mean_over(16 * T + 1, 32 * T)


def bands_section(out, S, T):
    """the per-position loss in bands with intervals over windows, the RoPE bound, and the context gate"""
    n_len = S.get("len_mult", 32) * T
    hs = head_size(out, PRETRAINED[0])
    lines = ["## Loss by position band (claim 2)", ""]
    if hs:
        b1, d_c = rope_bound(hs, T, 10000.0, 10000.0)
        b50, _ = rope_bound(hs, T, 10000.0, 500000.0)
        lines.append("Head size %d: %d of its %d rotary frequencies complete a period within T = %d (the critical dimension "
                     "d_c = %d, Liu et al., arXiv 2310.05209), so RoPE's extrapolation bound is %.0f positions (%.1fx T) at the "
                     "trained theta and %.0f (%.1fx T) at theta x50; the figure marks them. Beyond the bound, length "
                     "generalisation measures RoPE, not the normalizer." % (hs, d_c // 2, hs // 2, T, d_c, b1, b1 / T, b50, b50 / T))
        lines.append("")
    gate = context_gate(out, PRETRAINED[0], T)
    if gate:
        m, lo, hi, nw = gate
        uses = m >= 0.05
        lines.append("Gate: %s's loss falls by %.3f [%.3f, %.3f] nats from positions %d-%d to %d-%d (95%% bootstrap over "
                     "%d windows); %s" % (LABELS[PRETRAINED[0]], m, lo, hi, T // 16, T // 8, T // 2, T, nw,
                                       "it uses its context (>= 0.05), so this scale can test claim 2." if uses else
                                       "below 0.05: the model barely uses its context, so this scale cannot test claim 2."))
        lines.append("")
    lines += ["Mean loss per band over %d held-out windows of %d tokens spread over the validation books, with the 95%% "
              "bootstrap interval over windows:" % (S["len_windows"], n_len), "",
              "| config | theta | " + " | ".join(name for _, _, name in BANDS) + " |", "|---|---|" + "---|" * len(BANDS)]
    for c in CONFIGS:
        for mult in (1, 50):
            lines.append("| %s | x%d | %s |" % (LABELS[c], mult, " | ".join(band_cells(out, c, mult, T))))
    return lines + [""] + seed_bands_table(out, S, T)


def band_means(out, c, k, mult, T):
    """a (config, seed)'s loss per band, the mean over its windows"""
    per = window_bands(os.path.join(eval_dir(out, c, k), "lengths_theta%d_windows.csv" % mult),
                       [(lo * T, hi * T) for lo, hi, _ in BANDS])
    means = []
    for j in range(len(BANDS)):
        xs = [w[j] for w in per if math.isfinite(w[j])]
        means.append(sum(xs) / len(xs) if xs else float("nan"))
    return means


def finished_seeds(out, c, S):
    return [k for k in range(S.get("seeds", 1)) if all(os.path.exists(f) for f in unit_files(out, c, k))]


def seed_band_differences(out, S, T, c, ref, mult):
    """the seeds both c and ref have finished, and per band the list of c's band loss minus ref's, by seed"""
    ks = sorted(set(finished_seeds(out, c, S)) & set(finished_seeds(out, ref, S)))
    pairs = [(band_means(out, c, k, mult, T), band_means(out, ref, k, mult, T)) for k in ks]
    return ks, [[x[j] - y[j] for x, y in pairs] for j in range(len(BANDS))]


def band_difference(out, S, T, c, ref, mult, j):
    """(mean, lo, hi, how) of c's loss minus ref's in band j: paired by seed with a 95% t-interval when two or
    more seeds of both have finished, else over the first seed's windows (the same windows for every model)
    with a 95% bootstrap interval"""
    ks, diffs = seed_band_differences(out, S, T, c, ref, mult)
    if len(ks) >= 2 and all(math.isfinite(x) for x in diffs[j]):
        m, h = stats.t_interval(diffs[j])
        return m, m - h, m + h, "%d seeds" % len(ks)
    spans = [(BANDS[j][0] * T, BANDS[j][1] * T)]
    a = window_bands(os.path.join(out, c, "lengths_theta%d_windows.csv" % mult), spans)
    b = window_bands(os.path.join(out, ref, "lengths_theta%d_windows.csv" % mult), spans)
    d = [x[0] - y[0] for x, y in zip(a, b) if math.isfinite(x[0]) and math.isfinite(y[0])]
    if not d:
        return float("nan"), float("nan"), float("nan"), "not evaluated"
    lo, hi = stats.bootstrap_mean(d)
    return sum(d) / len(d), lo, hi, "1 seed, %d windows" % len(d)


def seed_bands_table(out, S, T):
    """per config and theta, the band losses' paired difference to the baseline over seeds"""
    base = PRETRAINED[0]
    ks = finished_seeds(out, base, S)
    if len(ks) < 2:
        return []
    lines = ["Over seeds (each seed's band loss is its mean over the windows): the paired difference to %s, mean "
             "+- 95%% t-interval over the seeds both have finished (negative: lower loss than %s; ** the interval "
             "excludes 0):" % (LABELS[base], LABELS[base]), "",
             "| config minus %s | theta | seeds | " % LABELS[base] + " | ".join(name for _, _, name in BANDS) + " |",
             "|---|---|---|" + "---|" * len(BANDS)]
    for c in CONFIGS:
        if c == base:
            continue
        for mult in (1, 50):
            common, diffs = seed_band_differences(out, S, T, c, base, mult)
            if len(common) < 2:
                continue
            cells = []
            for d in diffs:
                if not all(math.isfinite(x) for x in d):
                    cells.append("-")
                    continue
                m, h = stats.t_interval(d)
                cells.append("%+.3f +- %.3f%s" % (m, h, " **" if abs(m) > h else ""))
            lines.append("| %s minus %s | x%d | %d | %s |" % (LABELS[c], LABELS[base], mult, len(common), " | ".join(cells)))
    return lines + [""]


def verdict(lo, hi, want):
    """the paper's direction want ('lower', 'higher', 'same') against an interval of a difference"""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "not testable (no interval)"
    if want == "same":
        return ("consistent: no difference resolved (a gap beyond %.3f either way is ruled out)" % max(-lo, hi)
                if lo <= 0 <= hi else "not reproduced (they differ)")
    if lo <= 0 <= hi:
        return "not resolved"
    return "reproduced" if (hi < 0) == (want == "lower") else "contradicted"


def claims_section(out, S, T):
    """the paper's four claims (docs: ssmax.md), each stated from this experiment's numbers"""
    base = PRETRAINED[0]
    name = lambda c: LABELS[c]
    lines = ["## The paper's claims at this scale", "",
             "Each verdict is read from a 95% interval of a difference to the paper's comparison: reproduced (the "
             "interval lies on the paper's side of 0), contradicted (on the other side), not resolved (it holds 0).", ""]
    # 1. pretraining loss
    finals = {c: [log_rows(d)[3][-1] for d in seed_runs(out, c, S)] for c in PRETRAINED}
    lines.append("**1. Pretraining loss: every SSMax variant below Softmax.**")
    for c in PRETRAINED:
        if c == base or ATTN.get(c) not in ("ssmax", "ssmax-fixed", "ssmax-bias") or c == "f":
            continue
        k = min(len(finals[c]), len(finals[base]))
        if k < 2:
            lines.append("- %s: one seed so far: not testable yet." % name(c))
            continue
        m, h = stats.paired(finals[base][:k], finals[c][:k])
        lines.append("- %s minus %s, final validation loss: %+.4f [%+.4f, %+.4f] (%d seeds): %s." %
                     (name(c), name(base), m, m - h, m + h, k, verdict(m - h, m + h, "lower")))
    lines.append("")
    # 2. length generalisation, theta x50, inside RoPE's bound
    lines.append("**2. Length generalisation (theta x50 at evaluation): SSMax far better than Softmax beyond T.**")
    gate = context_gate(out, base, T)
    hs = head_size(out, base)
    bound = rope_bound(hs, T, 10000.0, 500000.0)[0] / T if hs else float("inf")
    inside = [j for j, (lo, hi, _) in enumerate(BANDS) if 1 <= lo < bound]  # bands beyond T that start inside the bound
    gated = bool(gate and gate[0] < 0.05)
    if gated:
        lines.append("- Not testable at this scale: the gate failed (%s's loss falls by only %.3f nats from positions "
                     "%d-%d to %d-%d: it uses too little of its context). The differences below are recorded, not "
                     "verdicts on the claim." % (name(base), gate[0], T // 16, T // 8, T // 2, T))
    if not inside:
        lines.append("- Not testable: no band beyond T lies inside RoPE's bound (%.1fx T)." % bound)
    else:
        wants = {"b": ("lower", base), "c": ("lower", base), "d": ("higher", "b"), "e": ("lower", base), "f": ("same", "b"),
                 "logn": ("lower", base)}
        paper = {"b": "better than (a)", "c": "better than (a)", "d": "worse than (b) at long context",
                 "e": "better than (a) beyond T", "f": "close to (b)",
                 "logn": "not in the paper; Anson et al. (arXiv 2505.17083) find LogN far better than RoPE alone at 16x"}
        for c in CONFIGS:
            if c == base:
                continue
            want, ref = wants.get(c, ("lower", base))
            if ref not in CONFIGS:
                continue
            for j in inside:
                m, lo, hi, how = band_difference(out, S, T, c, ref, 50, j)
                lines.append("- %s minus %s, loss in %s (RoPE's bound: %.1fx T): %+.3f [%+.3f, %+.3f] (%s); the paper: %s: %s." %
                             (name(c), name(ref), BANDS[j][2], bound, m, lo, hi, how, paper.get(c, "better than (a)"),
                              "recorded (gate failed)" if gated else verdict(lo, hi, want)))
    lines.append("")
    # 3. needle retrieval beyond T
    lines.append("**3. Key-information retrieval (needle, theta x50): SSMax keeps its accuracy beyond T where Softmax fails.**")
    def pooled(c, f, longer):
        rows = [r for r in read_csv(os.path.join(out, c, f)) if (int(r["context"]) > T) == longer]
        return sum(round(float(r["exact"]) * int(r["trials"])) for r in rows), sum(int(r["trials"]) for r in rows)
    routes = [("needle.csv", "")] + ([("needle_paper.csv", ", after fine-tuning at the trained theta (the paper's route)")]
                                     if has_paper_route(out) else [])
    for f, what in routes:
        if all(pooled(c, f, False)[0] == 0 for c in CONFIGS):
            lines.append("- Not testable at this scale%s: no model retrieves the needle even at T." % what)
            continue
        ka, na = pooled(base, f, True)
        for c in CONFIGS:
            kc, nc = pooled(c, f, True)
            if c == base or not na or not nc:
                continue
            d, lo, hi = stats.two_proportions(ka, na, kc, nc)
            lines.append("- %s minus %s%s, exact match at contexts > T: %.2f - %.2f = %+.2f [%+.2f, %+.2f] (%d trials each, "
                         "Newcombe interval, first seed): %s." % (name(c), name(base), what, kc / nc, ka / na, d, lo, hi, nc,
                                                                  verdict(-hi, -lo, "lower") if c in ("b", "c") else "for comparison"))
    lines.append("- The retrieval experiment (docs/experiments/retrieval) tests this claim with retrieval learned from "
                 "scratch, 5 seeds per normalizer.")
    lines.append("")
    # 4. attention on the needle
    lines.append("**4. Attention on the needle: only SSMax concentrates on it.**")
    def best(c):
        return [float(r["best_score"]) for r in read_csv(os.path.join(out, c, "scores.csv"))]
    sa = best(base)
    for c in CONFIGS:
        if c == base:
            continue
        sc = best(c)
        d = [y - x for x, y in zip(sa, sc)]  # the same examples for every model: paired by trial
        if len(d) < 2:
            continue
        lo, hi = stats.bootstrap_mean(d)
        lines.append("- %s minus %s, highest needle score of any head, mean over %d trials at %d tokens: %+.3f [%+.3f, %+.3f] "
                     "(bootstrap over trials, paired): %s." % (name(c), name(base), len(d), S["score_mult"] * T,
                                                                sum(d) / len(d), lo, hi,
                                                                verdict(-hi, -lo, "lower") if c in ("b", "c") else "for comparison"))
    return lines + [""]


def report(out, S, data, switch, seconds, scale):
    """OUT/report.md of the configs whose first-seed unit has finished (a partial experiment reports what it
    has; the figures and tables below see only those configs)"""
    global CONFIGS, PRETRAINED
    every, every_pretrained = CONFIGS, PRETRAINED
    CONFIGS = [c for c in every if all(os.path.exists(f) for f in unit_files(out, c, 0))]
    PRETRAINED = [c for c in every_pretrained if c in CONFIGS]
    try:
        if not PRETRAINED or PRETRAINED[0] != every_pretrained[0]:
            print("%s: %s has no finished run yet, so there is nothing to compare with: no report"
                  % (out, LABELS[every_pretrained[0]]))
            return
        write_report(out, S, data, switch, seconds, scale, paper=all(LABELS[c] != c for c in every))  # --configs labels by name
    finally:
        CONFIGS, PRETRAINED = every, every_pretrained


def write_report(out, S, data, switch, seconds, scale, paper):
    T = S["T"]
    plot_losses(out, switch, S)
    plot_lengths(out, T)
    plot_needle(out, T)
    plot_scores(out)
    has_params = plot_s(out)
    lines = ["# SSMax ablation at CPU scale (`%s`)" % scale if paper else
             "# Normalizer comparison at CPU scale (`%s`): %s" % (scale, ", ".join(CONFIGS)), ""]
    # time in training steps, from every run's log.csv (runs reused from an earlier invocation included)
    train_s = sum(float(r["step_ms"]) / 1000 for d in glob.glob(os.path.join(out, "*", "*", "log.csv")) for r in read_csv(d))
    took = "(training steps %.0f minutes in all%s) " % (train_s / 60, ", this invocation %.0f minutes" % (seconds / 60) if seconds else "")
    how = ("`scripts/ablation.py --scale %s` (`make ablation SCALE=%s`)" % (scale, scale) if paper else
           "`scripts/ablation.py --scale %s --configs %s`" % (scale, ",".join(CONFIGS)))
    variants = ("(f) switches at step %d; (e) is (a)'s final checkpoint converted (s0 = 1/mean ln n over the "
                "training window)" % switch if paper else "every config pretrained from the same seed and data order")
    if S.get("needle_frac"):
        retrieval = ("Retrieval: %g of the pretraining windows carry a needle at a uniform depth (loss on every token); the "
                     "needle is scored on the pretrained models at RoPE theta x50 without fine-tuning%s."
                     % (S["needle_frac"], ", and again after the paper's route: %d steps of needle fine-tuning at the trained "
                        "theta (lr %g cosine, AdamW betas 0.9/0.999, no weight decay, loss on the answer), then "
                        "evaluation at theta x50 without further training" % (S["paper_steps"], S["ft_lr"])
                        if S.get("paper_steps") else ""))
    else:
        retrieval = ("Retrieval fine-tuning: %d steps of needle examples at T = %d, lr %g cosine, AdamW betas 0.9/0.999, no "
                     "weight decay, loss on the answer only, RoPE theta x50 (the theta of the needle evaluation)."
                     % (S["ft_steps"], T, S["ft_lr"]))
    lines.append("%s." % machine_line(out))
    lines.append("Made by %s %son %d cores. "
                 "Corpus: %s, byte tokenizer (V = 257); model preset `%s` at T = %d, batch %d, %d steps (%.1fM tokens), lr %g %s%s; "
                 "%s. %s"
                 % (how, took, os.cpu_count() or 0, data, S["model"], T, S["B"], S["steps"], S["B"] * T * S["steps"] / 1e6, S["lr"],
                    S.get("schedule", "cosine"), ", validation windows spread over the held-out books" if S.get("val_spread") else "",
                    variants, retrieval))
    base = PRETRAINED[0]
    finals = {c: [log_rows(d)[3][-1] for d in seed_runs(out, c, S)] for c in PRETRAINED}
    lines[-1] += (" Seeds finished so far (of %d): %s; a seed sets the init and the data order, the same for every "
                  "config, so differences are paired by seed. Every seed's model is evaluated for length; the needle "
                  "uses the first seed's (%d)." % (S.get("seeds", 1), ", ".join("%s %d" % (LABELS[c], len(finals[c])) for c in PRETRAINED),
                                                   SEED))
    lines += ["", "## Pretraining loss over seeds", "",
              "Final validation loss, mean and 95%% t-interval over seeds, and the paired difference to %s (negative: "
              "lower loss than %s)." % (LABELS[base], LABELS[base]), "",
              "| config | seeds | final val loss | difference to %s (paired) | what it says |" % LABELS[base], "|---|---|---|---|---|"]
    for c in PRETRAINED:
        m, h = stats.t_interval(finals[c])
        if c == base:
            diff, says = "-", "the baseline"
        else:
            k = min(len(finals[c]), len(finals[base]))
            dm, dh = stats.paired(finals[base][:k], finals[c][:k])
            diff = stats.fmt_interval(dm, dh)
            if not math.isfinite(dh):
                says = "one seed: no interval"
            elif abs(dm) > dh:
                says = "differs: %s by %.4f .. %.4f" % ("lower" if dm < 0 else "higher", abs(dm) - dh, abs(dm) + dh)
            else:
                says = "no difference resolved; a gap beyond %.4f either way is ruled out" % max(abs(dm - dh), abs(dm + dh))
        lines.append("| %s | %d | %s | %s | %s |" % (LABELS[c], len(finals[c]), stats.fmt_interval(m, h), diff, says))
    lines += ["", "## Numbers", "",
              "| config | final val loss (first seed) | other seeds | loss at 1..T | loss at 4T..%dT (theta x1) | loss at 4T..%dT (theta x50) | "
              % (S.get("len_mult", 32), S.get("len_mult", 32)) +
              "needle exact (all cells, 95% Wilson) | needle exact at <= T | needle exact at > T | first digit (all) | digits right (all) | "
              "score trials exact / first / wrong |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in CONFIGS:
        if c == "e":
            val, others = "(a) converted", "-"
        else:
            val = "%.4f" % log_rows(os.path.join(out, c, "pretrain"))[3][-1]
            others = ", ".join("%.4f" % log_rows(d)[3][-1] for _, d in other_seeds(out, c, S)) or "-"
        in1, far1, _ = length_summary(out, c, 1, T)
        _, far50, _ = length_summary(out, c, 50, T)
        ctx, dep, grids = plot_eval.needle_grid(os.path.join(out, c, "needle.csv"))
        acc, first, digits = grids["exact"], grids["first_digit"], grids["answer_tokens"]
        short = [j for j, x in enumerate(ctx) if x <= T]
        long_ = [j for j, x in enumerate(ctx) if x > T]
        trials = read_csv(os.path.join(out, c, "scores.csv"))
        counts = [sum(r["result"] == k for r in trials) for k in ("exact", "first_digit", "wrong")]
        lines.append("| %s | %s | %s | %.4f | %.4f | %.4f | %s | %s | %s | %.2f | %.2f | %d / %d / %d |" % (
            LABELS[c], val, others, in1, far1, far50, exact_wilson(os.path.join(out, c, "needle.csv")),
            "%.2f" % acc[:, short].mean() if short else "-",
            "%.2f" % acc[:, long_].mean() if long_ else "-", first.mean(), digits.mean(), *counts))
    lines += [""] + bands_section(out, S, T) + (claims_section(out, S, T) if paper else [])
    lines += ["## Pretraining loss", "", "![loss curves](loss.png)", "",
              "## Length generalisation (paper Fig. 5)", "",
              "Per-position loss at a context of %d bytes (%dx training), averaged over %d held-out windows spread over the "
              "validation books." % (S.get("len_mult", 32) * T, S.get("len_mult", 32), S["len_windows"]), "", "![length generalisation](lengths.png)", "",
              "## Needle retrieval (paper Fig. 6)", "",
              "Exact-match accuracy of greedy decoding (teacher-forced: every answer token must be the argmax), "
              "%d trials per cell, RoPE theta x50." % S["trials"], "", "![needle heat maps](needle.png)", "",
              "First-digit accuracy (the most likely first answer token is the needle's first digit):", "",
              "![needle first digit](needle_first.png)", "",
              "Fraction of the answer's digits that are right (each the argmax after the right digits before it):", "",
              "![needle digits right](needle_digits.png)", "",
              "Exact match by the distance from the needle to the question (the grid's cells pooled into bins "
              "[2^k, 2^(k+1)) of tokens; bars: 95% Wilson over the pooled trials):", "",
              "![needle by distance](needle_distance.png)", ""]
    if has_paper_route(out):
        lines += ["The paper's route: exact match after %d steps of needle fine-tuning at the trained theta, evaluated "
                  "at theta x50 without further training (all cells, 95%% Wilson): %s." % (S.get("paper_steps", 0), "; ".join(
                      "%s %s" % (LABELS[c], exact_wilson(os.path.join(out, c, "needle_paper.csv"))) for c in CONFIGS)), "",
                  "![needle after the paper's route](needle_paper.png)", ""]
    lines += [
              "## Attention on the needle (paper Figs. 7, 8)", "",
              "Top: the mean attention mass that the query predicting the first answer digit puts on the needle "
              "sentence, for the 8 highest heads. Bottom: over %d trials at %d bytes (random depth), the highest "
              "needle score of any head, sorted, coloured by the answer." % (S["score_trials"], S["score_mult"] * T), "",
              "![needle scores](needle_scores.png)", ""]
    if has_params:
        lines += ["## Learned per-head parameters (s, tau, sigma)", "", "![per-head parameters](ssmax_s.png)", ""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines))
    print("wrote %s" % os.path.join(out, "report.md"))


if __name__ == "__main__":
    main()
