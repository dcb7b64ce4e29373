#!/usr/bin/env python3
"""
ablation_report.py: what ablation.py's runs become: the configs' names and colours, where each unit's
files lie in the run folder, the statistics read from them (length bands, RoPE's bound, the context
gate, the machines), the figures and report.md. It reads finished runs only, so `ablation.py
--report-only` can redo a report from a published copy of the small files alone.
"""
import glob
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_eval  # noqa: E402
import stats  # noqa: E402

# ----------------------------------------------------------------------------
# the configs (ablation.py --configs replaces them with normalizers by name) and the run folder's layout

CONFIGS = ["a", "b", "c", "d", "e", "f"]


# the paper's configs, and LogN (Qwen's; not in the paper), which a scale may add beside them
LABELS = {"a": "(a) Softmax", "b": "(b) SSMax", "c": "(c) SSMax, s = 1", "d": "(d) SSMax + bias",
          "e": "(e) Softmax -> SSMax after", "f": "(f) Softmax -> SSMax during", "logn": "LogN"}


ATTN = {"a": "softmax", "b": "ssmax", "c": "ssmax-fixed", "d": "ssmax-bias", "e": "ssmax", "f": "ssmax", "logn": "logn"}


COLORS = {"a": "#1f77b4", "b": "#d62728", "c": "#ff7f0e", "d": "#2ca02c", "e": "#9467bd", "f": "#8c564b",
          "logn": "#e377c2"}


PALETTE = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#000000"]


PRETRAINED = ["a", "b", "c", "d", "f"]


SEED = 1337


def final_ckpt(d, steps):
    return os.path.join(d, "ckpt_%08d.bin" % steps)


def seed_dir(out, c, k):
    """the pretraining run of config c from seed SEED + k (k = 0: the main one)"""
    return os.path.join(out, c, "pretrain" if k == 0 else "pretrain-seed%d" % (SEED + k))


read_csv = plot_eval.read_csv


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


def rope_bound(hs, T, theta_train, theta_eval):
    """the critical-dimension extrapolation bound (Liu et al., arXiv 2310.05209): the rotary pairs whose
    period the training length covers are d_c = 2 ceil(hs/2 log_theta(T / 2 pi)); beyond 2 pi theta'^(d_c / hs)
    positions, the first pair that never saw a full period turns past the angles it was trained on"""
    d_c = 2 * math.ceil(hs / 2 * math.log(T / (2 * math.pi)) / math.log(theta_train))
    return 2 * math.pi * theta_eval ** (d_c / hs), d_c


# a needle's first digit is drawn from 1-9, the other six from 0-9: the rates a model reaches knowing only the format
CHANCE_FIRST = 1.0 / 9


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


def _by_most(groups):
    """'X' when every run shares one value; else 'X for every run but these: Y (its runs); ...', X the most common"""
    if len(groups) <= 1:
        return next(iter(groups), "?")
    most = max(groups, key=lambda k: len(groups[k]))
    return "%s for every run but these: %s" % (
        most, "; ".join("%s (%s)" % (k, ", ".join(v)) for k, v in groups.items() if k != most))


def machine_line(out):
    """'Machine: X' (the CPU and kernel tier from every run's config.json) when one machine made every run; else
    'Machines: X for every run but these: Y (its runs); ...', since an experiment that accumulates over sessions
    may run on several; 'Machine: ?' when no run says. Where a run's config.json names the source revision it
    was built from (train_gpt records it since 2026-12-07), the revisions follow in the same form"""
    import json
    runs, sources = {}, {}
    for root, _, files in sorted(os.walk(out)):
        if "config.json" in files:
            try:
                b = json.load(open(os.path.join(root, "config.json"))).get("build", {})
            except (OSError, ValueError):
                continue
            name = "%s, kernel tier %s" % (b.get("cpu", "?"), b.get("kernel_tier", "?"))
            runs.setdefault(name, []).append(os.path.relpath(root, out))
            sources.setdefault(b.get("source") or "not recorded", []).append(os.path.relpath(root, out))
    line = "%s: %s" % ("Machine" if len(runs) <= 1 else "Machines", _by_most(runs))
    if set(sources) - {"not recorded"}:
        line += ". Source revision (git describe of the build): %s" % _by_most(sources)
    return line


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


