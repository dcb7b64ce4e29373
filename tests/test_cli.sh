#!/usr/bin/env bash
# test_cli.sh: train_gpt, eval_gpt and prepare_data as a user runs them: help, bad input of every kind
# (one short error, exit 1, never a crash), resume equals an uninterrupted run, determinism,
# and stopping on a NaN loss with the last checkpoint intact.
set -u
cd "$(dirname "$0")/.."
W=build/cli
rm -rf $W && mkdir -p $W/docs
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_error NAME PATTERN CMD...: exit status 1, a short message on stderr naming the problem
expect_error() {
  local name=$1 pattern=$2; shift 2
  "$@" >$W/out.txt 2>$W/err.txt; local rc=$?
  local lines; lines=$(wc -l <$W/err.txt)
  if [ $rc -ne 1 ]; then bad "$name: exit $rc, expected 1 ($(head -c 300 $W/err.txt))"; return; fi
  if ! head -1 $W/err.txt | grep -q '^error: '; then bad "$name: stderr does not start with 'error: ' ($(head -c 300 $W/err.txt))"; return; fi
  if [ "$lines" -gt 2 ]; then bad "$name: $lines lines of error output, expected one line and a HINT"; return; fi
  if ! sed -n 2p $W/err.txt | grep -q '^HINT: '; then bad "$name: no 'HINT: ' line after the error ($(head -c 300 $W/err.txt))"; return; fi
  if ! grep -qi -- "$pattern" $W/err.txt; then bad "$name: error does not mention '$pattern': $(cat $W/err.txt)"; return; fi
  ok
}

# a small corpus of documents: this project's own sources
for f in model/*.c data/*.c cli/*.c train_gpt.c; do cp "$f" "$W/docs/$(basename "$f").txt"; done
./prepare_data --input $W/docs --out $W/data --val-frac 0.2 >$W/prep.txt 2>&1 && ok || bad "prepare_data on a folder failed: $(cat $W/prep.txt)"
[ -f $W/data/train_000000.bin ] && [ -f $W/data/val_000000.bin ] && ok || bad "prepare_data wrote no shards"
./prepare_data --decode $W/data/val_000000.bin --count 200 >$W/dec.txt 2>&1 && grep -q '<|endoftext|>' $W/dec.txt && ok || bad "decoding a shard failed"

T="./train_gpt --model tiny -i $W/data/train_*.bin -j $W/data/val_*.bin -b 4 -t 32 --val-batches 2 --log-every 100"

# --help lists every long option the parser knows, with defaults
./train_gpt --help >$W/help.txt 2>&1 && ok || bad "--help failed"
missing=""
for flag in $(grep -ho '{"[a-z0-9-]*", [a-z_]*_argument' cli/train_options.c cli/flags.h | sed 's/{"\([a-z0-9-]*\)".*/\1/'); do
  grep -q -- "--$flag" $W/help.txt || missing="$missing --$flag"
done
[ -z "$missing" ] && ok || bad "--help does not list:$missing"
grep -q "default: small" $W/help.txt && ok || bad "--help does not show defaults"

./train_gpt --model gpt2-124m --dry-run >$W/dry.txt 2>&1 && grep -q '124475904' $W/dry.txt && ok || bad "--dry-run of gpt2-124m does not print 124475904 parameters"
$T -n 2 --sample-every 2 --sample-len 40 --val-every 0 -o $W/runS >$W/sample.txt 2>&1 && grep -q -- '---- sample' $W/sample.txt && ok || bad "no sample printed"

# nonsense flag values
expect_error "lr not a number" "--lr" $T --lr abc
expect_error "batch zero" "--batch" $T -b 0
expect_error "negative steps" "--steps" $T -n -5
expect_error "unknown attention" "--attn" $T --attn sparsemax
# every unknown name: the error names the choices, and a HINT line follows
for f in attn pos norm mlp schedule task needle-loss; do
  expect_error "unknown --$f" "--$f" $T --$f nonsense
  grep -q '^HINT: ' $W/err.txt && ok || bad "unknown --$f: no HINT line: $(cat $W/err.txt)"
done
expect_error "unknown option" "unknown option" $T --no-such-flag 3
expect_error "stray argument" "unexpected argument" $T extra
expect_error "unknown preset" "preset" ./train_gpt --model gpt5
expect_error "heads do not divide width" "divisible" $T --heads 3
expect_error "sequence longer than learned positions" "learned positions" $T --pos learned --max-seq 16
# bad data
expect_error "no shards" "no shards match" $T -i "$W/nothing_*.bin"
head -c 2000 $W/data/train_000000.bin >$W/trunc_000000.bin
expect_error "truncated shard" "truncated" $T -i "$W/trunc_*.bin"
head -c 500 $W/data/train_000000.bin >$W/short_000000.bin
expect_error "shard shorter than its header" "header" $T -i "$W/short_*.bin"
{ printf 'JUNK'; tail -c +5 $W/data/train_000000.bin; } >$W/magic_000000.bin
expect_error "wrong shard magic" "magic" $T -i "$W/magic_*.bin"
expect_error "vocab mismatch" "vocab" $T --model gpt2-124m
# an id past the vocabulary at the very end of a shard (no early batch reads it), and a batch that does
# not fit in memory (capped with ulimit -v): both refused before the run folder exists
cp $W/data/train_000000.bin $W/oov_000000.bin
${PYTHON:-/usr/bin/python3} -c "import os, struct; p = '$W/oov_000000.bin'; f = open(p, 'r+b'); f.seek(os.path.getsize(p) - 2); f.write(struct.pack('<H', 300))"
expect_error "id past the vocabulary at the end of a shard" "outside the model's vocabulary" $T -n 2 -i "$W/oov_*.bin" -o $W/oov_run
[ ! -e $W/oov_run ] && ok || bad "a shard with a bad id left a run folder behind"
expect_error "batch past the memory limit" "out of memory" bash -c "ulimit -v 3000000; exec $T -n 2 -b 64 -t 8192 -o $W/oom_run"
[ ! -e $W/oom_run ] && ok || bad "a run that does not fit in memory left a run folder behind"
expect_error "missing input text" "does not exist" ./prepare_data --input $W/no_such.txt --out $W/x
expect_error "bad val fraction" "val-frac" ./prepare_data --input $W/docs --out $W/x --val-frac 2
grep -q '^HINT: ' $W/err.txt && ok || bad "bad val fraction: no HINT line"

