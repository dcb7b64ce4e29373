#!/usr/bin/env bash
# test_ablation.sh: the ablation runner at --scale smoke, end to end: every run, evaluation, CSV,
# figure and the report are made, and their contents are sane.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
O=build/ablation-smoke
rm -rf $O
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! $PYTHON -c 'import matplotlib, numpy' 2>/dev/null; then
  bad "$PYTHON lacks matplotlib or numpy (make setup installs python3-matplotlib python3-numpy)"
  echo "$pass passed, $fail failed"; exit 1
fi
$PYTHON scripts/ablation.py --scale smoke --out $O >build/ablation-smoke.log 2>&1 && ok || { bad "the smoke ablation failed: $(tail -4 build/ablation-smoke.log)"; echo "$pass passed, $fail failed"; exit 1; }

for f in report.md loss.png lengths.png needle.png needle_first.png needle_digits.png needle_scores.png ssmax_s.png; do
  [ -s $O/$f ] && ok || bad "$O/$f is missing or empty"
done
for f in loss.png lengths.png needle.png needle_first.png needle_digits.png needle_distance.png needle_scores.png ssmax_s.png; do
  [ "$(head -c 8 $O/$f | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] && ok || bad "$f is not a PNG"
  grep -q "($f)" $O/report.md && ok || bad "report.md does not show $f"
done
for c in a b c d e f; do
  # the numbers table, two band rows (theta x1, x50), for trained configs the seeds table, and but for (a) two
  # rows of band differences to (a) over seeds, and two more of those differences in excess of the in-window loss
  rows=3; [ $c != e ] && rows=$((rows + 1)); [ $c != a ] && rows=$((rows + 4))
  [ "$(grep -c "^| ($c)" $O/report.md)" -eq $rows ] && ok || bad "report.md should have $rows rows for ($c)"
  for m in 1 50; do
    # 32 x T = 5120 positions, losses finite and positive
    awk -F, 'NR > 1 {if (!($3 > 0 && $3 < 50)) bad = 1; last = $2} END {exit bad || last != 5120}' $O/$c/lengths_theta$m.csv \
      && ok || bad "($c) lengths_theta$m.csv: losses not sane or not up to position 5120"
  done
  [ "$(tail -n +2 $O/$c/needle.csv | wc -l)" -eq 6 ] && ok || bad "($c) needle.csv should hold 2 contexts x 3 depths"
  [ "$(tail -n +2 $O/$c/scores.csv | wc -l)" -eq 6 ] && ok || bad "($c) scores.csv should hold 6 trials"
  [ "$(tail -n +2 $O/$c/scores_heads.csv | wc -l)" -eq 4 ] && ok || bad "($c) scores_heads.csv should hold 2 layers x 2 heads"
done
for c in a b c d f; do
  [ -f $O/$c/pretrain/ckpt_00000030.bin ] && ok || bad "($c) has no final pretraining checkpoint"
  [ -f $O/$c/pretrain-seed1338/ckpt_00000030.bin ] && ok || bad "($c) has no pretraining run from the second seed"
  cmp -s $O/$c/pretrain/log.csv $O/$c/pretrain-seed1338/log.csv && bad "($c): the second seed trained the same run" || ok
done
grep -q "other seed" $O/report.md && ok || bad "report.md does not report the seed-to-seed spread"
for k in 1 2 3 4; do grep -q "^\*\*$k\. " $O/report.md || break; done && grep -q "^## The paper's claims" $O/report.md \
  && grep -Eq "^- \(b\) SSMax minus \(a\) Softmax, final validation loss: .*\(2 seeds paired by id: 1337, 1338; p [0-9.<]* t, [0-9.]* sign-flip; Holm over [0-9]: .*\): (reproduced|contradicted|not resolved)" $O/report.md \
  && ok || bad "report.md lacks the four claims with verdicts"
grep -q "^| (b) SSMax minus (a) Softmax | x50 | 2 | [-+][0-9.]* +- [0-9.]*" $O/report.md && ok || bad "no band differences to (a) over seeds"
[ "$(grep -c "^| (b) SSMax minus (a) Softmax | x50 | 2 | +0.000 +- 0.000 |" $O/report.md)" = 1 ] && grep -q "^The same in excess of each run's own loss" $O/report.md \
  && ok || bad "report.md lacks the band differences in excess of the in-window loss"
grep -q "first digit (all; chance 0.111)" $O/report.md && grep -q "^- First digit right at contexts > T, against its chance of 1/9" $O/report.md \
  && ok || bad "report.md should state the needle rates' chance levels"
$PYTHON tests/test_stats.py >build/test_stats.log 2>&1 && ok || bad "the reports' statistics on made-up results: $(grep -v ^wrote build/test_stats.log | tail -4)"
# the needle's distance to the question: ~0 at depth 1, falling with the depth, growing with the context
awk -F, 'NR == 1 {if ($7 != "distance") exit 1; next} $2 == 1 && $7 > 2 {exit 1}
  {if ($1 == c && $7 >= last) exit 1; if ($1 != c && NR > 2 && $7 <= first) exit 1; if ($1 != c) first = $7; c = $1; last = $7}' $O/b/needle.csv \
  && awk -F, 'NR == 1 && $8 != "distance" {exit 1} NR > 1 && ($8 < 0 || $8 > $2) {exit 1}' $O/b/scores.csv \
  && ok || bad "needle.csv/scores.csv: the distance column is missing or not sane"
[ ! -f $O/a/pretrain/ssmax.csv ] && [ -f $O/b/pretrain/ssmax.csv ] && ok || bad "ssmax.csv belongs to the SSMax runs only"
awk -F, 'NR > 1 && $4 != 1 {exit 1}' $O/c/pretrain/ssmax.csv && ok || bad "(c) s should stay exactly 1"
awk -F, 'NR > 1 && $5 == "" {exit 1}' $O/d/pretrain/ssmax.csv && ok || bad "(d) ssmax.csv should log b"
[ "$(cut -d, -f1 $O/f/pretrain/ssmax.csv | sed -n 2p)" = 24 ] && ok || bad "(f) should switch at step 25 (s logged from step 24)"
grep -q "attention switched from softmax to ssmax" $O/commands.log && ok || bad "(f) never switched"
grep "^+ ./eval_gpt lengths" $O/commands.log | grep "a/pretrain" | tail -1 | grep -q -- "--attn ssmax" && ok || bad "(e) is not (a) converted"
grep -- "--task needle" $O/commands.log | grep -q -- "--rope-theta 500000" && ok || bad "the retrieval fine-tuning should run at theta x50"
# the plotting script on its own, as after eval_gpt by hand
$PYTHON scripts/plot_eval.py needle --metric answer_tokens --out $O/own_digits.png b=$O/b/needle.csv >/dev/null 2>&1 && [ -s $O/own_digits.png ] \
  && ok || bad "plot_eval.py needle --metric answer_tokens failed"
for kind in lengths needle needle-distance scores s; do
  case $kind in lengths) f=lengths_theta1.csv;; needle|needle-distance) f=needle.csv;; scores) f=scores.csv;; s) f=pretrain;; esac
  $PYTHON scripts/plot_eval.py $kind --out $O/own_$kind.png --train-len 160 b=$O/b/$f d=$O/d/$f >/dev/null 2>&1 && [ -s $O/own_$kind.png ] \
    && ok || bad "plot_eval.py $kind failed"
