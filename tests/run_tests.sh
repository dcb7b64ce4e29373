#!/usr/bin/env bash
# run_tests.sh: every test suite, then one total line "N passed, M failed"; exit 1 on any failure.
cd "$(dirname "$0")/.."
# DEBUG=1 builds: errors exit without freeing, which is fine; leak reports would mask the exit codes tested
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
total_pass=0; total_fail=0; broken=""
run() {
  echo "== $*"
  "$@" 2>&1 | tee build/suite.log
  local rc=${PIPESTATUS[0]}
  local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' build/suite.log | tail -1)
  if [ -z "$line" ]; then broken="$broken $1"; total_fail=$((total_fail + 1)); return; fi
  total_pass=$((total_pass + $(echo "$line" | cut -d' ' -f1)))
  total_fail=$((total_fail + $(echo "$line" | cut -d' ' -f3)))
  [ $rc -ne 0 ] && [ "$(echo "$line" | cut -d' ' -f3)" = 0 ] && { broken="$broken $1"; total_fail=$((total_fail + 1)); }
}
B=${BUILD:-build}
run $B/test_gradcheck
run $B/test_matmul
run $B/test_model
run $B/test_data
run $B/test_safetensors
run $B/test_bpe
# the kernel suites again on every other tier this CPU runs (make test builds them in build/ISA)
for tier in ${TIERS:-}; do
  for t in ${KERNEL_TESTS:-test_gradcheck test_matmul test_model}; do run build/$tier/$t; done
done
run tests/test_export.sh
run tests/test_cli.sh
run tests/test_ablation.sh
run tests/test_mpi.sh
run tests/fuzz/quick.sh
[ -n "$broken" ] && echo "suites that crashed or printed no count:$broken"
echo "== all suites"
echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