# a real run, then checkpoints of every kind of wrong
$T -n 12 --attn ssmax --val-every 3 --ckpt-every 6 -o $W/runA >$W/runA.txt 2>&1 && ok || bad "training run failed: $(tail -3 $W/runA.txt)"
[ -f $W/runA/ckpt_00000006.bin ] && [ -f $W/runA/ckpt_00000012.bin ] && ok || bad "checkpoints missing"
head -1 $W/runA/log.csv | grep -qx 'step,tokens,train_loss,val_loss,lr,grad_norm,step_ms,tok_per_s' && ok || bad "log.csv header wrong"
[ "$(tail -n +2 $W/runA/log.csv | wc -l)" -eq 12 ] && ok || bad "log.csv should have 12 rows"
[ "$(grep -c '^12,' $W/runA/ssmax.csv)" -eq 4 ] && ok || bad "ssmax.csv should hold 2 layers x 2 heads = 4 rows for step 12"
# a new run in a folder that holds another run's checkpoints: refused (pruning would delete the new
# run's checkpoints, a later --resume would continue the old run), unless --overwrite
cp -r $W/runA $W/reuse
expect_error "new run in a used folder" "another run" $T -n 4 --ckpt-every 2 -o $W/reuse
cmp -s $W/reuse/ckpt_00000012.bin $W/runA/ckpt_00000012.bin && cmp -s $W/reuse/log.csv $W/runA/log.csv && ok || bad "a refused run changed the old run's files"
$T -n 4 --ckpt-every 2 --overwrite -o $W/reuse >$W/reuse.txt 2>&1 && ok || bad "--overwrite run failed: $(tail -2 $W/reuse.txt)"
[ -f $W/reuse/ckpt_00000004.bin ] && [ -f $W/reuse/ckpt_00000002.bin ] && [ ! -e $W/reuse/ckpt_00000012.bin ] && [ ! -e $W/reuse/ckpt_00000006.bin ] \
  && [ "$(tail -n +2 $W/reuse/log.csv | wc -l)" -eq 4 ] && ok || bad "--overwrite did not replace the old run: $(ls $W/reuse)"
done_ckpt=$(grep -o 'checkpoint [^ ]*' $W/reuse.txt | tail -1 | cut -d' ' -f2)
[ -n "$done_ckpt" ] && [ -f "$done_ckpt" ] && ok || bad "the done: line names a checkpoint that does not exist ($done_ckpt)"
grep -q 'ETA' $W/runA.txt && grep -q 'tok/s' $W/runA.txt && grep -q 'parameters' $W/runA.txt && ok || bad "progress line or config table missing"
expect_error "checkpoint of another config" "disagrees" $T --init-from $W/runA/ckpt_00000012.bin --layers 3
head -c 5000 $W/runA/ckpt_00000012.bin >$W/trunc_ckpt.bin
expect_error "truncated checkpoint" "truncated" $T --init-from $W/trunc_ckpt.bin
expect_error "not a checkpoint" "magic" $T --init-from $W/data/train_000000.bin
expect_error "missing checkpoint" "cannot open" $T --init-from $W/none.bin
expect_error "resume without checkpoint" "no checkpoint" $T --resume $W/docs

# resume from step 6 equals the uninterrupted run: same log rows (all but timing), same final weights
mkdir -p $W/runB && cp $W/runA/ckpt_00000006.bin $W/runA/log.csv $W/runA/ssmax.csv $W/runB/
$T -n 12 --attn ssmax --val-every 3 --ckpt-every 6 --resume $W/runB >$W/runB.txt 2>&1 && ok || bad "resume failed: $(tail -3 $W/runB.txt)"
cut -d, -f1-6 $W/runA/log.csv >$W/a.csv; cut -d, -f1-6 $W/runB/log.csv >$W/b.csv
cmp -s $W/a.csv $W/b.csv && ok || bad "resumed log.csv differs from the uninterrupted run: $(diff $W/a.csv $W/b.csv | head -5)"
cmp -s $W/runA/ssmax.csv $W/runB/ssmax.csv && ok || bad "resumed ssmax.csv differs"
cmp -s $W/runA/ckpt_00000012.bin $W/runB/ckpt_00000012.bin && ok || bad "resumed final checkpoint differs from the uninterrupted run"

# a run killed mid-way resumes to the same result
K="$T -n 400 --attn ssmax --val-every 50 --ckpt-every 5"
$K -o $W/runK >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 12000); do [ -f $W/runK/ckpt_00000010.bin ] && break; sleep 0.01; done # up to 2 min: sanitizer builds on a busy machine are slow
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ -f $W/runK/ckpt_00000400.bin ] && echo "note: the run finished before it could be killed"
$K --resume $W/runK >/dev/null 2>&1 || [ -f $W/runK/ckpt_00000400.bin ] && ok || bad "resume after kill -9 failed"
$K -o $W/runU >/dev/null 2>&1
cut -d, -f1-6 $W/runK/log.csv >$W/k.csv; cut -d, -f1-6 $W/runU/log.csv >$W/u.csv
cmp -s $W/k.csv $W/u.csv && ok || bad "killed-and-resumed log.csv differs from the uninterrupted run"

# same seed, same threads: the same log, bit for bit; another seed: another log
$T -n 12 --attn ssmax --val-every 3 --ckpt-every 6 -o $W/runC >/dev/null 2>&1
cut -d, -f1-6 $W/runC/log.csv >$W/c.csv
cmp -s $W/a.csv $W/c.csv && cmp -s $W/runA/ckpt_00000012.bin $W/runC/ckpt_00000012.bin && ok || bad "two runs with one seed differ"
$T -n 12 --attn ssmax --val-every 3 --seed 7 -o $W/runD >/dev/null 2>&1
cut -d, -f1-6 $W/runD/log.csv >$W/d.csv
cmp -s $W/a.csv $W/d.csv && bad "another seed gave the same log" || ok

# gradient accumulation: 2 micro-batches of 2 see the same windows as one batch of 4, so the same losses
$T -n 5 -b 4 -a 1 --val-every 0 -o $W/acc1 >/dev/null 2>&1; $T -n 5 -b 2 -a 2 --val-every 0 -o $W/acc2 >/dev/null 2>&1
paste -d, $W/acc1/log.csv $W/acc2/log.csv | tail -n +2 | awk -F, '{d=$3-$11; if (d<0) d=-d; if (d>m) m=d} END{exit !(NR==5 && m<1e-4)}' \
  && ok || bad "grad accumulation 2x2 differs from batch 4: $(paste -d, $W/acc1/log.csv $W/acc2/log.csv | cut -d, -f3,11 | tail -3 | tr '\n' ' ')"

# every attention normalizer trains, and the loss goes down
for attn in $(./train_gpt --help | sed -n 's/.*--attn NAME *\(.*\) (default.*/\1/p' | tr -d '|'); do
  $T -n 30 --attn $attn --lr 3e-3 --warmup 5 --val-every 30 -o $W/run_$attn >$W/v.txt 2>&1 || { bad "--attn $attn run failed: $(tail -2 $W/v.txt)"; continue; }
  first=$(sed -n 2p $W/run_$attn/log.csv | cut -d, -f3); last=$(tail -1 $W/run_$attn/log.csv | cut -d, -f3)
  awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a - 0.5)}' && ok || bad "--attn $attn: loss $first -> $last did not fall"
