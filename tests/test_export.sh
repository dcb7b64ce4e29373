#!/usr/bin/env bash
# test_export.sh: exported models read by an independent PyTorch loader (scripts/safetensors_model.py,
# which follows the Hugging Face families' conventions: Conv1D, rotate-half RoPE), and a hand-made file
# in the Hugging Face GPT-2 hub layout read by the C model. Runs after build/test_safetensors, whose
# exports (build/export/NAME, with the C model's probabilities) it reads.
set -u
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
W=build/export
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

if ! $PYTHON -c 'import torch, numpy' 2>/dev/null; then
  bad "$PYTHON lacks torch or numpy (make setup-test installs python3-torch python3-numpy)"
  echo "$pass passed, $fail failed"; exit 1
fi
[ -s $W/llama-ssmax/probs_c.bin ] || { bad "no exports in $W: run build/test_safetensors first"; echo "$pass passed, $fail failed"; exit 1; }

# every exported reference config: the loader's probabilities against the C model's and the reference's
$PYTHON - <<'PY' >$W/loader.txt 2>&1
import glob, os, sys
import numpy as np
sys.path.insert(0, "scripts")
import safetensors_model as sm, torch
for d in sorted(glob.glob("build/export/*/probs_c.bin")):
    name = d.split("/")[2]
    if not os.path.exists("tests/ref/%s.ref" % name):
        continue
    w, cfg = sm.load(os.path.dirname(d))
    idx, ref, V, VP = sm.reference_batch("tests/ref/%s.ref" % name)
    with torch.no_grad():
        p = torch.softmax(sm.forward(w, cfg, idx)[..., :V], dim=-1).numpy()
    c = np.fromfile(d, dtype=np.float32).reshape(ref.shape)[..., :V]
    print("%s %.3g %.3g" % (name, abs(p - c).max(), abs(p - ref[..., :V]).max()))
PY
[ "$(wc -l <$W/loader.txt)" -ge 17 ] && ok || bad "the PyTorch loader did not read every export: $(tail -3 $W/loader.txt)"
while read -r name vs_c vs_ref; do
  awk "BEGIN {exit !($vs_c < 1e-5 && $vs_ref < 1e-5)}" 2>/dev/null && ok || bad "$name: the PyTorch loader's probabilities differ from C by $vs_c, from the reference by $vs_ref"
done <$W/loader.txt
grep -q '^llama-ssmax-qknorm ' $W/loader.txt && grep -q '^gpt2-softmax ' $W/loader.txt && ok || bad "the loader skipped configs: $(cut -d' ' -f1 $W/loader.txt | tr '\n' ' ')"

# a hand-made Hugging Face GPT-2 file (hub names, Conv1D (in, out), causal-mask buffers, config.json
# without this project's section) of the gpt2-softmax reference weights: the C model reads it exactly
for dt in F32 BF16 F16; do
  $PYTHON scripts/safetensors_model.py --write-hf-gpt2 tests/ref/gpt2-softmax.ckpt $W/hf-$dt --dtype $dt && ok || bad "writing the $dt GPT-2 file failed"
  d=$(build/test_safetensors --probs $W/hf-$dt/model.safetensors tests/ref/gpt2-softmax.ref $W/hf-$dt/probs_c.bin 2>&1) \
    && ok || bad "the C model could not read the Hugging Face GPT-2 file ($dt): $d"
  p=$($PYTHON scripts/safetensors_model.py $W/hf-$dt --ref tests/ref/gpt2-softmax.ref --out $W/hf-$dt/probs_py.bin 2>&1) \
    && ok || bad "the PyTorch loader could not read the Hugging Face GPT-2 file ($dt): $p"
  $PYTHON -c "import numpy as np, sys; a = np.fromfile('$W/hf-$dt/probs_c.bin', np.float32); b = np.fromfile('$W/hf-$dt/probs_py.bin', np.float32); sys.exit(int(abs(a - b).max() > 1e-5))" \
    && ok || bad "$dt GPT-2 file: C and PyTorch disagree"
  [ $dt = F32 ] && { awk "BEGIN {exit !($d < 1e-6)}" && ok || bad "F32 GPT-2 file: C probabilities differ from the reference by $d"; }
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