done
# a second run reuses every finished training run
$PYTHON scripts/ablation.py --scale smoke --out $O >build/ablation-smoke2.log 2>&1 && grep -q "reusing" build/ablation-smoke2.log \
  && ! grep -q "train_gpt --model" build/ablation-smoke2.log && ok || bad "a second run should reuse the finished pretraining runs"
! grep -q "^+ ./eval_gpt" build/ablation-smoke2.log && ok || bad "a second run should reuse the finished evaluations"
rm $O/report.md $O/needle.png
$PYTHON scripts/ablation.py --scale smoke --out $O --report-only >build/ablation-smoke3.log 2>&1 && [ -s $O/report.md ] && [ -s $O/needle.png ] \
  && ! grep -q "^+ " build/ablation-smoke3.log && ok || bad "--report-only should redraw the report without running anything"
# the seeds table: every trained config with its seeds, an interval, and the paired difference to (a)
grep -q "^| (b) SSMax | 2 | [0-9.]* +- [0-9.]* | [-0-9.]* +- [0-9.]* |" $O/report.md && ok || bad "the seeds table lacks (b)'s interval and paired difference"
grep -q "Wilson" $O/report.md && grep -Eq "^\| \(a\) Softmax \| [0-9.]+ \|.*\| [0-9.]+ \[[0-9.]+, [0-9.]+\] \|" $O/report.md && ok || bad "needle accuracy without its Wilson interval"
${PYTHON:-/usr/bin/python3} scripts/stats.py --self-test >build/stats.log 2>&1 && ok || bad "stats.py self-test: $(cat build/stats.log)"
# --publish: the small files alone, from which --report-only recomputes the same report
P=build/ablation-published
rm -rf $P
$PYTHON scripts/ablation.py --scale smoke --out $O --publish $P >build/ablation-publish.log 2>&1 && [ -s $P/b/pretrain/log.csv ] \
  && [ -s $P/a/needle.csv ] && [ -z "$(find $P -name '*.bin')" ] && ok || bad "--publish should copy the CSVs and no checkpoints"