done
# ssmax-fixed keeps s; ssmax learns it
s0=$(awk -F, '$1==0 && $2==0 && $3==0 {print $4}' $W/run_ssmax-fixed/ssmax.csv); s1=$(awk -F, '$1==30 && $2==0 && $3==0 {print $4}' $W/run_ssmax-fixed/ssmax.csv)
[ -n "$s0" ] && [ "$s0" = "$s1" ] && [ "$s0" = "1.000000" ] && ok || bad "ssmax-fixed: s moved or is not 1 ($s0 -> $s1)"
s0=$(awk -F, '$1==0 && $2==0 && $3==0 {print $4}' $W/run_ssmax/ssmax.csv); s1=$(awk -F, '$1==30 && $2==0 && $3==0 {print $4}' $W/run_ssmax/ssmax.csv)
[ -n "$s0" ] && [ "$s0" != "$s1" ] && ok || bad "ssmax: s did not move ($s0 -> $s1)"

# every switch trains too (with SSMax), and the loss goes down
for sw in "--qk-norm" "--doc-mask" "--pos none"; do
  tag=$(echo "$sw" | tr -d ' -')
  $T -n 30 --attn ssmax $sw --lr 3e-3 --warmup 5 --val-every 30 -o $W/sw_$tag >$W/v.txt 2>&1 || { bad "$sw run failed: $(tail -2 $W/v.txt)"; continue; }
  first=$(sed -n 2p $W/sw_$tag/log.csv | cut -d, -f3); last=$(tail -1 $W/sw_$tag/log.csv | cut -d, -f3)
  awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a - 0.5)}' && ok || bad "$sw: loss $first -> $last did not fall"
done
# --attn lists every normalizer (the loop above ran them all)
[ "$(./train_gpt --help | sed -n 's/.*--attn NAME *\(.*\) (default.*/\1/p' | tr -d '|' | wc -w)" -ge 11 ] && ok || bad "--attn lists fewer than 11 normalizers"
# a parameter per head of its own: temp's tau and sink's sigma are logged under their names and move
grep -q '^step,layer,head,tau$' $W/run_temp/ssmax.csv && grep -q '^step,layer,head,sigma$' $W/run_sink/ssmax.csv && ok || bad "ssmax.csv columns of temp/sink"
t0=$(awk -F, '$1==0 && $2==0 && $3==0 {print $4}' $W/run_sink/ssmax.csv); t1=$(awk -F, '$1==30 && $2==0 && $3==0 {print $4}' $W/run_sink/ssmax.csv)
[ "$t0" = "0.000000" ] && [ "$t0" != "$t1" ] && ok || bad "sink: sigma should start at 0 and move ($t0 -> $t1)"
# document masking: recorded in the checkpoint, shown in the table, kept on resume; a resume cannot add it
$T -n 6 --attn ssmax --doc-mask --val-every 0 --ckpt-every 3 -o $W/docm >$W/docm.txt 2>&1 && grep -q "document mask" $W/docm.txt && ok || bad "--doc-mask run failed: $(tail -2 $W/docm.txt)"
$T -n 6 --attn ssmax --val-every 0 --ckpt-every 3 -o $W/docm_off >/dev/null 2>&1
[ "$(od -An -t d4 -j 88 -N 8 $W/docm/ckpt_00000006.bin | tr -s ' ')" = " 1 256" ] && ok || bad "checkpoint header slots 22-23 should hold the document mask and end-of-text 256"
expect_error "resume adds --doc-mask" "doc-mask" $T -n 8 --resume $W/docm_off --doc-mask
$T -n 8 --resume $W/docm >$W/docm2.txt 2>&1 && grep -q "document mask" $W/docm2.txt && ok || bad "a resumed --doc-mask run lost it"
# --qk-norm: trains, is written as checkpoint version 2 (version 1 files, as in tests/ref, still load), is
# kept on resume, and a resume cannot add it
$T -n 6 --attn ssmax --qk-norm --val-every 0 --ckpt-every 3 -o $W/qkn >$W/qkn.txt 2>&1 && grep -q "qk-norm" $W/qkn.txt && ok || bad "--qk-norm run failed: $(tail -2 $W/qkn.txt)"
[ "$(od -An -t d4 -j 4 -N 4 $W/qkn/ckpt_00000006.bin | tr -d ' ')" = 2 ] && [ "$(od -An -t d4 -j 4 -N 4 $W/docm_off/ckpt_00000006.bin | tr -d ' ')" = 1 ] && ok || bad "checkpoint version should be 2 with QK-norm, 1 without"
$T -n 8 --resume $W/qkn >$W/qkn2.txt 2>&1 && grep -q "qk-norm" $W/qkn2.txt && ok || bad "a resumed --qk-norm run lost it"
expect_error "resume adds --qk-norm" "qk-norm" $T -n 8 --resume $W/docm_off --qk-norm
./eval_gpt lengths -c $W/qkn/ckpt_00000008.bin -d "$W/data/val_*.bin" -t 64 --windows 1 -o $W/qkn_len.csv >/dev/null 2>&1 && ok || bad "eval_gpt on a --qk-norm model failed"
# eval_gpt generate: streams a continuation of the prompt; the same seed gives the same text, another seed
# another; top-k 1 is greedy (the same text for any seed); a context past learned positions is refused
G="./eval_gpt generate -c $W/qkn/ckpt_00000008.bin --prompt int -n 40"
$G --seed 5 >$W/g1.txt 2>$W/g1.err && $G --seed 5 >$W/g2.txt 2>/dev/null && $G --seed 6 >$W/g3.txt 2>/dev/null \
  && head -c 3 $W/g1.txt | grep -q '^int' && cmp -s $W/g1.txt $W/g2.txt && ! cmp -s $W/g1.txt $W/g3.txt && grep -q "tok/s" $W/g1.err \
  && ok || bad "generate: prompt first, same seed same text, other seed other text, tok/s reported ($(cat $W/g1.err))"