def excess(bands):
    """a run's band losses minus its own loss in [1, T] (band 0): what it loses by going beyond its window, free
    of an offset it has everywhere"""
    return [x - bands[0] for x in bands]


def seed_band_differences(out, S, T, c, ref, mult, over_window=False):
    """the seeds both c and ref have finished (by seed id), and per band the list of c's band loss minus ref's,
    by seed; over_window: each run's loss in excess of its own [1, T] loss"""
    ks = sorted(set(finished_seeds(out, c, S)) & set(finished_seeds(out, ref, S)))
    f = excess if over_window else (lambda x: x)
    pairs = [(f(band_means(out, c, k, mult, T)), f(band_means(out, ref, k, mult, T))) for k in ks]
    return ks, [[x[j] - y[j] for x, y in pairs] for j in range(len(BANDS))]


def band_difference(out, S, T, c, ref, mult, j, over_window=False):
    """(mean, lo, hi, how, differences) of c's loss minus ref's in band j (over_window: of their excess over
    their own [1, T] loss): paired by seed with a 95% t-interval when two or more seeds of both have finished,
    else over the first seed's windows (the same windows for every model) with a 95% bootstrap interval"""
    ks, diffs = seed_band_differences(out, S, T, c, ref, mult, over_window)
    if len(ks) >= 2 and all(math.isfinite(x) for x in diffs[j]):
        m, h = stats.t_interval(diffs[j])
        return m, m - h, m + h, "%d seeds" % len(ks), diffs[j]
    spans = [(0, T), (BANDS[j][0] * T, BANDS[j][1] * T)]
    a = window_bands(os.path.join(out, c, "lengths_theta%d_windows.csv" % mult), spans)
    b = window_bands(os.path.join(out, ref, "lengths_theta%d_windows.csv" % mult), spans)
    d = [(x[1] - x[0] * over_window) - (y[1] - y[0] * over_window) for x, y in zip(a, b)
         if all(math.isfinite(v) for v in x + y)]
    if not d:
        return float("nan"), float("nan"), float("nan"), "not evaluated", []
    lo, hi = stats.bootstrap_mean(d)
    return sum(d) / len(d), lo, hi, "1 seed, %d windows" % len(d), []


def band_excess_difference(out, S, T, c, ref, mult, j):
    """band_difference of the excess over each run's own in-window loss: the length-generalisation figure"""
    return band_difference(out, S, T, c, ref, mult, j, over_window=True)


def final_losses(out, S):
    """{config: {seed id: final validation loss}} of every finished pretraining run: pairs are made by seed id"""
    got = {}
    for c in PRETRAINED:
        runs = [(SEED, os.path.join(out, c, "pretrain"))] + other_seeds(out, c, S)
        got[c] = {seed: log_rows(d)[3][-1] for seed, d in runs if os.path.exists(os.path.join(d, "log.csv"))}
    return got


def p_pair(ds):
    """(paired t p, sign-flip p) of a list of paired differences; nan below 2"""
    return (stats.t_p(ds), stats.sign_flip_p(ds)) if len(ds) >= 2 else (float("nan"), float("nan"))