$PYTHON scripts/ablation.py --scale smoke --out $P --report-only >build/ablation-republish.log 2>&1 \
  && diff <(grep '^|' $O/report.md) <(grep '^|' $P/report.md) >/dev/null && ok || bad "the report recomputed from the published files differs"
# --configs: any set of normalizers through the same pipeline, with a report of its own
C=build/compare-smoke
rm -rf $C
$PYTHON scripts/ablation.py --scale smoke --configs softmax,sink,softpick --out $C >build/compare-smoke.log 2>&1 && ok \
  || bad "--configs softmax,sink,softpick failed: $(tail -3 build/compare-smoke.log)"
for c in softmax sink softpick; do
  [ "$(grep -c "^| $c |" $C/report.md 2>/dev/null)" -eq 4 ] && [ -s $C/$c/needle.csv ] && [ -s $C/$c/lengths_theta50.csv ] && ok \
    || bad "the --configs report or evaluations lack $c"
done
grep -q "sigma per head" build/compare-smoke.log $C/report.md 2>/dev/null; [ -s $C/ssmax_s.png ] && ok || bad "--configs: no figure of sink's sigma"
$PYTHON scripts/ablation.py --scale smoke --configs softmax,bogus --out $C >build/compare-bad.log 2>&1
[ $? -ne 0 ] && grep -q "^error: --configs" build/compare-bad.log && ok || bad "--configs with an unknown name should stop with an error"

# ---- --scale geometry-smoke: the geometry scale's pipeline (constant lr, spread validation, needles mixed
# into pretraining and scored without fine-tuning, lengths at 16x in bands with intervals, gate, RoPE bound)
# Run as across sittings: the first invocation stops after 3 runs (--max-runs), each unit (pretraining and its
# evaluations) published as it ends and its checkpoints deleted; the second, from an empty folder as a new
# sitting would have, skips the published units and does the rest; the command history accumulates
G=build/ablation-geometry-smoke GP=build/ablation-geometry-published
rm -rf $G $GP
$PYTHON scripts/ablation.py --scale geometry-smoke --out $G --publish $GP --max-runs 3 >build/ablation-geometry.log 2>&1 \
  && grep -q "stopping after 3 runs" build/ablation-geometry.log && ok || bad "--max-runs 3 failed: $(tail -3 build/ablation-geometry.log)"
