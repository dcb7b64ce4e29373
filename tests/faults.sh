#!/usr/bin/env bash
# faults.sh: make faults (not in CI: minutes). A run killed with SIGKILL at random moments, again and again,
# then resumed until it finishes, must end with the same log.csv (all but the timing columns), ssmax.csv
# and final checkpoint as an uninterrupted run, and every checkpoint it left must load. Then a run on a
# small tmpfs that fills up must stop with one error line and keep a loadable checkpoint (skipped with a
# message where this machine cannot mount a tmpfs). Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
RUNS=${FAULT_RUNS:-20}
W=build/faults
rm -rf $W && mkdir -p $W
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
./prepare_data --input ../shared/data/tinyshakespeare.txt --out $W/data >/dev/null 2>&1 \
  || ./prepare_data --input README.md --out $W/data >/dev/null 2>&1 || { echo "FAIL: no data"; echo "0 passed, 1 failed"; exit 1; }
T="./train_gpt --model tiny -i $W/data/train_*.bin -j $W/data/val_*.bin -b 4 -t 64 -n 400 --attn ssmax --val-every 50 --val-batches 2 --ckpt-every 20 --keep-ckpts 2 --log-every 100"
$T -o $W/ref >/dev/null 2>&1 || { echo "FAIL: the reference run failed"; echo "0 passed, 1 failed"; exit 1; }
rng=12345
for r in $(seq 1 $RUNS); do
  D=$W/run$r
  kills=0
  while [ ! -f $D/ckpt_00000400.bin ]; do
    if ls $D/ckpt_*.bin >/dev/null 2>&1; then cmd="$T --resume $D"; else cmd="$T -o $D --overwrite"; fi
    $cmd >/dev/null 2>&1 &
    pid=$!
    rng=$(( (rng * 1103515245 + 12345) % 2147483648 ))
    ms=$(( rng % 1500 + 30 )) # 0.03 .. 1.53 s: the whole run takes a few seconds
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null
    [ $kills -gt 200 ] && break
  done
  [ -f $D/ckpt_00000400.bin ] || { bad "run $r never finished"; continue; }
  cmp -s <(cut -d, -f1-6 $W/ref/log.csv) <(cut -d, -f1-6 $D/log.csv) && cmp -s $W/ref/ssmax.csv $D/ssmax.csv \
    && cmp -s $W/ref/ckpt_00000400.bin $D/ckpt_00000400.bin && ok || bad "run $r ($kills kills): its results differ from the uninterrupted run"
  for c in $D/ckpt_*.bin; do
    ./eval_gpt lengths -c $c -d "$W/data/val_*.bin" -t 64 --windows 1 -o $W/len.csv >/dev/null 2>&1 || bad "run $r left an unloadable $c"
  done
  echo "run $r: $kills kills, same result"
done
# disk full: a 4 MB tmpfs holds two checkpoints of the tiny model (1.7 MB each with the AdamW moments)
# and then not the next one
M=$W/tmpfs
mkdir -p $M
if mount -t tmpfs -o size=4000k tmpfs $M 2>/dev/null; then
  $T -o $M/run >$W/full.out 2>$W/full.err; rc=$?
  [ $rc -eq 1 ] && head -1 $W/full.err | grep -q '^error: ' && [ "$(wc -l <$W/full.err)" -le 2 ] && ok \
    || bad "disk full: exit $rc, $(head -2 $W/full.err)"
  newest=$(ls $M/run/ckpt_*.bin 2>/dev/null | tail -1)
  [ -n "$newest" ] && ./eval_gpt lengths -c $newest -d "$W/data/val_*.bin" -t 64 --windows 1 -o $W/len.csv >/dev/null 2>&1 && ok \
    || bad "disk full: no loadable checkpoint left ($newest)"
  umount $M
else
  echo "skipped: the disk-full run needs to mount a tmpfs (root, and a machine that allows it)"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
