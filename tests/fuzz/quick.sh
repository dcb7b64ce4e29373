#!/usr/bin/env bash
# quick.sh: the fuzz harnesses for a few thousand inputs each, as part of make test, where clang (with
# libFuzzer) is installed; skipped with a message elsewhere. The long runs are make fuzz.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
     | clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
  echo "skipped: no clang with libFuzzer (make fuzz installs clang)"
  echo "0 passed, 0 failed"
  exit 0
fi
make --no-print-directory build/fuzz/fuzz_checkpoint build/fuzz/fuzz_safetensors build/fuzz/fuzz_shard build/fuzz/fuzz_bpe >build/fuzz-build.log 2>&1 \
  || { echo "FAIL: the fuzz harnesses do not build: $(tail -3 build/fuzz-build.log)"; echo "0 passed, 1 failed"; exit 1; }
exec tests/fuzz/run.sh ${FUZZ_QUICK_RUNS:-3000}