[ "$(ls $GP/*/pretrain/log.csv 2>/dev/null | wc -l)" -eq 3 ] && [ -s $GP/a/needle.csv ] && [ -s $GP/b/lengths_theta50_windows.csv ] \
  && [ ! -e $GP/f ] && [ -z "$(find $G -name '*.bin')" ] && ok || bad "after 3 runs: (a), (b), (d) should be published, without checkpoints"
rm -rf $G
$PYTHON scripts/ablation.py --scale geometry-smoke --out $G --publish $GP >build/ablation-geometry2.log 2>&1 && ok \
  || bad "--scale geometry-smoke, second sitting, failed: $(tail -3 build/ablation-geometry2.log)"
! grep -q -- "--attn softmax --seed 1337 " build/ablation-geometry2.log && grep -q -- "--attn softmax --seed 1338 " build/ablation-geometry2.log \
  && [ "$(grep '^+ ./train_gpt --model' build/ablation-geometry2.log | sed -n 3p | grep -o -- '--attn [a-z-]* --seed [0-9]*')" = "--attn ssmax-bias --seed 1338" ] \
  && ok || bad "the second sitting should skip the published units and train the rest"
[ "$(grep -c '^+ ./train_gpt --model' $GP/commands.log)" -eq 10 ] && [ -s $GP/report.md ] && [ -s $GP/f/pretrain-seed1338/lengths_theta1.csv ] \
  && ok || bad "the published folder should hold both sittings' 10 runs, their history and the report"
# units accumulated on several machines: the report names each, with the runs it made
grep -q "^Machine: .*kernel tier" $GP/report.md && ok || bad "geometry: the report should name the machine: $(sed -n 3p $GP/report.md)"
M=build/ablation-machines
rm -rf $M && cp -r $GP $M && sed -i 's/"cpu": *"[^"]*"/"cpu": "Another CPU (test)"/' $M/b/pretrain-seed1338/config.json
sed -i 's/"source": *"[^"]*"/"source": "another-revision"/' $M/a/pretrain/config.json
$PYTHON scripts/ablation.py --scale geometry-smoke --out $M --report-only >build/ablation-machines.log 2>&1 \
  && grep -q "^Machines: .* for every run but these: Another CPU (test), kernel tier [a-z0-9]* (b/pretrain-seed1338)\. " $M/report.md \
  && ok || bad "geometry: a run made on another CPU should be named in the report: $(sed -n 3p $M/report.md)"
# ... and the source revision each run was built from (the checkout's for the runs made here)
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
grep -q "(b/pretrain-seed1338)\. Source revision (git describe of the build): $rev for every run but these: another-revision (a/pretrain)\.$" $M/report.md \
  && ok || bad "geometry: the report should name the source revision of the runs: $(sed -n 3p $M/report.md)"
# the paper's route beside the mixed needles: fine-tuning at the trained theta, the needle at x50
[ "$(grep -- '--task needle' $GP/commands.log | grep -c -- '--rope-theta 10000.0 ')" -eq 5 ] && [ -s $GP/d/needle_paper.csv ] \
  && [ -s $GP/d/scores_paper.csv ] && grep -q "(needle_paper.png)" $GP/report.md && grep -q "the paper's route" $GP/report.md \
  && ok || bad "geometry: no needle after the paper's route (fine-tuning at the trained theta)"
grep -q -- "--schedule constant" $GP/commands.log && grep -q -- "--val-spread" $GP/commands.log && grep -q -- "--needle-frac" $GP/commands.log \
  && ok || bad "geometry: pretraining should run with a constant lr, spread validation and mixed needles"
[ ! -d $GP/a/needle-ft ] && [ -s $GP/a/needle.csv ] && ok || bad "geometry: the needle should be scored on the pretrained model, without fine-tuning"
grep "^+ ./eval_gpt needle" $GP/commands.log | grep "a/pretrain" | grep -q -- "--rope-theta 500000" && grep "^+ ./eval_gpt needle" $GP/commands.log \
  | grep "needle-ft-theta1" | grep -q -- "--rope-theta 500000" && ok || bad "geometry: the needle is scored at theta x50 on both routes"
