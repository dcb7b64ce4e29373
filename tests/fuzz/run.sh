#!/usr/bin/env bash
# run.sh RUNS: each libFuzzer harness for RUNS inputs (make fuzz; RUNS 1000000 by default), from seed
# corpora made here: the committed reference checkpoints and llm.c file, crafted headers, shards of a few
# tokens, and text with UTF-8 edge cases. Ends with "N passed, M failed" (a harness passes with 0 findings).
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-1000000}
F=build/fuzz
mkdir -p $F/corpus_checkpoint $F/corpus_shard $F/corpus_bpe $F/corpus_safetensors $F/st $F/findings
# safetensors: the fixed half of each input is an export of a reference model; the corpus, that export
# (first byte 0) and its config.json (first byte 1)
./eval_gpt export -c tests/ref/llama-ssmax-qknorm.ckpt -o $F/st >/dev/null
{ printf '\000'; cat $F/st/model.safetensors; } >$F/corpus_safetensors/model
{ printf '\001'; cat $F/st/config.json; } >$F/corpus_safetensors/config
cp tests/ref/llama-softmax.ckpt tests/ref/llama-sink-docmask.ckpt tests/ref/gpt2-softmax.llmc.bin $F/corpus_checkpoint/ 2>/dev/null
${PYTHON:-/usr/bin/python3} - "$F" <<'PY'
import struct, sys, os
F = sys.argv[1]
def header(vals):
    h = [0] * 256
    for i, v in vals.items(): h[i] = v
    return struct.pack("<256i", *h)
# a header alone, sizes past the caps, and sizes whose product wraps
open(os.path.join(F, "corpus_checkpoint", "header_only"), "wb").write(header({0: 20261123, 1: 1, 2: 8, 3: 37, 4: 2, 5: 2, 6: 16, 7: 64, 8: 24}))
open(os.path.join(F, "corpus_checkpoint", "wrap"), "wb").write(header({0: 20261123, 1: 1, 2: 2, 3: 2560, 4: 2, 5: 1, 6: 1 << 30, 7: 2560, 8: 2147483000, 13: 1, 10: 1}))
# shards: a valid one of 40 byte tokens, one with a short token count, one with a token past its vocab
toks = list(range(40))
open(os.path.join(F, "corpus_shard", "valid"), "wb").write(header({0: 20240520, 1: 1, 2: 40, 3: 1, 4: 257}) + struct.pack("<40H", *toks))
open(os.path.join(F, "corpus_shard", "short"), "wb").write(header({0: 20240520, 1: 1, 2: 400, 3: 1, 4: 257}) + struct.pack("<40H", *toks))
open(os.path.join(F, "corpus_shard", "oov"), "wb").write(header({0: 20240520, 1: 1, 2: 40, 3: 1, 4: 257}) + struct.pack("<40H", *([300] * 40)))
for i, t in enumerate(["Hello world", "  leading spaces\n\n", "naïve café ☃ 日本語 👍🏽", "\xff\xfe invalid", "a" * 300, "it's 12345 don't"]):
    open(os.path.join(F, "corpus_bpe", "s%d" % i), "wb").write(t.encode("utf-8", "surrogateescape") if "\xff" not in t else b"\xff\xfe invalid \xc3")
PY
pass=0; fail=0
for h in ${FUZZ_ONLY:-checkpoint safetensors shard bpe}; do # FUZZ_ONLY="shard": one harness
  if [ $h = bpe ] && [ ! -f "${SHARED_DATA:-../shared/data}/gpt2/encoder.json" ]; then
    echo "fuzz_$h: skipped (no GPT-2 files in ${SHARED_DATA:-../shared/data}/gpt2)"; continue
  fi
  echo "== fuzz_$h: $RUNS runs"
  # in chunks of at most 50000 inputs, each a fresh process on the growing corpus: an error path that
  # escapes by longjmp leaves its allocations behind, which would otherwise add up past the RSS limit
  rc=0; left=$RUNS; : >$F/$h.log
  while [ $left -gt 0 ] && [ $rc -eq 0 ]; do
    n=$(( left < 50000 ? left : 50000 ))
    ASAN_OPTIONS=detect_leaks=0 $F/fuzz_$h -runs=$n -max_len=65536 -timeout=10 -close_fd_mask=2 -artifact_prefix=$F/findings/$h- \
      $F/corpus_$h >>$F/$h.log 2>&1
    rc=$?
    left=$((left - n))
  done
  echo "$(grep -c '^Done' $F/$h.log) chunks: $(grep '^Done' $F/$h.log | awk '{s += $2} END {print s}') inputs, $(ls $F/findings | grep -c "^$h-") findings"
  if [ $rc -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: fuzz_$h found a problem, see $F/$h.log and $F/findings/"; fi
  rm -rf /tmp/ssmax-fuzz-*
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