$G --seed 5 --top-k 1 >$W/g4.txt 2>/dev/null && $G --seed 6 --top-k 1 >$W/g5.txt 2>/dev/null && cmp -s $W/g4.txt $W/g5.txt && ok || bad "generate --top-k 1 should be greedy"
$G --num-samples 2 --top-p 0.9 --temperature 0.8 >$W/g6.txt 2>/dev/null && [ "$(grep -c '^---- sample' $W/g6.txt)" = 2 ] && ok || bad "generate --num-samples 2"
$T -n 2 --pos learned --val-every 0 -o $W/learned_gen >/dev/null 2>&1
expect_error "generate past learned positions" "learned positions" ./eval_gpt generate -c $W/learned_gen/ckpt_00000002.bin -t 100
expect_error "generate prompt and prompt file" "prompt" $G --prompt-file /etc/hostname
# a checkpoint with a NaN weight: every eval_gpt mode refuses it before writing anything
cp $W/qkn/ckpt_00000008.bin $W/nanw.bin
${PYTHON:-/usr/bin/python3} -c "import struct; f = open('$W/nanw.bin', 'r+b'); f.seek(1024 + 400); f.write(struct.pack('<f', float('nan')))"
expect_error "needle on NaN weights" "non-finite weight" ./eval_gpt needle -c $W/nanw.bin -d "$W/data/val_*.bin" -o $W/nan_needle.csv
[ ! -e $W/nan_needle.csv ] && ok || bad "needle left a CSV for a NaN checkpoint"
# prepare_data: one error line and a HINT for a missing value and an unknown option; whole numbers only
expect_error "prepare_data missing value" "needs a value" ./prepare_data --count
expect_error "prepare_data unknown option" "unknown option" ./prepare_data --bogus
expect_error "prepare_data fractional count" "integer" ./prepare_data --decode $W/data/val_000000.bin --count 2.5
expect_error "prepare_data huge offset" "offset" ./prepare_data --decode $W/data/val_000000.bin --offset 1e300
# config.json: the resolved run, machine-readable
${PYTHON:-/usr/bin/python3} -c "import json,sys; d=json.load(open('$W/qkn/config.json')); sys.exit(not (d['model']['attn']=='ssmax' and d['model']['qk_norm']==1 and d['run']['batch']==4 and d['build']['kernel_tier']))" \
  && ok || bad "config.json of the --qk-norm run is missing or wrong"
# ... naming the source revision the trainer was built from (results accumulate over commits)
want=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
${PYTHON:-/usr/bin/python3} -c "import json,sys; sys.exit(json.load(open('$W/qkn/config.json'))['build'].get('source') != '$want')" \
  && ok || bad "config.json does not name the source revision $want"
expect_error "switch step past the end" "attn-switch-step" $T -n 5 --attn ssmax --attn-switch-step 9
$T -n 2 --pos learned --rope-theta 500 --val-every 0 -o $W/theta_note >/dev/null 2>$W/theta_note.txt; grep -q "^note: --rope-theta has no effect" $W/theta_note.txt && ok || bad "--rope-theta on learned positions should say it has no effect"
# --pos none trains
$T -n 20 --pos none --attn ssmax --lr 3e-3 --warmup 5 --val-every 0 -o $W/nope >$W/nope.txt 2>&1 && grep -q "/ none" $W/nope.txt && ok || bad "--pos none run failed: $(tail -2 $W/nope.txt)"

# the GPT-2 tokenizer end to end (needs the original files from ../shared/data/gpt2)
G=../shared/data/gpt2
if [ -f $G/encoder.json ]; then
  ./prepare_data --input $W/docs --tokenizer gpt2 --gpt2-dir $G --out $W/gdata --val-frac 0.2 >$W/gprep.txt 2>&1 && ok || bad "prepare_data --tokenizer gpt2 failed: $(tail -2 $W/gprep.txt)"
  grep -q 'vocab 50257' $W/gprep.txt && ok || bad "gpt2 shards do not report vocab 50257"
  ./prepare_data --decode $W/gdata/val_000000.bin --count 300 --gpt2-dir $G >$W/gdec.txt 2>&1 && grep -q '#include' $W/gdec.txt && ok || bad "decoding gpt2 shards failed"
  ./train_gpt --model tiny -i "$W/gdata/train_*.bin" -j "$W/gdata/val_*.bin" -b 2 -t 32 -n 2 --val-every 2 --val-batches 1 \
    --sample-every 2 --sample-len 20 --gpt2-dir $G -o $W/grun >$W/grun.txt 2>&1 && grep -q -- '---- sample' $W/grun.txt && ok || bad "training on gpt2 shards failed: $(tail -2 $W/grun.txt)"
  expect_error "byte model on gpt2 shards" "vocab" $T --init-from $W/runA/ckpt_00000012.bin -i "$W/gdata/train_*.bin" -j "$W/gdata/val_*.bin"
  expect_error "missing gpt2 files" "encoder" ./prepare_data --input $W/docs --tokenizer gpt2 --gpt2-dir $W/nowhere --out $W/x
  mkdir -p $W/badgpt2 && head -c 5000 $G/encoder.json >$W/badgpt2/encoder.json && cp $G/vocab.bpe $W/badgpt2/
  expect_error "truncated encoder.json" "encoder.json" ./prepare_data --input $W/docs --tokenizer gpt2 --gpt2-dir $W/badgpt2 --out $W/x
  printf '{"a" 1}' >$W/badgpt2/encoder.json
  expect_error "encoder.json without a colon" "expected ':'" ./prepare_data --input $W/docs --tokenizer gpt2 --gpt2-dir $W/badgpt2 --out $W/x
  printf '{"a": -5}' >$W/badgpt2/encoder.json
  expect_error "encoder.json with a bad id" "bad token id" ./prepare_data --input $W/docs --tokenizer gpt2 --gpt2-dir $W/badgpt2 --out $W/x
else
  echo "skipped: GPT-2 tokenizer CLI tests ($G not found)"
fi

# ---- switching the normalizer, configs (e) and (f)
expect_error "switch without a target" "--attn" $T -n 4 --attn-switch-step 2
$T -n 6 --attn ssmax --val-every 3 -o $W/sw_plain >/dev/null 2>&1
$T -n 6 --attn ssmax --attn-switch-step 1 --val-every 3 -o $W/sw_one >/dev/null 2>&1
cmp -s <(cut -d, -f1-6 $W/sw_plain/log.csv) <(cut -d, -f1-6 $W/sw_one/log.csv) && ok || bad "--attn-switch-step 1 differs from an SSMax run"
$T -n 6 --attn ssmax --attn-switch-step 4 --val-every 3 --ckpt-every 2 --keep-ckpts 5 -o $W/sw_f >$W/sw_f.txt 2>&1
grep -q "step 4: attention switched from softmax to ssmax" $W/sw_f.txt && ok || bad "no switch message at step 4: $(tail -3 $W/sw_f.txt)"
grep -q '^3,0,0,' $W/sw_f/ssmax.csv && ! grep -q '^2,' $W/sw_f/ssmax.csv && ok || bad "ssmax.csv should start at the switch"
cmp -s <(cut -d, -f1-6 $W/sw_f/log.csv | head -4) <(cut -d, -f1-6 $W/sw_plain/log.csv | head -4) && bad "(f) equals SSMax before its switch" || ok
cp $W/sw_f/log.csv $W/sw_f_full.csv; rm $W/sw_f/ckpt_00000004.bin $W/sw_f/ckpt_00000006.bin
$T -n 6 --attn ssmax --attn-switch-step 4 --val-every 3 --ckpt-every 2 --resume $W/sw_f >/dev/null 2>&1
cmp -s <(cut -d, -f1-6 $W/sw_f/log.csv) <(cut -d, -f1-6 $W/sw_f_full.csv) && ok || bad "resuming across the switch differs from the uninterrupted run"
$T -n 2 --attn softmax --val-every 0 -o $W/soft >/dev/null 2>&1
$T -n 2 --init-from $W/soft/ckpt_00000002.bin --attn ssmax-fixed --val-every 0 -o $W/conv >$W/conv.txt 2>&1 && grep -q "ssmax s0 *| 1.000000 (fixed)" $W/conv.txt && ok || bad "(e) to ssmax-fixed should start at s = 1: $(grep s0 $W/conv.txt)"