for c in a b d f logn; do
  [ "$(tail -n +2 $GP/$c/lengths_theta50_windows.csv | cut -d, -f1 | sort -u | wc -l)" -eq 2 ] && tail -1 $GP/$c/lengths_theta1.csv | grep -q '^[0-9]*,2560,' \
    && ok || bad "geometry ($c): lengths at 16 x 160 with 2 windows' losses kept"
  label="($c)"; [ $c = logn ] && label=LogN
  [ "$(grep -c "^| $label[^|]*| x[15]0* | [0-9.]* \[[0-9.]*, [0-9.]*\] |" $GP/report.md)" -eq 2 ] && ok || bad "geometry ($c): no band rows with intervals"
done
grep -q "RoPE's extrapolation bound is [0-9]* positions" $GP/report.md && grep -q "^Gate: " $GP/report.md && ok || bad "geometry: the report lacks the RoPE bound or the gate"
# the gate on its own windows of T (more of them than the length evaluation's), for (a)'s first seed only
[ "$(tail -n +2 $GP/a/gate_windows.csv | cut -d, -f1 | sort -u | wc -l)" -eq 4 ] && [ ! -e $GP/b/gate.csv ] \
  && grep -q "^Gate: .* (95% bootstrap over 4 windows)" $GP/report.md && ok || bad "geometry: the gate should use 4 windows of T, for (a) only"
[ ! -d $GP/c ] && [ ! -d $GP/e ] && grep -q "^- LogN minus (a) Softmax, excess loss in (T, 4T\] over \[1, T\]" $GP/report.md \
  && ok || bad "geometry runs configs (a), (b), (d), (f) and LogN only, LogN in the claims"

# ---- the retrieval experiment runner (scripts/retrieval.py) at smoke scale: 2 normalizers x 2 position
# schemes x 2 seeds of recall, published as it goes, and the report recomputed from the published files
R=build/retrieval-smoke RP=build/retrieval-published
rm -rf $R $RP
$PYTHON scripts/retrieval.py --scale smoke --configs softmax,ssmax --tasks recall --out $R --publish $RP >build/retrieval-smoke.log 2>&1 \
  && ok || bad "the smoke retrieval experiment failed: $(tail -3 build/retrieval-smoke.log)"
for a in softmax ssmax; do for s in 1 2; do
  [ -s $RP/recall/rope/$a/seed$s/retrieval_theta50.csv ] && [ -s $RP/recall/none/$a/seed$s/retrieval_theta1.csv ] \
    && [ -s $RP/recall/rope/$a/seed$s/log.csv ] && ok || bad "retrieval: $a seed $s lacks its published results"
done; done
for e in logn-eval:logn ssmax-eval:ssmax; do
  [ -s $RP/recall/rope/${e%%:*}/seed2/retrieval_theta50.csv ] && [ -s $RP/recall/none/${e%%:*}/seed2/retrieval_theta1.csv ] \
    && grep -q "^+ ./eval_gpt retrieval -c $R/recall/rope/softmax/seed2/ckpt_[0-9]*.bin .* -o $R/recall/rope/${e%%:*}/seed2/retrieval_theta50.csv.part --attn ${e#*:} " $R/commands.log \
    && ok || bad "retrieval: the Softmax checkpoint should also be evaluated with ${e#*:} switched in (${e%%:*})"
done
grep -q "^Chance: a recall answer .* 0.062 of the time" $R/report.md && grep -q "^| ssmax - softmax | 2 | .* | .* | .* | .* | .* |" $R/report.md \
  && grep -q "Holm over these 3 comparisons" $R/report.md && ok || bad "retrieval report lacks the chance level or the Holm table"
