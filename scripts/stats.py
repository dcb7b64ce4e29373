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
  t_p(ds)                   two-sided p-value of the one-sample t-test of mean(ds) = 0 (paired differences)
  sign_flip_p(ds)           two-sided p-value of the exact sign-flip (permutation) test of the same: every
                            one of the 2^n sign patterns of the differences, no normality assumed
  holm(ps)                  Holm's step-down adjustment of a family of p-values (same order back)
  pair_by_id(a, b)          the ids two {id: value} maps share, with their values in that order

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


def _betacf(a, b, x):
    """the continued fraction of the regularised incomplete beta function (modified Lentz)"""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def betainc(a, b, x):
    """the regularised incomplete beta function I_x(a, b)"""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom"""
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_p(ds):
    """two-sided p-value of the t-test that the mean of ds is 0; nan below 2 values, 1 or 0 when every
    difference is the same (0 when they are all the same non-zero value)"""
    n = len(ds)
    if n < 2:
        return float("nan")
    m = mean(ds)
    sd = math.sqrt(sum((x - m) ** 2 for x in ds) / (n - 1))
    if sd == 0:
        return 1.0 if m == 0 else 0.0
    return t_two_sided(m / (sd / math.sqrt(n)), n - 1)


def sign_flip_p(ds, exact_up_to=20, draws=200000, seed=1):
    """two-sided p-value of the sign-flip test: under no difference every paired difference is as likely
    negated, so p is the share of the 2^n sign patterns whose |mean| reaches the observed one (the observed
    pattern included, so p >= 2^-n). Exact up to 2^20 patterns, else a Monte Carlo estimate"""
    n = len(ds)
    if n == 0:
        return float("nan")
    obs = abs(sum(ds)) * (1 - 1e-12) - 1e-15  # ties count as reaching it
    if n <= exact_up_to:
        hits = 0
        for mask in range(1 << n):
            tot = 0.0
            for i, x in enumerate(ds):
                tot += -x if mask >> i & 1 else x
            hits += abs(tot) >= obs
        return hits / (1 << n)
    rng = random.Random(seed)
    hits = sum(abs(sum(x if rng.random() < 0.5 else -x for x in ds)) >= obs for _ in range(draws))
    return (hits + 1) / (draws + 1)


def holm(ps):
    """Holm's step-down adjusted p-values of a family (nan entries are left out of the family and stay nan):
    the k-th smallest of m is multiplied by m - k + 1, then made monotone and capped at 1"""
    idx = sorted((i for i, p in enumerate(ps) if math.isfinite(p)), key=lambda i: ps[i])
    m, adj, run = len(idx), [float("nan")] * len(ps), 0.0
    for k, i in enumerate(idx):
        run = max(run, min(1.0, (m - k) * ps[i]))
        adj[i] = run
    return adj


def pair_by_id(a, b):
    """(ids, values of a, values of b) over the ids both {id: value} maps have, sorted: pairs by seed id,
    never by list position"""
    ids = sorted(set(a) & set(b))
    return ids, [a[i] for i in ids], [b[i] for i in ids]


def fmt_p(p):
    return "-" if not math.isfinite(p) else ("%.3f" % p if p >= 0.001 else "<0.001")


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
    p = t_p([0.5, 0.4, 0.7])  # t = 0.5333 / (0.15275 / sqrt 3) = 6.047, df 2: p = 0.02628 (tables)
    check(abs(p - 0.02628) < 2e-4, "paired t p-value: %g" % p)
    check(abs(t_two_sided(2.262, 9) - 0.05) < 5e-4 and abs(t_two_sided(1.96, 10000) - 0.05) < 5e-4,
          "t tail areas at the 97.5%% quantiles: %g, %g" % (t_two_sided(2.262, 9), t_two_sided(1.96, 10000)))
    check(abs(t_two_sided(0.0, 5) - 1.0) < 1e-12, "t p-value of 0 is 1")
    check(sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0]) == 2 / 32, "sign-flip, 5 positive: 2/32, got %g" % sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0]))
    # -1, 2, 3: |sum| 4; patterns reaching 4: (+-1, 2, 3) sums 4 and 6, and their negations: 4 of 8
    check(sign_flip_p([-1.0, 2.0, 3.0]) == 0.5, "sign-flip of -1, 2, 3: 4/8, got %g" % sign_flip_p([-1.0, 2.0, 3.0]))
    check(sign_flip_p([0.0, 0.0]) == 1.0, "sign-flip of no difference is 1")
    mc = sign_flip_p([1.0] * 22)  # exact 2 / 2^22; the Monte Carlo floor is 1 / (draws + 1)
    check(mc < 1e-4, "sign-flip past the exact range: %g" % mc)
    adj = holm([0.01, 0.04, 0.03, 0.005])  # sorted 0.005 (x4) 0.01 (x3) 0.03 (x2) 0.04 (x1): 0.02 0.03 0.06 0.06
    check(all(abs(x - y) < 1e-12 for x, y in zip(adj, [0.03, 0.06, 0.06, 0.02])), "Holm: %s" % adj)
    adj = holm([0.5, float("nan"), 0.2])  # the nan is not in the family: m = 2
    check(abs(adj[0] - 0.5) < 1e-12 and abs(adj[2] - 0.4) < 1e-12 and math.isnan(adj[1]), "Holm with a nan: %s" % adj)
    check(holm([0.6, 0.9]) == [1.0, 1.0], "Holm caps at 1")
    ids, x, y = pair_by_id({1337: 1.0, 1338: 2.0, 1339: 3.0}, {1337: 1.5, 1339: 3.5})
    check(ids == [1337, 1339] and x == [1.0, 3.0] and y == [1.5, 3.5], "pair_by_id: %s %s %s" % (ids, x, y))
    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


if __name__ == "__main__":
    if "--self-test" in sys.argv:
        sys.exit(0 if _self_test() else 1)
    print(__doc__)