# ---- eval_gpt
E=./eval_gpt
$E --help >$W/ehelp.txt 2>&1 && ok || bad "eval_gpt --help failed"
missing=""
for flag in $(grep -o '{"[a-z0-9-]*", [a-z_]*_argument' eval_gpt.c | sed 's/{"\([a-z0-9-]*\)".*/\1/'); do
  grep -q -- "--$flag" $W/ehelp.txt || missing="$missing --$flag"
done
[ -z "$missing" ] && ok || bad "eval_gpt --help does not list:$missing"
C6=$W/runA/ckpt_00000012.bin
expect_error "eval_gpt unknown mode" "mode" $E perplexity -c $C6
expect_error "eval_gpt without checkpoint" "checkpoint" $E lengths -d "$W/data/val_*.bin"
expect_error "eval_gpt missing checkpoint" "nowhere" $E lengths -c $W/nowhere.bin -d "$W/data/val_*.bin"
expect_error "eval_gpt depth outside [0,1]" "--depths" $E needle -c $C6 -d "$W/data/val_*.bin" --depths 0,1.5
expect_error "eval_gpt empty list" "--depths" $E needle -c $C6 -d "$W/data/val_*.bin" --depths ,
expect_error "eval_gpt bad context" "--context" $E lengths -c $C6 -d "$W/data/val_*.bin" -t abc
had_csv=0; [ -e needle.csv ] && had_csv=1
expect_error "eval_gpt needle context too short" "too short" $E needle -c $C6 -d "$W/data/val_*.bin" --contexts 32
[ $had_csv = 1 ] || [ ! -e needle.csv ] && ok || bad "a refused eval_gpt needle run left needle.csv behind"
expect_error "eval_gpt context longer than the held-out data" "no window" $E lengths -c $C6 -d "$W/data/val_*.bin" -t 4000000
# crafted checkpoint headers: every size is capped and checked against the file before anything is
# allocated (a header whose sizes wrapped to the file size once made the trainer write past 64-byte buffers)
PY=${PYTHON:-/usr/bin/python3}
craft() { # craft OUT EXTRA_BYTES SLOT=VALUE...: $C6's header with slots replaced, then EXTRA_BYTES zero bytes
  local out=$1 extra=$2; shift 2
  $PY - "$C6" "$out" "$extra" "$@" <<'PYEOF'
import struct, sys
src, out, extra = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = list(struct.unpack("<256i", open(src, "rb").read(1024)))
for kv in sys.argv[4:]:
    k, v = kv.split("=")
    h[int(k)] = int(v, 0) if int(v, 0) < 2**31 else int(v, 0) - 2**32
with open(out, "wb") as f:
    f.write(struct.pack("<256i", *h))
    f.write(bytes(extra))
PYEOF
}
craft $W/huge.bin 0 4=2 5=1 6=1073741824 7=2560 8=2147483000 13=1 10=1
expect_error "checkpoint with a width past the caps" "caps" timeout 30 $T -n 2 --init-from $W/huge.bin -o $W/craft_run
expect_error "eval_gpt checkpoint with a width past the caps" "caps" timeout 30 $E lengths -c $W/huge.bin -d "$W/data/val_*.bin"
n=228715732795392 # the parameter count of these sizes, stored as the header's slots 18-19
craft $W/wrap.bin 0 4=1024 5=64 6=65536 7=131072 8=1048576 18=$((n & 0xffffffff)) 19=$((n >> 32))
expect_error "checkpoint whose sizes dwarf the file" "header implies" timeout 30 $T -n 2 --init-from $W/wrap.bin -o $W/craft_run
craft $W/count.bin 0 18=12345
expect_error "checkpoint with a wrong parameter count" "parameters" timeout 30 $T -n 2 --init-from $W/count.bin -o $W/craft_run
craft $W/optflag.bin 0 20=7
expect_error "checkpoint with optimizer flag 7" "optimizer flag" timeout 30 $T -n 2 --init-from $W/optflag.bin -o $W/craft_run
craft $W/big.bin 1700000 6=2048 8=8192 18=0 19=0
expect_error "small file claiming a big model" "parameters" timeout 30 $T -n 2 --init-from $W/big.bin -o $W/craft_run
craft $W/llmc.bin 0 0=20240326 1=3 6=1073741824
expect_error "llm.c file with a width past the caps" "caps" timeout 30 $T -n 2 --init-from $W/llmc.bin -o $W/craft_run
[ ! -e $W/craft_run ] && ok || bad "a refused checkpoint left a run folder behind"

# a resumed run trusts no field of its checkpoint's training state
for bad in "40=0 batch" "42=0 accumulation" "42=-1 accumulation" "32=-5 step" "41=65535 sequence" "37=2000000000 window"; do
  rm -rf $W/rs && mkdir -p $W/rs
  craft $W/rs/ckpt_00000012.bin $(( $(stat -c %s $C6) - 1024 )) ${bad% *}
  $PY - "$C6" "$W/rs/ckpt_00000012.bin" <<'PYEOF'
import sys
src, dst = sys.argv[1], sys.argv[2]
body = open(src, "rb").read()[1024:]
with open(dst, "r+b") as f:
    f.seek(1024); f.write(body)
PYEOF
  expect_error "resume with header slot ${bad% *}" "${bad#* }" timeout 60 $T -n 20 --resume $W/rs
done
# a flag given on resume counts even when it equals the default (-b 8 on a run made with -b 4)
rm -rf $W/rb && cp -r $W/runA $W/rb && rm $W/rb/ckpt_00000012.bin
$T -n 8 --resume $W/rb -b 8 >$W/rb.txt 2>&1 && grep -q "B=8 " $W/rb.txt && ok || bad "--resume ignored -b 8 (the default) on a run made with -b 4: $(grep -a 'B=' $W/rb.txt)"

# a full disk, by /dev/full behind the file a run writes: the run stops naming the file, exit 1,
# and leaves no half-written temporary checkpoint
if [ -w /dev/full ]; then
  rm -rf $W/full1 $W/full2 && mkdir -p $W/full1 $W/full2
  ln -s /dev/full $W/full1/log.csv
  expect_error "log.csv on a full disk" "log.csv" $T -n 4 --ckpt-every 2 -o $W/full1
  ln -s /dev/full $W/full2/ckpt_00000002.bin.tmp
  expect_error "checkpoint on a full disk" "disk full" $T -n 4 --ckpt-every 2 -o $W/full2
  [ ! -e $W/full2/ckpt_00000002.bin.tmp ] && [ ! -L $W/full2/ckpt_00000002.bin.tmp ] && [ ! -e $W/full2/ckpt_00000002.bin ] && ok \
    || bad "a failed checkpoint write left files behind: $(ls $W/full2)"
