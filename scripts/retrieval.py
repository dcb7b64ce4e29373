#!/usr/bin/env python3
"""
retrieval.py: retrieval learned from scratch, every normalizer, several seeds, one command.

    retrieval.py [--scale default|smoke] [--out runs/retrieval] [--configs softmax,ssmax,...]
                 [--tasks recall,mqar,passkey] [--pos rope,none] [--seeds 5] [--publish docs/experiments/retrieval]

For every task x position scheme x seed x normalizer: train a small model from scratch on the task
(train_gpt --task recall|mqar|passkey: the loss on the answers only) at T, then measure its accuracy at 1, 2,
4, 8 and 16 x T (eval_gpt retrieval), RoPE theta as trained and x50 (NoPE models: once), by the
distance from the information to the question. A seed sets the init, the training examples and (as
--seed of eval_gpt) nothing else: every model of a seed sees the same training examples and every
model the same evaluation examples, so differences to Softmax are paired by seed.

Runs go task by task and scheme by scheme, within them seed by seed (every normalizer of seed 1, then
seed 2, ...), so a partial experiment is already a paired comparison. A finished run (its final checkpoint or, once published, its result files) is never
repeated; an interrupted one resumes from its checkpoint. --report-only redraws OUT/report.md from the
result files alone (e.g. --out docs/experiments/retrieval after --publish).
"""
import argparse
import glob
import math
import os
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ablation  # noqa: E402
import ablation_report  # noqa: E402
import stats  # noqa: E402

read_csv = ablation_report.read_csv

# every knob of a scale; default: about 45 s per recall run on 2 cores (Zen 5, AVX-512), training and evaluation.
# thetas: the RoPE bases of the evaluation, as multiples of the trained one (NoPE models are evaluated once);
# eval_only: evaluations of every Softmax checkpoint with another normalizer switched in at evaluation, by the
# name their results go under (--attn of eval_gpt; s of SSMax as train_gpt would start it), run while the
# Softmax checkpoint exists; configs: the trained normalizers when --configs is not given (default: all)
SCALES = {
    "default": dict(layers=2, heads=2, width=128, T=128, B=32, steps=800, lr=3e-3, warmup=100, val_every=200,
                    val_batches=4, seeds=5, mults=[1, 2, 4, 8, 16], trials=100, pairs=8, queries=4, thetas=(1, 50),
                    eval_only={}),
    # retrieval-long: the default model to 64x T, 15 seeds, the four trained normalizers of the primary contrasts
    # and the two inference-time scalings of the Softmax weights; RoPE at theta x50 only (~9 min a seed and
    # position scheme on a 2-core Zen 4)
    "long": dict(layers=2, heads=2, width=128, T=128, B=32, steps=800, lr=3e-3, warmup=100, val_every=200,
                 val_batches=4, seeds=15, mults=[1, 2, 4, 8, 16, 32, 64], trials=100, pairs=8, queries=4, thetas=(50,),
                 eval_only={"logn-eval": "logn", "ssmax-eval": "ssmax"}, configs=["softmax", "ssmax", "ssmax-fixed", "temp"],
                 # the protocol, fixed before the first run (issue 44): one primary endpoint, accuracy at 64x T; the
                 # contrasts (a minus b, paired by seed) in both position schemes, Holm over all of them; claim 3 is
                 # confirmed when ssmax - softmax stays > 0 after Holm (paired t and sign-flip both) and its gap at
                 # 64x exceeds its gap at 16x, refuted when the interval lies within +-0.03 or the gap shrinks
                 primary=dict(mult=64, contrasts=[("ssmax", "softmax"), ("ssmax", "logn-eval"), ("ssmax", "ssmax-eval"),
                                                  ("temp", "softmax")], equivalence=0.03, shrink_from=16),
                 # seeds 1-5 retrain the default experiment's runs: a determinism check against its committed files
                 reproduces="docs/experiments/retrieval"),
    "smoke": dict(layers=2, heads=2, width=32, T=64, B=4, steps=12, lr=3e-3, warmup=2, val_every=6,
                  val_batches=1, seeds=2, mults=[1, 2], trials=4, pairs=4, queries=2, thetas=(1, 50),
                  eval_only={"logn-eval": "logn", "ssmax-eval": "ssmax"}),
}
TASKS = ("recall", "mqar", "passkey")
SEED = 1


def run_dir(out, task, pos, attn, seed):
    return os.path.join(out, task, pos, attn, "seed%d" % seed)


