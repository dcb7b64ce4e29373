#!/usr/bin/env python3
"""
test_stats.py: the experiment reports' statistics on made-up result files whose answers are known: the
retrieval-long verdicts (confirmed, refuted, interim), pairing by seed id when a seed is missing, Holm over
the declared family, and the LM reports' excess over each run's own in-window loss and claim-1 pairing.
Ends with "N passed, M failed".
"""
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import ablation_report as R  # noqa: E402
import retrieval  # noqa: E402
import stats  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what)


ANSWERS = 400  # per context: accuracies are multiples of 1/400


def write_unit(out, pos, attn, seed, acc_by_mult, S):
    d = retrieval.run_dir(out, "recall", pos, attn, seed)
    os.makedirs(d, exist_ok=True)
    for mult, path in retrieval.result_files(d, pos, S).items():
        with open(path, "w") as f:
            f.write("context,distance_start,distance_end,answers,correct\n")
            for m in S["mults"]:
                f.write("%d,1,1,%d,%d\n" % (m * S["T"], ANSWERS, round(acc_by_mult(m) * ANSWERS)))


def long_folder(gap64, gap16, jitter, seeds=15, skip=()):
    """a retrieval-long folder: softmax at 0.5 everywhere, ssmax above it by gap16 at 16x and gap64 at 64x (plus a
    seed-dependent jitter), the others at softmax's level"""
    S = dict(retrieval.SCALES["long"], seeds=seeds)
    out = tempfile.mkdtemp(prefix="stats-")
    for pos in ("rope", "none"):
        for k in range(seeds):
            seed = retrieval.SEED + k
            j = jitter * ((seed * 7) % 5 - 2)  # -2..2 times jitter, the same for both schemes
            for attn in retrieval.evaluated(S, S["configs"]):
                if (attn, seed) in skip:
                    continue
                if attn == "ssmax":
                    f = lambda m, j=j: 0.5 + (gap64 + j if m == 64 else gap16 + j if m == 16 else 0.0)
                else:
                    f = lambda m: 0.5
                write_unit(out, pos, attn, seed, f, S)
    return out, S


def report_of(out, S):
    retrieval.report(out, S, S["configs"], ["recall"], ["rope", "none"], None, "long")
    return open(os.path.join(out, "report.md")).read()


# ---- retrieval-long: the declared verdicts
out, S = long_folder(0.20, 0.05, 0.01)
text = report_of(out, S)
check(text.count("claim 3 confirmed") == 2, "a gap of 0.20 at 64x over 0.05 at 16x in 15 seeds should confirm claim 3 in both schemes")
check("Holm over all of them" in text and text.count("| ssmax - softmax, recall, ") == 2, "the primary table should hold both schemes' contrasts")
check("training beats it" in text, "ssmax 0.20 above the evaluation-only switches should beat them")
check("Interim" not in text, "15 of 15 seeds is not interim")
shutil.rmtree(out)

out, S = long_folder(0.0, 0.0, 0.005)
text = report_of(out, S)
check(text.count("claim 3 refuted") == 2, "no gap (+-0.01) should refute claim 3 within +-0.03")
shutil.rmtree(out)

out, S = long_folder(0.02, 0.10, 0.005)
text = report_of(out, S)
check(text.count("claim 3 refuted") == 2, "a gap that shrinks from 0.10 at 16x to 0.02 at 64x should refute claim 3")
shutil.rmtree(out)

out, S = long_folder(0.20, 0.05, 0.01, seeds=4)
S = dict(S, seeds=15)
text = report_of(out, S)
check("Interim: 4 of 15 seeds" in text, "4 of 15 seeds should be reported as interim")
shutil.rmtree(out)

# ---- pairing by seed id: softmax lacks seed 3; by list position every later seed would pair with the next one
out, S = long_folder(0.20, 0.05, 0.03, seeds=6, skip={("softmax", 3)})
rows = retrieval.table(out, S, retrieval.evaluated(S, S["configs"]), "recall", "rope", 50)
seeds, ds = retrieval.differences(rows, "ssmax", "softmax", 64 * S["T"])
want = [0.20 + 0.03 * ((s * 7) % 5 - 2) for s in (1, 2, 4, 5, 6)]
check(seeds == [1, 2, 4, 5, 6] and all(abs(x - y) < 1.5 / ANSWERS for x, y in zip(ds, want)),
      "differences should pair seed ids, got %s %s" % (seeds, ds))
text = report_of(out, S)
check("| ssmax - softmax, recall, RoPE theta x50 | 5 |" in text, "the primary table should count the 5 seeds both have")
shutil.rmtree(out)

# ---- Holm over the declared family: 8 contrasts, so a p of 0.004 becomes 0.032
adj = stats.holm([0.004] + [0.5] * 7)
check(abs(adj[0] - 0.032) < 1e-12, "Holm over 8: %s" % adj)

# ---- the LM reports: the excess over the run's own in-window loss, and claim 1 paired by seed id
T = 16


def lm_unit(out, c, k, band_loss, val):
    """a (config, seed) unit with per-window band losses and a training log ending at val"""
    d = R.eval_dir(out, c, k)
    p = R.seed_dir(out, c, k)
    os.makedirs(d, exist_ok=True)
    os.makedirs(p, exist_ok=True)
    with open(os.path.join(p, "log.csv"), "w") as f:
        f.write("step,tokens,train_loss,val_loss,lr,grad_norm,step_ms,tok_per_s\n1,1,1.0,%g,0,0,1,1\n" % val)
    for f in R.unit_files(out, c, k):  # what makes a unit finished; the tests below read only the windows and the log
        if not os.path.exists(f):
            open(f, "w").close()
    for mult in (1, 50):
        with open(os.path.join(d, "lengths_theta%d_windows.csv" % mult), "w") as f:
            f.write("window,position_start,position_end,count,loss\n")
            for w in range(2):
                for j, (lo, hi, _) in enumerate(R.BANDS):
                    f.write("%d,%d,%d,1,%g\n" % (w, lo * T + 1, hi * T, band_loss[j]))


out = tempfile.mkdtemp(prefix="stats-lm-")
S = {"seeds": 3}
for k in range(3):
    # (a): 2.0 inside T, 3.0 beyond; (b): 0.1 lower everywhere (an in-window offset), so its excess is (a)'s
    lm_unit(out, "a", k, [2.0, 3.0, 3.5, 4.0], 1.5 + 0.01 * k)
    lm_unit(out, "b", k, [1.9, 2.9, 3.4, 3.9], 1.4 + 0.01 * k)
raw = R.band_difference(out, S, T, "b", "a", 50, 1)
exc = R.band_excess_difference(out, S, T, "b", "a", 50, 1)
check(raw[3] == exc[3] == "3 seeds" and abs(raw[0] + 0.1) < 1e-9 and abs(exc[0]) < 1e-9,
      "an in-window offset of -0.1 is all of (b)'s raw difference beyond T (%g) and none of its excess (%g)" % (raw[0], exc[0]))
# claim 1 pairs by seed id: drop (b)'s seed SEED + 1, so that by position its seed SEED + 2 would meet (a)'s SEED + 1
shutil.rmtree(R.seed_dir(out, "b", 1))
finals = R.final_losses(out, S)
ids, xa, xb = stats.pair_by_id(finals["a"], finals["b"])
check(ids == [R.SEED, R.SEED + 2] and all(abs(y - x + 0.1) < 1e-9 for x, y in zip(xa, xb)),
      "claim 1 should pair (b) with (a) by seed id: %s %s %s" % (ids, xa, xb))
shutil.rmtree(out)

print("%d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