else
  echo "skipped: the full-disk tests need /dev/full"
fi

# non-regular files as inputs: a FIFO would block the open forever, so each is refused at once (the
# timeout turns a hang into a failure)
mkfifo $W/fifo_000000.bin
F=$W/fifo_000000.bin
expect_error "FIFO as training shard" "FIFO" timeout 30 $T -n 2 -i "$W/fifo_*.bin" -o $W/fifo_run
expect_error "FIFO as validation shard" "FIFO" timeout 30 $T -n 2 -j "$W/fifo_*.bin" -o $W/fifo_run
expect_error "FIFO as --init-from" "FIFO" timeout 30 $T -n 2 --init-from $F -o $W/fifo_run
expect_error "directory as --init-from" "directory" timeout 30 $T -n 2 --init-from $W/data -o $W/fifo_run
expect_error "FIFO as eval_gpt checkpoint" "FIFO" timeout 30 $E lengths -c $F -d "$W/data/val_*.bin"
expect_error "FIFO as eval_gpt data" "FIFO" timeout 30 $E lengths -c $C6 -d "$W/fifo_*.bin"
expect_error "FIFO as prepare_data input" "FIFO" timeout 30 ./prepare_data --input $F --out $W/fifo_data
expect_error "FIFO as prepare_data --decode" "FIFO" timeout 30 ./prepare_data --decode $F
expect_error "device as prepare_data input" "device" timeout 30 ./prepare_data --input /dev/zero --out $W/fifo_data
[ ! -e $W/fifo_data ] && ok || bad "a refused prepare_data input left its output folder behind"
: >$W/empty.txt
expect_error "empty text input" "no text" ./prepare_data --input $W/empty.txt --out $W/empty_data
[ ! -e $W/empty_data ] && ok || bad "an empty input left an output folder behind"
rm -f $F
head -c 3000 $C6 >$W/trunc.bin
expect_error "eval_gpt truncated checkpoint" "truncated" $E lengths -c $W/trunc.bin -d "$W/data/val_*.bin"
# at the training length, over the same windows, the evaluation pass gives train_gpt's validation loss
val=$(awk -F, 'NR > 1 && $4 != "" {v = $4} END {print v}' $W/runA/log.csv)
$E lengths -c $C6 -d "$W/data/val_*.bin" -t 32 --windows 8 -o $W/len32.csv >$W/len32.txt 2>&1
mean=$(sed -n 's/.*all 32 positions \([0-9.]*\).*/\1/p' $W/len32.txt)
awk -v a="$val" -v b="$mean" 'BEGIN {d = a - b; exit !(b != "" && d < 2e-4 && d > -2e-4)}' && ok || bad "eval_gpt mean loss $mean differs from train_gpt's val loss $val"
if [ -w /dev/full ]; then # an evaluation CSV that cannot be written is removed, not left short or empty
  ln -sf /dev/full $W/lenfull.csv
  expect_error "eval_gpt CSV on a full disk" "disk full" $E lengths -c $C6 -d "$W/data/val_*.bin" -t 32 --windows 2 -o $W/lenfull.csv
  [ ! -e $W/lenfull.csv ] && [ ! -L $W/lenfull.csv ] && ok || bad "a failed eval_gpt CSV was left behind"
fi
$E lengths -c $C6 -d "$W/data/val_*.bin" -o $W/len.csv --windows 1 --rope-theta 500000 >$W/len.txt 2>&1 && ok || bad "eval_gpt lengths at 32x failed: $(tail -2 $W/len.txt)"
tail -1 $W/len.csv | grep -q "^[0-9]*,1024,[0-9.]*,[0-9]*$" && ok || bad "lengths.csv should end at position 1024 (32 x 32): $(tail -1 $W/len.csv)"
# --edges: the buckets asked for; --window-out: each window's loss per bucket, whose mean is the CSV's;
# --spread: windows from all over the held-out data (other windows, another loss)
$E lengths -c $C6 -d "$W/data/val_*.bin" -t 256 --windows 3 --edges 32,128,160,256 --window-out $W/lenw.csv -o $W/lene.csv >/dev/null 2>&1 \
  && [ "$(cut -d, -f2 $W/lene.csv | tail -n +2 | tr '\n' ' ')" = "32 128 160 256 " ] && ok || bad "--edges: buckets $(cut -d, -f1,2 $W/lene.csv | tr '\n' ' ')"
[ "$(tail -n +2 $W/lenw.csv | wc -l)" -eq 12 ] && ${PYTHON:-/usr/bin/python3} -c "
import csv, sys
w = list(csv.DictReader(open('$W/lenw.csv'))); m = list(csv.DictReader(open('$W/lene.csv')))
diff = max(abs(sum(xs) / len(xs) - float(r['loss'])) for r in m
           for xs in [[float(x['loss']) for x in w if x['position_end'] == r['position_end']]])
sys.exit(int(diff > 1e-4))" \
  && ok || bad "--window-out: 3 windows x 4 buckets whose means are lengths.csv's"
$E lengths -c $C6 -d "$W/data/val_*.bin" -t 256 --windows 3 --edges 32,128,160,256 --spread -o $W/lens.csv >/dev/null 2>&1
[ -s $W/lens.csv ] && ! cmp -s $W/lene.csv $W/lens.csv && ok || bad "--spread should evaluate other windows"
expect_error "--edges not ending at the context" "context" $E lengths -c $C6 -d "$W/data/val_*.bin" -t 256 --edges 32,128
expect_error "--edges not ascending" "ascending" $E lengths -c $C6 -d "$W/data/val_*.bin" -t 256 --edges 128,32,256
$T -n 2 --val-every 2 --val-batches 3 --val-spread -o $W/vs >/dev/null 2>&1
$T -n 2 --val-every 2 --val-batches 3 -o $W/vs0 >/dev/null 2>&1
v1=$(tail -1 $W/vs/log.csv | cut -d, -f4); v0=$(tail -1 $W/vs0/log.csv | cut -d, -f4)
[ -n "$v1" ] && [ "$v1" != "$v0" ] && ok || bad "--val-spread should validate on other windows ($v1 vs $v0)"
$E lengths -c $W/soft/ckpt_00000002.bin --attn ssmax -d "$W/data/val_*.bin" -t 64 -o $W/lenE.csv >$W/lenE.txt 2>&1 && grep -q "(ssmax," $W/lenE.txt && ok || bad "eval_gpt --attn ssmax on a Softmax checkpoint failed: $(tail -2 $W/lenE.txt)"