def seed_bands_table(out, S, T):
    """per config and theta, the band losses' paired difference to the baseline over seeds, raw and in excess of
    each run's own in-window loss"""
    base = PRETRAINED[0]
    ks = finished_seeds(out, base, S)
    if len(ks) < 2:
        return []
    lines = []
    for over_window in (False, True):
        lines += [("Over seeds (each seed's band loss is its mean over the windows): the paired difference to %s, mean "
                   "+- 95%% t-interval over the seeds both have finished (negative: lower loss than %s; ** the interval "
                   "excludes 0, unadjusted):" if not over_window else
                   "The same in excess of each run's own loss in [1, T] at that theta (band loss minus [1, T] loss, then "
                   "differenced): the length-generalisation figure, free of an offset a config has at every position "
                   "(so its [1, T] column is 0 by construction):") % ((LABELS[base], LABELS[base]) if not over_window else ()), "",
                  "| config minus %s | theta | seeds | " % LABELS[base] + " | ".join(name for _, _, name in BANDS) + " |",
                  "|---|---|---|" + "---|" * len(BANDS)]
        for c in CONFIGS:
            if c == base:
                continue
            for mult in (1, 50):
                common, diffs = seed_band_differences(out, S, T, c, base, mult, over_window)
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
        lines.append("")
    return lines


def held(v, holm_t):
    """a directional verdict stands only when the family's Holm-adjusted t p-value is below 0.05 too"""
    if v in ("reproduced", "contradicted", "not reproduced (they differ)") and not (math.isfinite(holm_t) and holm_t < 0.05):
        return "%s before correction; not resolved after Holm" % v
    return v


