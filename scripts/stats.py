#!/usr/bin/env python3
"""
stats.py: the intervals the experiment reports use, in plain Python (no scipy).

  t_interval(xs)            mean and 95% Student-t half-width of a sample (seeds of one config)
  paired(xs, ys)            the paired differences y - x (the same seed: same init and data order),
                            their mean and 95% t half-width
  wilson(k, n)              95% Wilson score interval of k successes in n trials
  two_proportions(k1, n1, k2, n2)  the difference p2 - p1 of two accuracies and its 95% interval
                            (Newcombe's hybrid score interval, from the two Wilson intervals)
  bootstrap_mean(xs, ...)   95% percentile-bootstrap interval of a mean (over windows)

`python3 scripts/stats.py --self-test` checks them against values computed by hand and ends with
"N passed, M failed".
"""
import math
import random
import sys

# two-sided 95% quantiles of Student's t, t_{0.975, df}, df = 1..30; beyond 30 the normal's 1.96 is
# within 2% of the t quantile and is interpolated towards it in 1/df
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042]
Z975 = 1.959964


def t975(df):
    if df < 1:
        return math.inf
    if df <= 30:
        return _T975[df - 1]
    return Z975 + (_T975[-1] - Z975) * 30.0 / df


def mean(xs):
    return sum(xs) / len(xs)


def t_interval(xs):
    """(mean, half-width of the 95% t-interval); half-width inf for a single value"""
    n = len(xs)
    m = mean(xs)
    if n < 2:
        return m, math.inf
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, t975(n - 1) * sd / math.sqrt(n)


def paired(xs, ys):
    """mean and 95% half-width of y_i - x_i (pairs by seed)"""
    if len(xs) != len(ys):
        raise ValueError("paired samples of different sizes: %d and %d" % (len(xs), len(ys)))
    return t_interval([y - x for x, y in zip(xs, ys)])


def wilson(k, n, z=Z975):
    """95% Wilson score interval (lo, hi) of k successes in n trials"""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportions(k1, n1, k2, n2):
    """(p2 - p1, lo, hi): Newcombe's 95% interval of a difference of proportions (his method 10), which
    unlike the Wald interval keeps its coverage near 0 and 1"""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p2 - p1
    return d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def bootstrap_mean(xs, reps=2000, seed=1):
    """95% percentile-bootstrap interval (lo, hi) of the mean of xs"""
    rng = random.Random(seed)
    n = len(xs)
    if n < 2:
        return xs[0], xs[0]
    means = sorted(mean([xs[rng.randrange(n)] for _ in range(n)]) for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def fmt_interval(m, half, digits=4):
    return ("%.*f +- %.*f" % (digits, m, digits, half)) if math.isfinite(half) else ("%.*f (one seed)" % (digits, m))


def _self_test():
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL: " + what)

    m, h = t_interval([1.0, 2.0, 3.0])  # sd 1, n 3: 4.303 / sqrt(3)
    check(abs(m - 2) < 1e-12 and abs(h - 4.303 / math.sqrt(3)) < 1e-9, "t-interval of 1, 2, 3: %g +- %g" % (m, h))
    check(t_interval([5.0])[1] == math.inf, "one value has no interval")
    m, h = paired([1.0, 2.0, 3.0], [1.5, 2.4, 3.7])  # differences 0.5, 0.4, 0.7: mean 0.5333, sd 0.1528
    check(abs(m - 0.533333333) < 1e-6 and abs(h - 4.303 * 0.152752523 / math.sqrt(3)) < 1e-6, "paired: %g +- %g" % (m, h))
    lo, hi = wilson(7, 10)  # the textbook value: 0.397 .. 0.892
    check(abs(lo - 0.3968) < 1e-3 and abs(hi - 0.8922) < 1e-3, "Wilson 7/10: %g .. %g" % (lo, hi))
    lo, hi = wilson(0, 10)
    check(lo == 0 and abs(hi - 0.2775) < 1e-3, "Wilson 0/10: %g .. %g" % (lo, hi))
    check(abs(t975(1000) - 1.962) < 2e-3 and t975(30) == 2.042, "t quantiles past the table")
    d, lo, hi = two_proportions(48, 80, 56, 70)  # Newcombe (1998), example (a): 0.2000, 0.0524 .. 0.3339
    check(abs(d - 0.2) < 1e-12 and abs(lo - 0.0524) < 2e-4 and abs(hi - 0.3339) < 2e-4, "Newcombe 56/70 - 48/80: %g .. %g" % (lo, hi))
    lo, hi = bootstrap_mean([1.0, 2.0, 3.0, 4.0, 5.0] * 4)
    check(lo < 3 < hi and hi - lo < 1.6, "bootstrap interval of a mean of 3: %g .. %g" % (lo, hi))
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        sys.exit(0 if _self_test() else 1)
    print(__doc__)