# ---- safetensors: export a checkpoint, train and evaluate from the export, refuse malformed files
$E export -c $C6 -o $W/exp >$W/exp.txt 2>&1 && [ -s $W/exp/model.safetensors ] && [ -s $W/exp/config.json ] && ok || bad "eval_gpt export failed: $(tail -2 $W/exp.txt)"
grep -q '"model_type": "llama"' $W/exp/config.json && grep -q '"attn": "ssmax"' $W/exp/config.json && ok || bad "config.json does not name the family and the normalizer"
$E lengths -c $C6 -d "$W/data/val_*.bin" -t 64 --windows 2 -o $W/len_ck.csv >/dev/null 2>&1
$E lengths -c $W/exp/model.safetensors -d "$W/data/val_*.bin" -t 64 --windows 2 -o $W/len_st.csv >/dev/null 2>&1
[ -s $W/len_st.csv ] && cmp -s $W/len_ck.csv $W/len_st.csv && ok || bad "eval_gpt on the export differs from the checkpoint"
$T -n 2 --init-from $C6 --val-every 0 -o $W/from_ck >/dev/null 2>&1
$T -n 2 --init-from $W/exp/model.safetensors --val-every 0 -o $W/from_st >$W/from_st.txt 2>&1 && ok || bad "--init-from model.safetensors failed: $(tail -2 $W/from_st.txt)"
[ "$(cut -d, -f3 $W/from_ck/log.csv)" = "$(cut -d, -f3 $W/from_st/log.csv)" ] && ok || bad "training from the export differs from training from the checkpoint"
# malformed files, each in a folder with the good config.json: one error line, a HINT, exit 1
${PYTHON:-/usr/bin/python3} - "$W/exp" "$W/badst" <<'PY'
import json, os, shutil, struct, sys
src, out = sys.argv[1], sys.argv[2]
data = open(os.path.join(src, "model.safetensors"), "rb").read()
n = struct.unpack("<Q", data[:8])[0]
hdr, body = json.loads(data[8:8 + n]), data[8 + n:]
def put(name, blob, config=True):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "model.safetensors"), "wb").write(blob)
    if config:
        shutil.copy(os.path.join(src, "config.json"), d)
def with_header(h, b=body):
    t = json.dumps(h).encode()
    return struct.pack("<Q", len(t)) + t + b
def edit(f):
    h = json.loads(json.dumps(hdr))
    f(h)
    return with_header(h)