[ -z "$(find $R $RP -name '*.part')" ] && ok || bad "retrieval: a finished evaluation should leave no .part file"
[ -z "$(find $R $RP -name '*.bin')" ] && ok || bad "retrieval: finished runs should keep their results, not their checkpoints"
cmp -s $R/recall/rope/softmax/seed1/log.csv $R/recall/rope/softmax/seed2/log.csv && bad "retrieval: two seeds trained the same run" || ok
grep -q "^| ssmax | 2 | .*<br>[-+][0-9.]* +- [0-9.]*" $R/report.md && grep -q "recall_rope.png" $R/report.md && grep -q "claim 3" $R/report.md \
  && ok || bad "retrieval report lacks the paired table, its figure or the claim"
[ "$(head -c 8 $R/recall_none.png | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] && ok || bad "retrieval: recall_none.png is not a PNG"
$PYTHON scripts/retrieval.py --scale smoke --configs softmax,ssmax --tasks recall --out $R --publish $RP >build/retrieval-smoke2.log 2>&1 \
  && ! grep -q "^+ ./train_gpt\|^+ ./eval_gpt" build/retrieval-smoke2.log && ok || bad "a second retrieval run should repeat nothing"
$PYTHON scripts/retrieval.py --scale smoke --configs softmax,ssmax --tasks recall --out $RP --report-only >build/retrieval-re.log 2>&1 \
  && diff <(grep '^|' $R/report.md) <(grep '^|' $RP/report.md) >/dev/null && ok || bad "the retrieval report recomputed from the published files differs"
$PYTHON scripts/retrieval.py --scale smoke --tasks copy --out $R >build/retrieval-bad.log 2>&1
[ $? -ne 0 ] && grep -q "^error: --tasks" build/retrieval-bad.log && ok || bad "--tasks with an unknown name should stop with an error"
# make bench-torch reads make bench's table (ms/step, % of peak, the peak): a change to either format
# would leave its ratio columns empty without an error
B=${BUILD:-build}
$B/bench_gpt --part steps --only small --steps 1 --warmup 0 >build/bench-parse.md 2>&1 && $PYTHON -c "
import sys; sys.path.insert(0, 'scripts')
from bench_torch import read_c_table, CONFIGS
rows, peak = read_c_table('build/bench-parse.md')
name = [c[0] for c in CONFIGS if c[0].startswith('small')][0]
assert peak and peak > 0, peak
assert sorted(rows) == [(name, 'softmax'), (name, 'ssmax')], rows
assert all(ms > 0 and 0 < pct < 200 for ms, pct in rows.values()), rows
" >build/bench-parse.log 2>&1 && ok || bad "bench_torch.py does not read bench_gpt's table: $(tail -3 build/bench-parse.log)"
# a short config is timed in several processes, the fastest one's medians kept and every one's listed
$PYTHON scripts/bench_torch.py --only small --steps 1 --min-seconds 0 --warmup 0 --processes 2 --short-ms 1e9 \
  --c-table build/bench-parse.md >build/bench-torch-processes.log 2>&1 && $PYTHON -c "
import re
out = open('build/bench-torch-processes.log').read()
rows = {m.group(1): float(m.group(2)) for m in re.finditer(r'^\| small [^|]* \| (\w+) \| (\d+) \|', out, re.M)}
note = re.search(r'^small .*: the fastest of 2 processes \(softmax/ssmax medians, ms: (\d+)/(\d+), (\d+)/(\d+)\)$', out, re.M)
assert sorted(rows) == ['softmax', 'ssmax'] and note, out
runs = [(float(note.group(1)), float(note.group(2))), (float(note.group(3)), float(note.group(4)))]
best = (rows['softmax'], rows['ssmax'])  # the fastest by the sum of its medians, up to the rounding printed
assert best in runs and sum(best) <= min(map(sum, runs)) + 1, (rows, runs)
" >>build/bench-torch-processes.log 2>&1 && ok || bad "bench_torch.py --processes 2: $(tail -3 build/bench-torch-processes.log)"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
