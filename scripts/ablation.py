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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ablation_report as R  # noqa: E402  (the configs' table, where the files lie, the figures and report.md)
from ablation_report import final_ckpt, seed_dir, eval_dir, unit_files, SEED  # noqa: E402

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
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    names = check_normalizers(spec, normalizer_names())
    R.CONFIGS, R.PRETRAINED = names, names
    R.LABELS = {n: n for n in names}
    R.ATTN = {n: n for n in names}
    R.COLORS = {n: R.PALETTE[i % len(R.PALETTE)] for i, n in enumerate(names)}


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








def fresh(outputs, inputs):
    """every output exists and is newer than every input: a finished evaluation, reused"""
    if not all(os.path.exists(p) for p in outputs + inputs):
        return False
    if min(os.path.getmtime(p) for p in outputs) > max(os.path.getmtime(p) for p in inputs):
        print("reusing %s" % ", ".join(outputs))
        return True
    return False




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
        R.CONFIGS = list(S["configs"])
        R.PRETRAINED = [c for c in R.CONFIGS if c != "e"]
    if args.configs and not args.out:
        out = out.replace("ablation", "compare")  # runs/compare, runs/compare-smoke: not mixed with (a)-(f)
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "commands.log") # appended to: an interrupted ablation keeps its history
    t_start = time.time()
    switch = int(S["steps"] * S.get("switch_frac", 0.8)) + 1  # (f): the last part with SSMax
    if args.report_only:
        R.report(out, S, args.data or "books", switch, None, args.scale)
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
        extra = ["--attn", R.ATTN[c], "--seed", str(seed)] + (["--attn-switch-step", str(switch)] if c == "f" else [])
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
        run(["./train_gpt", "--init-from", ckpt, "--attn", R.ATTN[c], "--rope-theta", str(ft_theta), "-i", train_glob,
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
    order = [c for c in R.CONFIGS if c != "e"]
    if "e" in R.CONFIGS:
        order.insert(order.index("a") + 1 if "a" in order else 0, "e")
    first = [c for c in order if c in S.get("primary", order)]  # every seed of these, then every seed of the rest
    units = [(k, c) for k in range(S["seeds"]) for c in first] + \
            [(k, c) for k in range(S["seeds"]) for c in order if c not in first]
    for c in R.CONFIGS:
        os.makedirs(os.path.join(out, c), exist_ok=True)
    trained = 0
    for k, c in units:
        files = unit_files(out, c, k, S)
        if args.publish and all(os.path.exists(os.path.join(args.publish, os.path.relpath(f, out))) for f in files):
            print("reusing %s, seed %d: published in %s" % (R.LABELS[c], SEED + k, args.publish))
            continue
        if all(os.path.exists(f) for f in files):
            print("reusing %s, seed %d: finished in %s" % (R.LABELS[c], SEED + k, out))
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
        if k == 0 and c == R.PRETRAINED[0] and S.get("gate_windows"):
            gate(c, ckpt)
        if k == 0:
            needle(c, ckpt, convert)
        if args.publish:  # a published unit keeps its results, not its weights ((a)'s until (e) is done)
            keep = {seed_dir(out, "a", k)} if c == "a" and "e" in R.CONFIGS else set()
            for d in {pre, os.path.join(out, c, "needle-ft"), os.path.join(out, c, "needle-ft-theta1")} - keep:
                for f in glob.glob(os.path.join(d, "ckpt_*.bin")):
                    os.remove(f)
            publish(out, args.publish)
    finish(out, args.publish, S, data, switch, time.time() - t_start, args.scale)






def finish(out, publish_to, S, data, switch, seconds, scale):
    """the report of this folder's units; with --publish, of every unit published so far too"""
    R.report(out, S, data, switch, seconds, scale)
    if publish_to:
        publish(out, publish_to)
        R.report(publish_to, S, data, switch, None, scale)


def length_edges(T, n):
    """bucket ends for eval_gpt lengths --edges: sqrt(2)-spaced, plus the bands' and the gate's edges"""
    edges = {int(math.ceil(2 ** (k / 2))) for k in range(1, int(2 * math.log2(n)) + 1)}
    edges |= {e for e in (T // 16, T // 8, T // 2, T, 4 * T, 10 * T, 16 * T) if 0 < e < n} | {n}
    return sorted(e for e in edges if e <= n)
















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


if __name__ == "__main__":
    main()