names = [k for k in hdr if k != "__metadata__"]
vec = [k for k in names if len(hdr[k]["shape"]) == 1]
put("trunc", data[:len(data) // 2])
put("hdrlen", struct.pack("<Q", 1 << 40) + data[8:])
put("overlap", edit(lambda h: h[vec[1]].update(data_offsets=h[vec[0]]["data_offsets"])))
put("range", edit(lambda h: h[names[-1]].update(data_offsets=[len(body) - 4, len(body) + 60])))
put("dtype", edit(lambda h: h[names[0]].update(dtype="I64")))
put("shape", edit(lambda h: h["lm_head.weight"].update(shape=h["lm_head.weight"]["shape"][::-1])))
put("missing", edit(lambda h: h.pop("model.norm.weight")))
put("extra", edit(lambda h: h.update({"model.layers.0.mlp.extra.weight": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}})))
put("junk", struct.pack("<Q", 5) + b"[1,2{" + body)
put("noconfig", data, config=False)
put("badconfig", data)
c = json.load(open(os.path.join(src, "config.json")))
c["ssmax_train"]["width"] = 32
json.dump(c, open(os.path.join(out, "badconfig", "config.json"), "w"))
PY
for v in "trunc:data section" "hdrlen:past the end" "overlap:overlap" "range:lies at bytes" "dtype:dtype I64" "shape:has shape" \
         "missing:lacks tensor" "extra:does not use" "junk:not a JSON object" "noconfig:no config.json" "badconfig:shape"; do
  expect_error "safetensors ${v%%:*}" "${v#*:}" $E export -c $W/badst/${v%%:*}/model.safetensors -o $W/badst_out
  grep -q '^HINT: ' $W/err.txt && ok || bad "safetensors ${v%%:*}: no HINT line"
done
[ ! -e $W/badst_out ] && ok || bad "a refused export left its folder"
expect_error "safetensors as a FIFO" "not a regular file\|FIFO" $E export -c /dev/stdin -o $W/badst_out </dev/null

# ---- retrieval: fine-tuning on needle examples and the needle evaluation
expect_error "needle task at a short context" "needs at least" $T -n 2 --task needle
N="./train_gpt --model tiny -i $W/data/train_*.bin -j $W/data/val_*.bin -b 2 -t 160 --log-every 100"
$N -n 3 --task needle --val-every 0 -o $W/needle >$W/needle.txt 2>&1 && grep -q "task  *| needle" $W/needle.txt && ok || bad "--task needle run failed: $(tail -2 $W/needle.txt)"
expect_error "unknown --needle-loss" "--needle-loss" $N -n 1 --task needle --needle-loss digits
# the loss covers more tokens with --needle-loss question / all: a larger share of positions carries a target
for nl in question all; do
  $N -n 2 --task needle --needle-loss $nl --val-every 0 -o $W/needle-$nl >$W/needle-$nl.txt 2>&1 && grep -q "needle: loss on" $W/needle-$nl.txt \
    && ok || bad "--task needle --needle-loss $nl run failed: $(tail -2 $W/needle-$nl.txt)"
done
l_answer=$(sed -n 2p $W/needle/log.csv | cut -d, -f3); l_all=$(sed -n 2p $W/needle-all/log.csv | cut -d, -f3)
[ -n "$l_answer" ] && [ "$l_answer" != "$l_all" ] && ok || bad "--needle-loss all should change the first step's loss ($l_answer vs $l_all)"
$E needle -c $W/needle/ckpt_00000003.bin -d "$W/data/val_*.bin" --contexts 160,320 --depths 0,0.5,1 --trials 2 -o $W/needle.csv \
  --scores $W/scores.csv --score-context 200 --score-trials 3 >$W/eneedle.txt 2>&1 && ok || bad "eval_gpt needle failed: $(tail -2 $W/eneedle.txt)"
[ "$(tail -n +2 $W/needle.csv | wc -l)" -eq 6 ] && awk -F, 'NR > 1 && ($4 < 0 || $4 > 1 || $5 < $4 || $6 < $4 || $6 > 1) {exit 1}' $W/needle.csv && ok || bad "needle.csv should hold 2 x 3 cells of accuracies"
[ "$(tail -n +2 $W/scores.csv | wc -l)" -eq 3 ] && [ "$(tail -n +2 $W/scores_heads.csv | wc -l)" -eq 4 ] && ok || bad "needle score files have the wrong rows"
awk -F, 'NR > 1 && ($5 < 0 || $5 > 1.0001) {exit 1}' $W/scores.csv && ok || bad "needle scores outside [0, 1]"
$E needle -c $W/needle/ckpt_00000003.bin -d "$W/data/val_*.bin" --contexts 160,320 --depths 0,0.5,1 --trials 2 -o $W/needle2.csv >/dev/null 2>&1
cmp -s $W/needle.csv $W/needle2.csv && ok || bad "needle evaluation is not repeatable with the same seed"

# ---- retrieval learned from scratch: passkey and mqar, their evaluation, and --needle-frac
R="./train_gpt --model tiny -i $W/data/train_*.bin -j $W/data/val_*.bin -b 8 -t 64 --log-every 100 --val-batches 1"
$R -n 40 --task mqar --pairs 4 --queries 2 --lr 3e-3 --warmup 5 --val-every 20 -o $W/mqar >$W/mqar.txt 2>&1 \
  && grep -q "mqar: 4 key-value pairs, 2 queries" $W/mqar.txt && ok || bad "--task mqar run failed: $(tail -2 $W/mqar.txt)"
# the loss is on the answers alone: from about ln 257 at init it falls towards ln 64 (one of 64 values) and below
l_first=$(sed -n 2p $W/mqar/log.csv | cut -d, -f3); l_last=$(tail -1 $W/mqar/log.csv | cut -d, -f3)
awk "BEGIN {exit !($l_first > 5 && $l_last < 4.6)}" && ok || bad "mqar's answer loss should fall from ~5.5 below 4.6: $l_first -> $l_last"
[ "$(awk -F, 'NR > 1 && $4 != ""' $W/mqar/log.csv | wc -l)" -eq 2 ] && ok || bad "mqar run: expected 2 validation rows in log.csv"
$E retrieval -c $W/mqar/ckpt_00000040.bin --task mqar --pairs 4 --queries 2 --contexts 64,128 --trials 5 -o $W/mqar.csv >$W/emqar.txt 2>&1 \
  && ok || bad "eval_gpt retrieval failed: $(tail -2 $W/emqar.txt)"
awk -F, 'NR > 1 {n[$1] += $4; if ($5 > $4 || $5 < 0 || $2 > $3) bad = 1} END {exit bad || n[64] != 10 || n[128] != 10}' $W/mqar.csv \
  && ok || bad "retrieval.csv should count 5 trials x 2 answers per context in distance bins: $(cat $W/mqar.csv)"
$E retrieval -c $W/mqar/ckpt_00000040.bin --task mqar --pairs 4 --queries 2 --contexts 64,128 --trials 5 -o $W/mqar2.csv --threads 1 >/dev/null 2>&1
cmp -s $W/mqar.csv $W/mqar2.csv && ok || bad "the retrieval evaluation is not repeatable (1 thread vs all)"
$R -n 3 --task passkey --val-every 3 -o $W/passkey >$W/passkey.txt 2>&1 && grep -q "task  *| passkey" $W/passkey.txt \
  && ok || bad "--task passkey run failed: $(tail -2 $W/passkey.txt)"
$E retrieval -c $W/passkey/ckpt_00000003.bin --task passkey -d "$W/data/val_*.bin" --contexts 64,100 --trials 3 -o $W/passkey.csv >/dev/null 2>&1 \
  && [ "$(awk -F, 'NR > 1 {n += $4} END {print n}' $W/passkey.csv)" = 6 ] && ok || bad "eval_gpt retrieval --task passkey: $(cat $W/passkey.csv)"
expect_error "mqar queries above pairs" "--queries" $R -n 1 --task mqar --pairs 4 --queries 5
expect_error "mqar context too short" "needs at least" $R -n 1 --task mqar -t 20
expect_error "needle-frac with another task" "--needle-frac" $R -n 1 --task mqar --needle-frac 0.5
expect_error "needle-frac out of range" "--needle-frac" $R -n 1 --needle-frac 1.5
expect_error "eval_gpt unknown retrieval task" "--task" $E retrieval -c $W/mqar/ckpt_00000040.bin --task copy
rm -f retrieval.csv
expect_error "eval_gpt retrieval context too short" "too short" $E retrieval -c $W/mqar/ckpt_00000040.bin --pairs 4 --queries 2 --contexts 16
[ ! -e retrieval.csv ] && ok || bad "a refused eval_gpt retrieval run left retrieval.csv behind"
# --needle-frac 1: every window carries a needle, so the first step's loss differs from plain text's
$N -n 1 --needle-frac 1 --val-every 0 -o $W/nf >$W/nf.txt 2>&1 && grep -q "carry a needle" $W/nf.txt && ok || bad "--needle-frac run failed: $(tail -2 $W/nf.txt)"
$N -n 1 --val-every 0 -o $W/nf0 >/dev/null 2>&1
[ "$(sed -n 2p $W/nf/log.csv | cut -d, -f3)" != "$(sed -n 2p $W/nf0/log.csv | cut -d, -f3)" ] && ok || bad "--needle-frac 1 did not change the batch"
$N -n 1 --needle-frac 1 --val-every 0 --threads 1 -o $W/nf1 >/dev/null 2>&1
[ "$(sed -n 2p $W/nf/log.csv | cut -d, -f3)" = "$(sed -n 2p $W/nf1/log.csv | cut -d, -f3)" ] && ok || bad "--needle-frac batches depend on the thread count"

# a diverging run stops at the first non-finite loss and leaves its last checkpoint loadable
expect_error "NaN loss" "not finite\|loss is" $T -n 10 --lr 1e30 --warmup 0 --ckpt-every 1 --val-every 0 -o $W/runN
grep -q "checkpoint $W/runN/ckpt_" $W/err.txt && ok || bad "the NaN stop does not name the checkpoint it keeps: $(head -1 $W/err.txt)"
expect_error "NaN before any checkpoint" "no checkpoint was written" $T -n 10 --lr 1e30 --warmup 0 --ckpt-every 0 --val-every 0 -o $W/runN0
# a NaN at the very first step (weights at 3e38, finite but overflowing): nothing worth keeping, so the
# new run's folder goes again
cp $C6 $W/hugew.bin
${PYTHON:-/usr/bin/python3} -c "import struct; f = open('$W/hugew.bin', 'r+b'); f.seek(1024); f.write(struct.pack('<141636f', *([3e38] * 141636)))"
expect_error "NaN at the first step" "files are removed" $T -n 3 --init-from $W/hugew.bin --val-every 0 -o $W/runN1
[ ! -e $W/runN1 ] && ok || bad "a run stopped at its first step left its folder: $(ls $W/runN1)"
ls $W/runN/ckpt_*.bin >/dev/null 2>&1 && ./prepare_data --help >/dev/null && ok || bad "no checkpoint kept after NaN stop"
last=$(ls $W/runN/ckpt_*.bin | tail -1)
$T -n 1 --init-from "$last" --val-every 0 -o $W/runN2 >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] || [ $rc -eq 1 ] && ok || bad "the kept checkpoint crashed the loader (exit $rc)"
ls $W/runN/*.tmp >/dev/null 2>&1 && bad "a temporary checkpoint file was left behind" || ok

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