def family_lines(fam, label, want, unit):
    """one line per (config, ids, differences) of a family: interval, p-values, Holm over the family, verdict"""
    tp = [p_pair(ds)[0] for _, _, ds in fam]
    sp = [p_pair(ds)[1] for _, _, ds in fam]
    ht, hs = stats.holm(tp), stats.holm(sp)
    lines = []
    for (c, ids, ds), a1, a2, a3, a4 in zip(fam, tp, sp, ht, hs):
        if len(ds) < 2:
            lines.append("- %s: %d %s paired so far: not testable yet." % (label(c, ids), len(ds), unit))
            continue
        m, h = stats.t_interval(ds)
        lines.append("- %s: %+.4f [%+.4f, %+.4f] (%d %s paired by id: %s; p %s t, %s sign-flip; Holm over %d: %s, %s): %s." %
                     (label(c, ids), m, m - h, m + h, len(ds), unit, ", ".join(str(i) for i in ids), stats.fmt_p(a1),
                      stats.fmt_p(a2), len(fam), stats.fmt_p(a3), stats.fmt_p(a4), held(verdict(m - h, m + h, want(c)), a3)))
    return lines


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
             "interval lies on the paper's side of 0), contradicted (on the other side), not resolved (it holds 0). "
             "Within a claim the comparisons are one family: next to each interval stand the paired t and exact "
             "sign-flip p-values and their Holm adjustment over the family, and a verdict of reproduced or "
             "contradicted stands only where the Holm-adjusted t p-value is below 0.05 too. No primary comparison "
             "was named before these runs: every claim here is exploratory.", ""]
    # 1. pretraining loss, paired by seed id
    finals = final_losses(out, S)
    lines.append("**1. Pretraining loss: every SSMax variant below Softmax.**")
    fam = []
    for c in PRETRAINED:
        if c == base or ATTN.get(c) not in ("ssmax", "ssmax-fixed", "ssmax-bias") or c == "f":
            continue
        ids, xa, xc = stats.pair_by_id(finals[base], finals[c])
        fam.append((c, ids, [y - x for x, y in zip(xa, xc)]))
    lines += family_lines(fam, lambda c, ids: "%s minus %s, final validation loss" % (name(c), name(base)),
                          lambda c: "lower", "seeds")
    lines.append("")
    # 2. length generalisation, theta x50, inside RoPE's bound: each run's excess over its own in-window loss
    lines.append("**2. Length generalisation (theta x50 at evaluation): SSMax far better than Softmax beyond T.**")
    lines.append("The figure is each run's loss beyond T in excess of its own loss in [1, T] at the same theta, "
                 "differenced between the two configs: an offset a model has at every position (a lower in-window "
                 "loss) is not length generalisation. The raw band difference follows it in brackets.")
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
        fam = []
        for c in CONFIGS:
            if c == base:
                continue
            want, ref = wants.get(c, ("lower", base))
            if ref not in CONFIGS:
                continue
            for j in inside:
                m, lo, hi, how, ds = band_excess_difference(out, S, T, c, ref, 50, j)
                rm, rlo, rhi, _, _ = band_difference(out, S, T, c, ref, 50, j)
                fam.append(((c, ref, j, want, m, lo, hi, how, rm, rlo, rhi), ds))
        tp = [p_pair(ds)[0] for _, ds in fam]
        sp = [p_pair(ds)[1] for _, ds in fam]
        ht, hsf = stats.holm(tp), stats.holm(sp)
        for ((c, ref, j, want, m, lo, hi, how, rm, rlo, rhi), _), a1, a2, a3, a4 in zip(fam, tp, sp, ht, hsf):
            v = "recorded (gate failed)" if gated else held(verdict(lo, hi, want), a3)
            lines.append("- %s minus %s, excess loss in %s over [1, T] (RoPE's bound: %.1fx T): %+.3f [%+.3f, %+.3f] (%s; "
                         "p %s t, %s sign-flip; Holm over %d: %s, %s) [raw: %+.3f [%+.3f, %+.3f]]; the paper: %s: %s." %
                         (name(c), name(ref), BANDS[j][2], bound, m, lo, hi, how, stats.fmt_p(a1), stats.fmt_p(a2), len(fam),
                          stats.fmt_p(a3), stats.fmt_p(a4), rm, rlo, rhi, paper.get(c, "better than (a)"), v))
    lines.append("")
    # 3. needle retrieval beyond T
    lines.append("**3. Key-information retrieval (needle, theta x50): SSMax keeps its accuracy beyond T where Softmax fails.**")
    def pooled(c, f, longer, what="exact"):
        rows = [r for r in read_csv(os.path.join(out, c, f)) if (int(r["context"]) > T) == longer]
        return sum(round(float(r[what]) * int(r["trials"])) for r in rows), sum(int(r["trials"]) for r in rows)
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
    for f, what in routes:  # the first digit is drawn from 1-9: a model that has learned only "a digit comes" is right 1 in 9
        cells = []
        for c in CONFIGS:
            k, n = pooled(c, f, True, "first_digit")
            if n:
                lo, hi = stats.wilson(k, n)
                cells.append("%s %.3f [%.3f, %.3f]%s" % (name(c), k / n, lo, hi, " (at chance)" if lo <= CHANCE_FIRST <= hi else
                                                         " (below chance)" if hi < CHANCE_FIRST else " (above chance)"))
        if cells:
            lines.append("- First digit right at contexts > T%s, against its chance of 1/9 = %.3f (95%% Wilson): %s." %
                         (what, CHANCE_FIRST, "; ".join(cells)))
    lines.append("- The retrieval experiments (docs/experiments/retrieval, retrieval-long) test this claim with retrieval "
                 "learned from scratch.")
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
    finals = final_losses(out, S)
    lines[-1] += (" Seeds finished so far (of %d): %s; a seed sets the init and the data order, the same for every "
                  "config, so differences are paired by seed. Every seed's model is evaluated for length; the needle "
                  "uses the first seed's (%d)." % (S.get("seeds", 1), ", ".join("%s %d" % (LABELS[c], len(finals[c])) for c in PRETRAINED),
                                                   SEED))
    lines += ["", "## Pretraining loss over seeds", "",
              "Final validation loss, mean and 95%% t-interval over seeds, and the paired difference to %s (negative: "
              "lower loss than %s)." % (LABELS[base], LABELS[base]), "",
              "| config | seeds | final val loss | difference to %s (paired) | what it says |" % LABELS[base], "|---|---|---|---|---|"]
    for c in PRETRAINED:
        m, h = stats.t_interval(list(finals[c].values()))
        if c == base:
            diff, says = "-", "the baseline"
        else:
            _, xa, xc = stats.pair_by_id(finals[base], finals[c])
            dm, dh = stats.paired(xa, xc)
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
              "needle exact (all cells, 95% Wilson; chance 1e-7) | needle exact at <= T | needle exact at > T | first digit (all; chance 0.111) | "
              "digits right (all; chance 0.100) | "
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