def thetas(S, pos):
    """the RoPE base multiples a model of this position scheme is evaluated at"""
    return tuple(S["thetas"]) if pos == "rope" else (1,)


def result_files(d, pos, S):
    """{theta multiple: the result file of that evaluation}"""
    return {m: os.path.join(d, "retrieval_theta%d.csv" % m) for m in thetas(S, pos)}


def evaluated(S, configs):
    """the names results are reported under: the trained normalizers, then the evaluation-only switches of
    the Softmax weights (when Softmax is trained)"""
    return list(configs) + [n for n in S["eval_only"] if "softmax" in configs and n not in configs]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=sorted(SCALES), default="default")
    ap.add_argument("--out", default=None, help="output folder (default: runs/retrieval, or runs/retrieval-smoke)")
    ap.add_argument("--configs", default=None, help="normalizers (--attn names, comma-separated; default: all)")
    ap.add_argument("--tasks", default="recall", help="tasks, comma-separated: recall, mqar, passkey (default: recall; "
                    "mqar and passkey take two hops, which this scale's budget does not learn)")
    ap.add_argument("--pos", default="rope,none", help="position schemes, comma-separated (default: rope,none)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per config (default: 5, smoke 2)")
    ap.add_argument("--data", default=None, help="corpus for passkey's haystacks (default: books, else tinyshakespeare)")
    ap.add_argument("--threads", type=int, default=0, help="threads per run (default: all cores)")
    ap.add_argument("--report-only", action="store_true", help="redraw the figures and report.md from the result files")
    ap.add_argument("--publish", default=None, metavar="DIR",
                    help="copy every small result (CSVs, config.json, figures, report) to DIR after each run")
    ap.add_argument("--max-runs", type=int, default=0, help="stop after training this many runs (default: no limit)")
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    S = dict(SCALES[args.scale])
    ablation.set_seeds(S, args.seeds, 5)
    known = ablation.normalizer_names()
    configs = ablation.check_normalizers(args.configs, known) if args.configs else S.get("configs", known)
    tasks = args.tasks.split(",")
    if not tasks or any(t not in TASKS for t in tasks):
        sys.exit("error: --tasks takes %s, got '%s'\nHINT: e.g. --tasks recall" % (", ".join(TASKS), args.tasks))
    poss = args.pos.split(",")
    if not poss or any(p not in ("rope", "none") for p in poss):
        sys.exit("error: --pos takes rope and/or none, got '%s'\nHINT: e.g. --pos rope" % args.pos)
    out = args.out or ("runs/retrieval" if args.scale == "default" else "runs/retrieval-smoke")
    os.makedirs(out, exist_ok=True)
    if args.report_only:
        report(out, S, configs, tasks, poss, None, args.scale)
        return

    log = os.path.join(out, "commands.log")
    data = args.data
    if data is None:
        shared = os.environ.get("SHARED_DATA", "../shared/data")
        data = "books" if os.path.isdir(os.path.join(shared, "books")) or os.path.exists("data/books-byte/train_000000.bin") \
            else "tinyshakespeare"
    ablation.run(["scripts/prepare.sh", data, "byte"], log)
    train_glob, val_glob = "data/%s-byte/train_*.bin" % data, "data/%s-byte/val_*.bin" % data
    threads = ["--threads", str(args.threads)] if args.threads else []
    T = S["T"]
    t_start, trained = time.time(), 0
    # task by task; within a task seed by seed, both position schemes and every normalizer of a seed before
    # the next seed: a partial experiment is already a paired comparison in both schemes
    for task in tasks:
        for k in range(S["seeds"]):
            seed = SEED + k
            for pos in poss:
                for attn in configs:
                    d = run_dir(out, task, pos, attn, seed)
                    # the evaluation-only switches read the Softmax checkpoint: they belong to its unit
                    extra = {name: run_dir(out, task, pos, name, seed) for name in S["eval_only"]} if attn == "softmax" else {}
                    wanted = list(result_files(d, pos, S).values()) + \
                        [f for e in extra.values() for f in result_files(e, pos, S).values()]
                    published = args.publish and all(os.path.exists(os.path.join(args.publish, os.path.relpath(f, out)))
                                                     for f in wanted)
                    if published or all(os.path.exists(f) for f in wanted):
                        continue
                    ckpt = ablation.final_ckpt(d, S["steps"])
                    if not os.path.exists(ckpt):
                        if args.max_runs and trained >= args.max_runs:
                            print("stopping after %d runs (--max-runs)" % trained)
                            finish(out, args.publish, S, configs, tasks, poss, time.time() - t_start, args.scale)
                            return
                        target = ["--resume", d] if glob.glob(os.path.join(d, "ckpt_*.bin")) else ["-o", d, "--overwrite"]
                        ablation.run(["./train_gpt", "--model", "small", "--layers", str(S["layers"]), "--heads", str(S["heads"]),
                                      "--width", str(S["width"]), "--ffn", str(S["width"] * 11 // 4), "--pos", pos,
                                      "--attn", attn, "--seed", str(seed), "--task", task, "--pairs", str(S["pairs"]),
                                      "--queries", str(S["queries"]), "-i", train_glob, "-j", val_glob, "-b", str(S["B"]),
                                      "-t", str(T), "-n", str(S["steps"]), "--lr", str(S["lr"]), "--warmup", str(S["warmup"]),
                                      "--schedule", "cosine", "--val-every", str(S["val_every"]),
                                      "--val-batches", str(S["val_batches"]), "--ckpt-every", "500", "--keep-ckpts", "1",
                                      "--log-every", "100"] + target + threads, log)
                        trained += 1
                    contexts = ",".join(str(m * T) for m in S["mults"])
                    for name, where in [(None, d)] + list(extra.items()):
                        switch = ["--attn", S["eval_only"][name]] if name else []
                        if name:
                            os.makedirs(where, exist_ok=True)
                        for mult, path in result_files(where, pos, S).items():
                            if os.path.exists(path):
                                continue
                            theta = ["--rope-theta", str(10000.0 * mult)] if pos == "rope" else []
                            ablation.run(["./eval_gpt", "retrieval", "-c", ckpt, "-d", val_glob, "--task", task,
                                          "--pairs", str(S["pairs"]), "--queries", str(S["queries"]), "--contexts", contexts,
                                          "--trials", str(S["trials"]), "-o", path + ".part"] + switch + theta + threads, log)
                            os.replace(path + ".part", path)  # a result file exists only when its evaluation finished
                    for f in glob.glob(os.path.join(d, "ckpt_*.bin")):  # a finished run keeps its results, not its weights
                        os.remove(f)
                    if args.publish:
                        ablation.publish(out, args.publish)
    finish(out, args.publish, S, configs, tasks, poss, time.time() - t_start, args.scale)


def finish(out, publish, S, configs, tasks, poss, seconds, scale):
    """the report of this folder's runs; with --publish, of every run published so far too"""
    report(out, S, configs, tasks, poss, seconds, scale)
    if publish:
        ablation.publish(out, publish)
        report(publish, S, configs, tasks, poss, None, scale)


# ----------------------------------------------------------------------------
# the report


def accuracy(path):
    """{context: (right, answers)} and {context: {(d0, d1): (right, answers)}} of one result file"""
    by_ctx, by_dist = {}, {}
    for r in read_csv(path):
        n, k, a = int(r["context"]), int(r["correct"]), int(r["answers"])
        c = by_ctx.get(n, (0, 0))
        by_ctx[n] = (c[0] + k, c[1] + a)
        by_dist.setdefault(n, {})[(int(r["distance_start"]), int(r["distance_end"]))] = (k, a)
    return by_ctx, by_dist


def seeds_of(out, task, pos, attn, S):
    """(seed, run folder) of the finished runs of a config"""
    found = []
    for k in range(S["seeds"]):
        d = run_dir(out, task, pos, attn, SEED + k)
        if all(os.path.exists(f) for f in result_files(d, pos, S).values()):
            found.append((SEED + k, d))
    return found


def table(out, S, configs, task, pos, mult):
    """rows of (attn, per-context (mean, half, values by seed)) for theta x mult"""
    rows = {}
    for attn in configs:
        runs = seeds_of(out, task, pos, attn, S)
        if not runs:
            continue
        per = {}
        for seed, d in runs:
            by_ctx, _ = accuracy(result_files(d, pos, S)[mult])
            for n, (k, a) in by_ctx.items():
                per.setdefault(n, {})[seed] = k / a
        rows[attn] = per
    return rows


def figure(out, S, configs, task, pos, path):
    mults = thetas(S, pos)
    fig, axes = plt.subplots(1, len(mults) + 1, figsize=(6 * (len(mults) + 1), 4.3))
    T = S["T"]
    for ax, mult in zip(axes, mults):
        rows = table(out, S, configs, task, pos, mult)
        for i, (attn, per) in enumerate(rows.items()):
            ns = sorted(per)
            ms = [stats.t_interval(list(per[n].values())) for n in ns]
            m = np.array([x[0] for x in ms])
            h = np.array([x[1] if math.isfinite(x[1]) else 0 for x in ms])
            ax.errorbar(np.array(ns) / T, m, yerr=h, marker="o", ms=3, capsize=2, lw=1.2, label="%s (%d)" % (attn, len(per[ns[0]])),
                        color=ablation_report.PALETTE[i % len(ablation_report.PALETTE)])
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("context / training length")
        ax.set_ylabel("answers right")
        ax.set_title("%s, %s: RoPE theta %s" % (task, "NoPE" if pos == "none" else "RoPE",
                                                 "as trained" if mult == 1 else "x50 at evaluation") if pos == "rope"
                     else "%s, NoPE" % task, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, title="normalizer (seeds); bars: 95% t", title_fontsize=7)
    # accuracy by distance at the longest context, pooled over seeds, Wilson intervals
    ax = axes[-1]
    n_long = T * S["mults"][-1]
    for i, attn in enumerate(configs):
        pooled = {}
        for _, d in seeds_of(out, task, pos, attn, S):
            _, by_dist = accuracy(result_files(d, pos, S)[mults[-1]])
            for b, (k, a) in by_dist.get(n_long, {}).items():
                c = pooled.get(b, (0, 0))
                pooled[b] = (c[0] + k, c[1] + a)
        pooled = {b: v for b, v in pooled.items() if v[1] >= 20}  # bins with too few answers say nothing
        if not pooled:
            continue
        bins = sorted(pooled)
        x = [math.sqrt(max(b[0], 1) * b[1]) for b in bins]
        p = [pooled[b][0] / pooled[b][1] for b in bins]
        lo = [max(0.0, p[j] - stats.wilson(*pooled[b])[0]) for j, b in enumerate(bins)]
        hi = [max(0.0, stats.wilson(*pooled[b])[1] - p[j]) for j, b in enumerate(bins)]
        ax.errorbar(x, p, yerr=[lo, hi], marker="o", ms=3, capsize=2, lw=1.2, label=attn,
                    color=ablation_report.PALETTE[i % len(ablation_report.PALETTE)])
    ax.axvline(T, color="k", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("distance from the information to the question (tokens; dotted: T)")
    ax.set_title("by distance at %d tokens (%dx), theta %s, seeds pooled (95%% Wilson)"
                 % (n_long, S["mults"][-1], "x%d" % mults[-1] if pos == "rope" else "-"), fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def report(out, S, configs, tasks, poss, seconds, scale):
    T = S["T"]
    configs = evaluated(S, configs)
    lines = ["# Retrieval learned from scratch (`%s`)" % scale, ""]
    train_s = sum(float(r["step_ms"]) / 1000 for f in glob.glob(os.path.join(out, "*", "*", "*", "*", "log.csv"))
                  for r in read_csv(f))
    lines.append("%s." % ablation_report.machine_line(out))
    lines.append("Made by `scripts/retrieval.py --scale %s` (`make experiments EXP=%s`); training steps %.0f minutes in all%s. "
                 "Model: %d layers, %d heads, width %d (head size %d), SwiGLU, RMSNorm, byte tokens, trained from scratch at T = %d, "
                 "batch %d, %d steps, lr %g cosine. recall: %d one-token items (8 keys x 16 values) among random filler, %d "
                 "queries, each a query id for a key followed by its item; mqar: the same with two-token (key, value) pairs; "
                 "passkey: a 7-digit key in book text. Accuracy: an answer is right when every one of its tokens is the argmax; %d examples per "
                 "context and model, the same examples for every model. Intervals: 95%% t over seeds (a seed sets init and "
                 "training examples, shared by the normalizers, so differences are paired); Wilson over pooled answers by distance."
                 % (scale, "retrieval-long" if scale == "long" else "retrieval", train_s / 60, ", this invocation %.0f minutes" % (seconds / 60) if seconds else "",
                    S["layers"], S["heads"], S["width"], S["width"] // S["heads"], T, S["B"], S["steps"], S["lr"],
                    S["pairs"], S["queries"], S["trials"]))
    if S["eval_only"]:
        lines.append("")
        lines.append("Not trained: %s are every Softmax checkpoint evaluated with the normalizer switched at evaluation "
                     "(eval_gpt --attn; s of SSMax as train_gpt starts it, 1 / mean ln n over the training window), "
                     "the paper's (e) and an inference-time scaling." % ", ".join(
                         "%s (%s)" % (n, a) for n, a in S["eval_only"].items()))
    base = "softmax"
    for task in tasks:
        for pos in poss:
            if not any(seeds_of(out, task, pos, a, S) for a in configs):
                continue
            name = "%s_%s.png" % (task, pos)
            figure(out, S, configs, task, pos, os.path.join(out, name))
            lines += ["", "## %s, %s" % (task, "RoPE" if pos == "rope" else "NoPE"), "", "![%s](%s)" % (name, name), ""]
            for mult in thetas(S, pos):
                rows = table(out, S, configs, task, pos, mult)
                ns = sorted({n for per in rows.values() for n in per})
                lines += ["Answers right, mean +- 95%% t over seeds%s; below each, the paired difference to %s:" %
                          (", RoPE theta %s" % ("as trained" if mult == 1 else "x50") if pos == "rope" else "", base), "",
                          "| normalizer | seeds | " + " | ".join("%dx" % (n // T) for n in ns) + " |",
                          "|---|---|" + "---|" * len(ns)]
                for attn, per in rows.items():
                    cells = []
                    for n in ns:
                        vals = per.get(n, {})
                        m, h = stats.t_interval(list(vals.values())) if vals else (float("nan"), math.inf)
                        cell = stats.fmt_interval(m, h, 2)
                        if attn != base and base in rows and vals:
                            common = sorted(set(vals) & set(rows[base].get(n, {})))
                            if len(common) > 1:
                                dm, dh = stats.paired([rows[base][n][s] for s in common], [vals[s] for s in common])
                                mark = " **" if abs(dm) > dh else ""
                                cell += "<br>%+.2f +- %.2f%s" % (dm, dh, mark)
                        cells.append(cell)
                    lines.append("| %s | %d | %s |" % (attn, len(next(iter(per.values()))), " | ".join(cells)))
                lines += ["", "(** the paired interval excludes 0, unadjusted for the number of comparisons: the Holm-adjusted "
                          "p-values are under Statistics)", ""]
    lines += claims(out, S, configs, tasks, poss)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s" % os.path.join(out, "report.md"))


# chance: an answer is one of the 16 items of the queried key (8 keys x 16 values); a model that knows the
# key's items but not the value is right 1 time in 16
CHANCE = {"recall": 1.0 / 16}


def setting_name(pos, mult):
    return "NoPE" if pos == "none" else "RoPE theta %s" % ("as trained" if mult == 1 else "x%d" % mult)


def differences(rows, a, b, n):
    """(seeds, a's accuracy minus b's at context n, paired by seed id)"""
    seeds, xa, xb = stats.pair_by_id(rows.get(a, {}).get(n, {}), rows.get(b, {}).get(n, {}))
    return seeds, [x - y for x, y in zip(xa, xb)]


def contrast_rows(family):
    """table rows of a family of (label, seeds, differences): mean +- 95% t, the paired t and the exact sign-flip
    p-values, and both Holm-adjusted over the family; returns (rows, {label: (m, h, Holm t, Holm sign-flip)})"""
    tp = [stats.t_p(ds) for _, _, ds in family]
    sp = [stats.sign_flip_p(ds) for _, _, ds in family]
    ht, hs = stats.holm(tp), stats.holm(sp)
    rows, out = [], {}
    for (label, seeds, ds), a, b, c, d in zip(family, tp, sp, ht, hs):
        m, h = stats.t_interval(ds) if ds else (float("nan"), math.inf)
        rows.append("| %s | %d | %s | %s | %s | %s | %s |" % (label, len(seeds), "%+.3f +- %.3f" % (m, h) if math.isfinite(h) else "-",
                                                        stats.fmt_p(a), stats.fmt_p(b), stats.fmt_p(c), stats.fmt_p(d)))
        out[label] = (m, h, c, d)
    return rows, out


def sign_flip_floor(family):
    """the note that few seeds bound the exact sign-flip p-value from below"""
    n = min((len(ds) for _, _, ds in family if ds), default=0)
    return ["With %d seeds the exact sign-flip test cannot go below 2 / 2^%d = %.4f, whatever the data: it needs "
            "at least 6 seeds to reach 0.05 alone, and more after Holm." % (n, n, 2.0 / 2 ** n), ""] if 1 < n < 10 else []


CONTRAST_HEAD = ["| contrast (paired by seed) | seeds | mean +- 95% t | p (t) | p (sign-flip) | Holm p (t) | Holm p (sign-flip) |",
                 "|---|---|---|---|---|---|---|"]


def loss_columns(path):
    """a training log without its timing columns: what two runs of the same arithmetic share"""
    return [{k: v for k, v in r.items() if k not in ("step_ms", "tok_per_s")} for r in read_csv(path)]


def identical_training(out, task, pos, a, b, S):
    """the seeds whose training logs of a and b are the same file, and the seeds both have"""
    same, both = [], []
    for k in range(S["seeds"]):
        fa, fb = (os.path.join(run_dir(out, task, pos, c, SEED + k), "log.csv") for c in (a, b))
        if os.path.exists(fa) and os.path.exists(fb):
            both.append(SEED + k)
            if loss_columns(fa) == loss_columns(fb):
                same.append(SEED + k)
    return same, both


def claims(out, S, configs, tasks, poss):
    """the statistics: chance, the family of every normalizer against Softmax at the longest context with Holm,
    LogN's training, the primary endpoint (where the scale names one) and the determinism check"""
    T = S["T"]
    configs = evaluated(S, configs)
    n_long = T * S["mults"][-1]
    lines = ["## Statistics", ""]
    for task in tasks:
        if task in CHANCE:
            lines.append("Chance: a %s answer is one of the 16 items of the queried key, so a model that knows the key's "
                         "items but not its value is right %.3f of the time; accuracies near %.2f are chance, not "
                         "retrieval." % (task, CHANCE[task], CHANCE[task]))
    lines.append("")
    primary = S.get("primary")
    if not primary:
        lines.append("No primary comparison was named before this experiment ran: every comparison below is exploratory. "
                     "Its successor, retrieval-long (docs/experiments/retrieval-long), fixes one before its runs.")
        lines.append("")
    for task in tasks:
        for pos in poss:
            for mult in thetas(S, pos):
                rows = table(out, S, configs, task, pos, mult)
                if "softmax" not in rows:
                    continue
                family = []
                for c in configs:
                    if c != "softmax" and c in rows:
                        seeds, ds = differences(rows, c, "softmax", n_long)
                        family.append(("%s - softmax" % c, seeds, ds))
                if not family:
                    continue
                body, _ = contrast_rows(family)
                lines += ["Every normalizer minus Softmax at %dx T, %s, %s: paired t and exact sign-flip p-values, Holm over "
                          "these %d comparisons:" % (S["mults"][-1], task, setting_name(pos, mult), len(family)), ""] + \
                    CONTRAST_HEAD + body + [""] + sign_flip_floor(family)
    lines += logn_section(out, S, configs, tasks, poss)
    if primary:
        lines += primary_section(out, S, configs, tasks, poss)
    else:
        lines += mean_beyond_T(out, S, configs, tasks, poss)
    if S.get("reproduces"):
        lines += determinism_section(out, S, configs, tasks, poss)
    return lines


def logn_section(out, S, configs, tasks, poss):
    """LogN is Softmax inside T, so its training is Softmax's: say so when the logs show it"""
    if "logn" not in configs and "logn-eval" not in configs or "ssmax" not in configs:
        return []
    lines = ["### LogN is Softmax with a scale at evaluation", ""]
    n_long = S["T"] * S["mults"][-1]
    for task in tasks:
        for pos in poss:
            if "logn" in configs:
                same, both = identical_training(out, task, pos, "logn", "softmax", S)
                if both:
                    lines.append("- %s, %s: LogN's training log (every loss and gradient norm) is Softmax's for %d of %d seeds%s"
                                 % (task, "NoPE" if pos == "none" else "RoPE", len(same), len(both),
                                    ": max(1, ln n / ln T) is 1 at every position of training, so the trained LogN model is the "
                                    "Softmax weights, and LogN's results are Softmax's evaluated with ln n / ln T beyond T "
                                    "(inference-time scaling)." if same == both else "."))
            other = "logn" if "logn" in configs else "logn-eval"
            for mult in thetas(S, pos):
                rows = table(out, S, configs, task, pos, mult)
                seeds, ds = differences(rows, "ssmax", other, n_long)
                if len(ds) >= 2:
                    m, h = stats.t_interval(ds)
                    lines.append("- %s, %s: SSMax minus LogN at %dx: %+.3f +- %.3f (%d seeds, p %s paired t, %s sign-flip): "
                                 "%s" % (task, setting_name(pos, mult), S["mults"][-1], m, h, len(ds), stats.fmt_p(stats.t_p(ds)),
                                         stats.fmt_p(stats.sign_flip_p(ds)),
                                         "training with SSMax adds nothing detected over scaling the Softmax weights at evaluation."
                                         if abs(m) <= h else "they differ."))
    return lines + [""]


def mean_beyond_T(out, S, configs, tasks, poss):
    """the old summary (mean over contexts > T of SSMax minus Softmax), with its p-values and Holm over the settings"""
    T = S["T"]
    family = []
    for task in tasks:
        for pos in poss:
            for mult in thetas(S, pos):
                rows = table(out, S, configs, task, pos, mult)
                if "softmax" not in rows or "ssmax" not in rows:
                    continue
                long_ = [n for n in rows["ssmax"] if n > T]
                per = [dict(zip(*differences(rows, "ssmax", "softmax", n))) for n in long_]
                seeds = sorted(set.intersection(*[set(p) for p in per])) if per else []
                family.append(("ssmax - softmax, %s, %s" % (task, setting_name(pos, mult)), seeds,
                               [float(np.mean([p[s] for p in per])) for s in seeds]))
    if not family:
        return []
    body, res = contrast_rows(family)
    lines = ["### The paper's claim 3 (SSMax improves key-information retrieval), at this scale", "",
             "SSMax minus Softmax, the mean accuracy over the contexts beyond T, Holm over the %d settings:" % len(family), ""]
    lines += CONTRAST_HEAD + body + [""]
    for label, (m, h, ht, hs) in res.items():
        ok = math.isfinite(ht) and max(ht, hs) < 0.05
        lines.append("- %s: %s." % (label, ("SSMax higher after Holm (both tests)" if m > 0 else "SSMax lower after Holm (both tests)")
                                    if ok else "not resolved after Holm"))
    lines += ["", "Exploratory (no comparison was named before the run); retrieval-long tests the claim at 64x with 15 seeds.", ""]
    return lines


def primary_section(out, S, configs, tasks, poss):
    """the primary endpoint as the protocol of the scale names it, and its verdicts"""
    P = S["primary"]
    T, n = S["T"], S["T"] * P["mult"]
    n_short = S["T"] * P["shrink_from"]
    lines = ["### Primary endpoint: accuracy at %dx T (named before the runs)" % P["mult"], "",
             "The contrasts, each paired by seed, in every position scheme, Holm over all of them (the family is this "
             "table). Claim 3 is confirmed when ssmax - softmax stays above 0 after Holm by both tests and its gap at %dx "
             "exceeds its gap at %dx; refuted when its 95%% interval lies within +-%.2f or the gap shrinks from %dx to %dx."
             % (P["mult"], P["shrink_from"], P["equivalence"], P["shrink_from"], P["mult"]), ""]
    family, gaps = [], {}
    for task in tasks:
        for pos in poss:
            mult = thetas(S, pos)[-1]
            rows = table(out, S, configs, task, pos, mult)
            for a, b in P["contrasts"]:
                seeds, ds = differences(rows, a, b, n)
                family.append(("%s - %s, %s, %s" % (a, b, task, setting_name(pos, mult)), seeds, ds))
            s64, d64 = differences(rows, "ssmax", "softmax", n)
            s16, d16 = differences(rows, "ssmax", "softmax", n_short)
            at16 = dict(zip(s16, d16))
            common = [s for s in s64 if s in at16]
            gaps[(task, pos, mult)] = [dict(zip(s64, d64))[s] - at16[s] for s in common]
    if not any(ds for _, _, ds in family):
        return lines + ["No seed has finished yet.", ""]
    body, res = contrast_rows(family)
    lines += CONTRAST_HEAD + body + [""]
    for task in tasks:
        for pos in poss:
            mult = thetas(S, pos)[-1]
            where = "%s, %s" % (task, setting_name(pos, mult))
            m, h, ht, hs = res["ssmax - softmax, %s" % where]
            g = gaps[(task, pos, mult)]
            if len(g) < 2 or not math.isfinite(h):
                lines.append("- %s: fewer than 2 seeds: not testable yet." % where)
                continue
            gm, gh = stats.t_interval(g)
            grows, shrinks = gm - gh > 0, gm + gh < 0
            if max(ht, hs) < 0.05 and m > 0 and grows:
                say = "claim 3 confirmed"
            elif (-P["equivalence"] <= m - h and m + h <= P["equivalence"]) or shrinks:
                say = "claim 3 refuted"
            else:
                say = "not resolved"
            lines.append("- %s: ssmax - softmax at %dx %+.3f +- %.3f (Holm p %s t, %s sign-flip); its gap at %dx minus its "
                         "gap at %dx %+.3f +- %.3f (%d seeds): %s." % (where, P["mult"], m, h, stats.fmt_p(ht), stats.fmt_p(hs),
                                                                    P["mult"], P["shrink_from"], gm, gh, len(g), say))
            for ref in ("logn-eval", "ssmax-eval"):
                key = "ssmax - %s, %s" % (ref, where)
                if key in res and math.isfinite(res[key][1]):
                    m2, h2, ht2, hs2 = res[key]
                    lines.append("  - training with SSMax against %s (the Softmax weights scaled at evaluation): %+.3f +- %.3f, "
                                 "Holm p %s / %s: %s." % (ref, m2, h2, stats.fmt_p(ht2), stats.fmt_p(hs2),
                                                          ("training beats it" if m2 > 0 else "training loses to it")
                                                          if max(ht2, hs2) < 0.05 else "no difference resolved"))
    interim = min((len(sd) for _, sd, _ in family), default=0) < S["seeds"]
    if interim:
        lines.append("- Interim: %d of %d seeds in the smallest contrast; the verdicts are final at %d." %
                     (min(len(sd) for _, sd, _ in family), S["seeds"], S["seeds"]))
    return lines + [""]


def determinism_section(out, S, configs, tasks, poss):
    """seeds the earlier experiment also ran, retrained here: the same training log, the same answers?"""
    ref = S["reproduces"]
    if not os.path.isdir(ref):
        return []
    lines, rows = ["### Determinism: the seeds %s also ran" % ref, ""], []
    renamed = {"logn-eval": "logn"}  # the trained LogN of the earlier experiment is the Softmax weights with LogN at evaluation
    for task in tasks:
        for pos in poss:
            for c in configs:
                for k in range(S["seeds"]):
                    mine = run_dir(out, task, pos, c, SEED + k)
                    theirs = run_dir(ref, task, pos, renamed.get(c, c), SEED + k)
                    if not os.path.isdir(theirs) or not all(os.path.exists(f) for f in result_files(mine, pos, S).values()):
                        continue
                    log_same = "-"
                    if os.path.exists(os.path.join(mine, "log.csv")) and os.path.exists(os.path.join(theirs, "log.csv")):
                        a, b = (read_csv(os.path.join(x, "log.csv")) for x in (mine, theirs))
                        first = next((x["step"] for x, y in zip(a, b) if x["train_loss"] != y["train_loss"]), None)
                        va, vb = ([r["val_loss"] for r in z if r["val_loss"]] for z in (a, b))
                        log_same = "identical" if first is None else "differs from step %s on; final val loss %s here, %s there" % (
                            first, va[-1] if va else "-", vb[-1] if vb else "-")
                    same = differ = 0
                    for mult, f in result_files(mine, pos, S).items():
                        g = os.path.join(theirs, "retrieval_theta%d.csv" % mult)
                        if not os.path.exists(g):
                            continue
                        old = {(r["context"], r["distance_start"]): r for r in read_csv(g)}
                        for r in read_csv(f):
                            o = old.get((r["context"], r["distance_start"]))
                            if o is not None:
                                same += o == r
                                differ += o != r
                    rows.append("| %s | %s | %d | %s | %d of %d |" % (c, setting_name(pos, thetas(S, pos)[-1]), SEED + k, log_same,
                                                                   same, same + differ))
    if not rows:
        return []
    lines += ["Seeds retrained here that %s also has: its training log (train loss per step) and its result rows "
              "(context x distance bin) at the contexts both evaluated. Machines and source revisions: this report's "
              "first line and %s/report.md's." % (ref, ref), "",
              "| normalizer | setting | seed | training log | result rows equal |", "|---|---|---|---|---|"] + rows
    return lines + [""]

if __name__ == "__main__":
    main()
