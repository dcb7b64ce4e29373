# ssmax-train: build, data, training, tests. `make help` lists the targets.
CC ?= gcc
PYTHON ?= /usr/bin/python3
ATTN ?= softmax
SHARED ?= ../shared

CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fno-math-errno -fno-trapping-math -ffp-contract=fast -DATTN_DEFAULT=\"$(ATTN)\"
LDLIBS = -lpcre2-8 -lm

# ---- compiler probes: say what was found (once: `all` re-runs make for the build), fail loudly where it matters
say = $(if $(filter 0,$(MAKELEVEL)),$(info $(1)))
ifeq ($(DEBUG),1)
  CFLAGS += -O0 -g -fsanitize=address,undefined -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
  $(call say,build: DEBUG=1: -O0 -g with address and undefined-behaviour sanitizers)
else
  CFLAGS += -O3
  $(call say,build: -O3)
endif
# ---- kernel tier: ISA=avx512|avx2|portable (default: the best this compiler and CPU allow). A tier
# below the CPU's is -march=native with the wider instructions switched off (so `make ISA=avx2` on an
# AVX-512 machine runs the AVX2 kernels); a tier above it is built for the generic x86-64 level and
# refuses to start here. Each explicit tier builds in its own folder, build/ISA
march_ok = $(shell echo 'int main(void){return 0;}' | $(CC) $(1) -x c - -o /dev/null 2>/dev/null && echo ok)
native_macros := $(if $(call march_ok,-march=native),$(shell echo | $(CC) -march=native -dM -E - 2>/dev/null))
NATIVE_ISA := $(if $(filter __AVX512F__,$(native_macros)),avx512,$(if $(and $(filter __AVX2__,$(native_macros)),$(filter __FMA__,$(native_macros))),avx2,portable))
ISA_RANK_avx512 = 3
ISA_RANK_avx2 = 2
ISA_RANK_portable = 1
ISA_LEVEL_avx512 = -march=x86-64-v4 -mtune=native
ISA_LEVEL_avx2 = -march=x86-64-v3 -mtune=native
ISA_LEVEL_portable = -march=x86-64-v2 -mtune=native
ISA_OFF_avx2 = -mno-avx512f
ISA_OFF_portable = -mno-avx
ifeq ($(ISA),)
  ISA := $(NATIVE_ISA)
else
  ifeq ($(ISA_RANK_$(ISA)),)
    $(error ISA=$(ISA) is not a kernel tier: use ISA=avx512, ISA=avx2 or ISA=portable)
  endif
  BUILD_DIR ?= build/$(ISA)
endif
ifeq ($(ISA),$(NATIVE_ISA))
  ISA_FLAGS = $(if $(call march_ok,-march=native),-march=native)
else ifeq ($(shell test $(ISA_RANK_$(ISA)) -lt $(ISA_RANK_$(NATIVE_ISA)) && echo below),below)
  ISA_FLAGS = -march=native $(ISA_OFF_$(ISA))
else
  ISA_FLAGS = $(ISA_LEVEL_$(ISA))
  $(call say,build: ISA=$(ISA) is above what this CPU runs ($(NATIVE_ISA)): the binaries will refuse to start here)
endif
CFLAGS += $(ISA_FLAGS)
$(call say,build: $(ISA_FLAGS): kernel tier $(ISA) (this CPU runs: $(NATIVE_ISA)))
ifeq ($(NO_OMP),1)
  CFLAGS += -fopenmp-simd
  $(call say,build: OpenMP disabled by NO_OMP=1: one thread (omp simd still vectorises))
else
  ifeq ($(shell echo '#include <omp.h>\nint main(void){return omp_get_max_threads();}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo ok),ok)
    CFLAGS += -fopenmp
    LDFLAGS += -fopenmp
    $(call say,build: OpenMP on)
  else
    $(error OpenMP not found for $(CC): install libgomp (apt-get install gcc) or build single-threaded with NO_OMP=1)
  endif
endif
ifeq ($(MPI),1)
  # data-parallel train_gpt over Open MPI ranks; objects in their own folder, so both builds coexist
  CC = mpicc
  CFLAGS += -DUSE_MPI
  BUILD_DIR = build/mpi
  APT_MPI = openmpi-bin libopenmpi-dev
  ifeq ($(shell command -v mpicc 2>/dev/null),)
    $(call say,build: MPI=1 but mpicc is missing: make setup-mpi installs openmpi-bin libopenmpi-dev)
  else
    $(call say,build: MPI=1: train_gpt runs under mpirun (Open MPI))
  endif
endif
ifeq ($(BLAS),1)
  CFLAGS += -DUSE_CBLAS
  LDLIBS += -lopenblas
  APT_BLAS = libopenblas-openmp-dev # the OpenMP build, so that it shares the trainer's thread pool
  $(call say,build: BLAS=1: matmuls on OpenBLAS cblas_sgemm)
endif
$(call say,build: default attention $(ATTN) (ATTN= any --attn name of ./train_gpt --help))

MODEL_SRC = model/kernels/tier.c model/layers.c model/attention.c model/kernels/attention_kernels.c model/kernels/matmul.c model/gpt.c model/optim.c model/checkpoint.c model/safetensors.c
DATA_SRC = data/dataloader.c data/tokenizer.c data/bpe.c data/needle.c data/retrieval.c
PARALLEL_SRC = parallel/mpi.c
CLI_OBJ = $(BUILD)/cli/flags.o $(BUILD)/cli/generate.o $(BUILD)/cli/train_options.o $(BUILD)/cli/runfolder.o
HEADERS = $(wildcard util/*.h model/*.h model/kernels/*.h data/*.h parallel/*.h cli/*.h tests/*.h bench/*.h)
BUILD = $(or $(BUILD_DIR),build)
UTIL_SRC = util/json.c util/tokenizer_kind.c
OBJ = $(patsubst %.c,$(BUILD)/%.o,$(UTIL_SRC) $(MODEL_SRC) $(DATA_SRC) $(PARALLEL_SRC))
TESTS = $(BUILD)/test_gradcheck $(BUILD)/test_matmul $(BUILD)/test_model $(BUILD)/test_data $(BUILD)/test_bpe $(BUILD)/test_safetensors

.PHONY: experiments faults fuzz setup-fuzz all build tiers help setup setup-build setup-test setup-python data run test ablation bench bench-ab bench-torch reference gpt2-vectors clean
all: setup-build
	@$(MAKE) --no-print-directory build
ifeq ($(MPI),1)
build: train_gpt
else
build: train_gpt eval_gpt prepare_data $(TESTS) $(BUILD)/bench_gpt
endif

help:
	@echo "make            build train_gpt, eval_gpt, prepare_data and the tests"
	@echo "make run        install what is missing, build, prepare tinyshakespeare, train Softmax and SSMax, plot"
	@echo "make test       build and run every test (including the ablation runner at SCALE=smoke)"
	@echo "make experiments EXP=retrieval|retrieval-long|geometry|ablation  an experiment, its results accumulating in docs/experiments/EXP"
	@echo "make ablation   the SSMax paper's ablations (a)-(f) on the books, report in runs/ablation (SCALE=default|smoke);"
	@echo "                CONFIGS=softmax,ssmax,sink,... compares any normalizers the same way (runs/compare)"
	@echo "make bench      time training steps of the benchmark configs (Softmax and SSMax)"
	@echo "make bench-torch  the same configs in the PyTorch reference (tuned), with C speed-ups"
	@echo "make bench-ab BASE=<commit>  the GEMM and attention kernels at BASE against the working tree, alone and in whole training steps, in one process"
	@echo "make data       token shards in data/DATASET-TOKENIZER (DATASET=tinyshakespeare|books, TOKENIZER=byte|gpt2)"
	@echo "make reference  regenerate tests/ref with the PyTorch reference model"
	@echo "make faults     runs killed at random moments and resumed, a disk-full run (FAULT_RUNS=20)"
	@echo "make fuzz       libFuzzer harnesses of the file readers and the tokenizer (FUZZ_RUNS=1000000 each; installs clang)"
	@echo "make gpt2-vectors  regenerate tests/ref/gpt2_vectors.tsv with js-tiktoken (npm)"
	@echo "make setup      install missing Debian packages (apt-get as root, else print the command)"
	@echo "make MPI=1      train_gpt for data-parallel runs under mpirun (Open MPI; installs openmpi-bin libopenmpi-dev)"
	@echo "options: ISA=avx512|avx2|portable ATTN=softmax|ssmax|... DEBUG=1 NO_OMP=1 BLAS=1 MPI=1 PYTHON=/usr/bin/python3"

# the build stamps its flags, so changing ATTN or DEBUG rebuilds everything
$(BUILD)/flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/%.o: %.c $(HEADERS) $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# ./train_gpt, ./eval_gpt and ./prepare_data come from the build folder of the last make (build/mpi
# after `make MPI=1`, BUILD_DIR=... when given): relinked when that folder changes
FLAVOUR = $(BUILD)
build/flavour: FORCE
	@mkdir -p build
	@echo '$(FLAVOUR)' | cmp -s - $@ || echo '$(FLAVOUR)' > $@
# the source revision the trainer was built from, for its config.json (git describe; "-dirty" when
# tracked files had changes; "unknown" outside a git checkout): rewritten only when it changes
SOURCE_REV = $(or $(shell git describe --always --dirty --abbrev=12 2>/dev/null),unknown)
$(BUILD)/source_rev.c: FORCE
	@mkdir -p $(BUILD)
	@echo 'const char *source_rev(void) { return "$(SOURCE_REV)"; }' | cmp -s - $@ || \
	  echo 'const char *source_rev(void) { return "$(SOURCE_REV)"; }' > $@
$(BUILD)/source_rev.o: $(BUILD)/source_rev.c
	$(CC) $(CFLAGS) -c $< -o $@

train_gpt: $(BUILD)/train_gpt.o $(BUILD)/source_rev.o $(CLI_OBJ) $(OBJ) build/flavour
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LDLIBS)

# the MPI build under its own name, for tests/test_mpi.sh (make MPI=1 build/mpi/train_gpt_mpi)
$(BUILD)/train_gpt_mpi: $(BUILD)/train_gpt.o $(BUILD)/source_rev.o $(CLI_OBJ) $(OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

eval_gpt: $(BUILD)/eval_gpt.o $(CLI_OBJ) $(OBJ) build/flavour
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LDLIBS)

prepare_data: $(BUILD)/data/prepare_data.o $(OBJ) build/flavour
	$(CC) $(LDFLAGS) $(filter %.o,$^) -o $@ $(LDLIBS)

# the gradient check compiles the layers in double precision
GRADCHECK_SRC = tests/test_gradcheck.c model/layers.c model/attention.c model/kernels/attention_kernels.c model/kernels/tier.c
$(BUILD)/test_gradcheck: $(GRADCHECK_SRC) $(HEADERS) $(BUILD)/flags
	$(CC) $(CFLAGS) -DREAL=double -DREAL_IS_DOUBLE $(GRADCHECK_SRC) -o $@ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_gpt: $(BUILD)/bench/bench_gpt.o $(OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_%: $(BUILD)/tests/test_%.o $(OBJ)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# ---- setup: what a fresh Debian machine lacks
APT_BUILD = gcc make libc6-dev libpcre2-dev libstb-dev
APT_PLOT = python3-numpy python3-matplotlib curl ca-certificates
APT_TORCH = python3-torch python3-numpy
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "setup: installing$$missing"; \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing) >/dev/null || exit 1; \
	  else echo "setup: missing packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi
endef
setup: setup-build
	$(call apt_install,$(APT_PLOT))
setup-build:
	$(call apt_install,$(APT_BUILD) $(APT_BLAS) $(APT_MPI))
setup-test: setup-build
	$(call apt_install,$(APT_PLOT) $(APT_TORCH) openmpi-bin libopenmpi-dev)
setup-python:
	$(call apt_install,$(APT_TORCH))

# ---- data: DATASET=tinyshakespeare|books, TOKENIZER=byte|gpt2 -> data/DATASET-TOKENIZER/
DATASET ?= tinyshakespeare
TOKENIZER ?= byte
data: all
	@scripts/prepare.sh $(DATASET) $(TOKENIZER)

# ---- the main job: Softmax and SSMax side by side on tinyshakespeare
RUN_FLAGS ?= --overwrite --model small -b 16 -t 128 -n 1200 --lr 2e-3 --warmup 100 --schedule cosine --val-every 100 --val-batches 16 --ckpt-every 0 --log-every 50
run: setup all
	@scripts/prepare.sh tinyshakespeare byte
	./train_gpt $(RUN_FLAGS) --attn softmax -o runs/compare/softmax
	./train_gpt $(RUN_FLAGS) --attn ssmax -o runs/compare/ssmax
	$(PYTHON) scripts/plot_loss.py --out runs/compare/loss.png --shard data/tinyshakespeare-byte/train_000000.bin softmax=runs/compare/softmax ssmax=runs/compare/ssmax

# ---- the paper's ablations: train (a)-(f), evaluate, runs/ablation/report.md (~1h40 at SCALE=default)
SCALE ?= default
ablation: setup all
	$(PYTHON) scripts/ablation.py --scale $(SCALE) $(if $(CONFIGS),--configs $(CONFIGS)) $(if $(filter smoke,$(SCALE)),--out runs/$(if $(CONFIGS),compare,ablation)-smoke)

# ---- experiments: every finished run's small results accumulate in docs/experiments/EXP (commit them);
# a finished run is never repeated, an interrupted one resumes. EXP=retrieval (scripts/retrieval.py) |
# retrieval-long (the same to 64x T, 15 seeds, with the evaluation-only switches of the Softmax weights) |
# geometry (the LM experiment at the paper's attention geometry) | ablation (the default scale)
EXP ?= retrieval
EXP_FLAGS ?=
EXP_CMD_retrieval = scripts/retrieval.py
EXP_CMD_retrieval-long = scripts/retrieval.py --scale long
EXP_CMD_geometry = scripts/ablation.py --scale geometry
EXP_CMD_ablation = scripts/ablation.py
experiments: setup all
	@case "$(EXP)" in retrieval|retrieval-long|geometry|ablation) ;; *) echo "error: unknown experiment EXP=$(EXP)"; \
	  echo "HINT: make experiments EXP=retrieval, EXP=retrieval-long, EXP=geometry or EXP=ablation"; exit 1;; esac
	$(PYTHON) $(EXP_CMD_$(EXP)) --publish docs/experiments/$(EXP) $(EXP_FLAGS)

# ---- benchmarks: speed figures live here, never in tests
BENCH_FLAGS ?=
bench: all
	$(call apt_install,libopenblas0-openmp) # the GEMM table's comparison (the table skips it when missing)
	$(BUILD)/bench_gpt $(BENCH_FLAGS) | tee $(BUILD)/bench.md

# in-process A/B of the kernels: model/kernels/matmul.c and attention_kernels.c as they are at BASE (model/ before the kernels had a folder)
# ("a", compiled against the working tree's headers) and in the working tree ("b"), entry points
# renamed, in one program whose calls alternate (bench/bench_ab.c): how to tell a change of a few
# percent on a shared machine, where whole bench runs move by far more; AB_FLAGS="--part steps" times
# whole training steps on either side
BASE ?= HEAD
AB_FLAGS ?=
AB_DIR = $(BUILD)/ab
AB_NAMES = sgemm gemm_kernel_name matmul_forward matmul_backward attention_scratch_size attention_forward \
           attention_backward attention_row_mass
ab_rename = $(foreach f,$(AB_NAMES),-D$(f)=$(f)_$(1))
# the rest of the model, which calls bench_ab.c's entry points (they pass each call on to a or b)
AB_MODEL_OBJ = $(filter-out $(BUILD)/model/kernels/matmul.o $(BUILD)/model/kernels/attention_kernels.o,$(OBJ))
ab_show = (git show '$(BASE):model/kernels/$(1)' 2>/dev/null || git show '$(BASE):model/$(1)')
bench-ab: all $(BUILD)/bench/bench_ab.o
	@git rev-parse --verify -q '$(BASE)^{commit}' >/dev/null || { echo "error: BASE=$(BASE) is not a commit of this repository"; \
	  echo "HINT: make bench-ab BASE=HEAD~1 (any commit, tag or branch that has model/kernels/matmul.c or model/matmul.c)"; exit 1; }
	@mkdir -p $(AB_DIR)/base
	$(call ab_show,matmul.c) > $(AB_DIR)/base/matmul.c
	$(call ab_show,attention_kernels.c) > $(AB_DIR)/base/attention_kernels.c
	$(CC) $(CFLAGS) -Imodel/kernels -Imodel $(call ab_rename,a) -c $(AB_DIR)/base/matmul.c -o $(AB_DIR)/matmul_a.o
	$(CC) $(CFLAGS) -Imodel/kernels -Imodel $(call ab_rename,a) -c $(AB_DIR)/base/attention_kernels.c -o $(AB_DIR)/attention_kernels_a.o
	$(CC) $(CFLAGS) $(call ab_rename,b) -c model/kernels/matmul.c -o $(AB_DIR)/matmul_b.o
	$(CC) $(CFLAGS) $(call ab_rename,b) -c model/kernels/attention_kernels.c -o $(AB_DIR)/attention_kernels_b.o
	$(CC) $(LDFLAGS) $(BUILD)/bench/bench_ab.o $(AB_DIR)/*_a.o $(AB_DIR)/*_b.o $(AB_MODEL_OBJ) -o $(AB_DIR)/bench_ab $(LDLIBS)
	$(AB_DIR)/bench_ab $(AB_FLAGS)

# the PyTorch reference on the same configs, tuned: Debian's torch calls libblas.so.3 for its matmuls,
# which is the netlib reference BLAS (~8 GFLOP/s) unless an OpenBLAS provides it; the OpenMP build of
# OpenBLAS shares torch's thread pool. OpenBLAS on its own kernels, jemalloc, 2 threads. jemalloc keeps
# the pages it frees (MALLOC_CONF): with its default decay every out-of-place op of AdamW's took fresh,
# zeroed pages, and a gpt2-124m step ran ~6000 ms instead of ~1100 (AMD Zen 5, AVX-512 tier, 2026-12-06). With ISA= below
# the CPU's, torch and OpenBLAS are held to the same instruction set (make ISA=avx2 bench bench-torch).
# On AVX-512 OpenBLAS is told its AVX-512 target: 0.3.21 runs SSE3 (Prescott) on CPUs it does not
# know, such as Intel's Emerald Rapids
JEMALLOC = /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
JEMALLOC_CONF = dirty_decay_ms:-1,muzzy_decay_ms:-1
TORCH_ISA_avx2 = OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2
TORCH_ISA_portable = OPENBLAS_CORETYPE=Nehalem ATEN_CPU_CAPABILITY=default
TORCH_NATIVE_avx512 = OPENBLAS_CORETYPE=SkylakeX
bench-torch: setup-python
	$(call apt_install,libjemalloc2 libopenblas0-openmp)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(if $(filter $(ISA),$(NATIVE_ISA)),$(TORCH_NATIVE_$(ISA)),$(TORCH_ISA_$(ISA))) LD_PRELOAD=$(JEMALLOC) \
	  MALLOC_CONF=$(JEMALLOC_CONF) $(PYTHON) scripts/bench_torch.py --c-table $(BUILD)/bench.md $(BENCH_FLAGS)

# ---- tests: every suite on this build, and the kernel suites (GEMM, attention, gradient checks, the
# whole model against the PyTorch reference over 10 AdamW steps) on every tier below it, which this
# CPU can execute too, each in its own folder build/ISA
TIERS_BELOW = $(foreach t,avx2 portable,$(if $(shell test $(ISA_RANK_$(t)) -lt $(ISA_RANK_$(ISA)) && echo below),$(t)))
KERNEL_TESTS = test_gradcheck test_matmul test_model
tiers:
	@for t in $(TIERS_BELOW); do $(MAKE) --no-print-directory ISA=$$t BUILD_DIR=build/$$t \
	  $(addprefix build/$$t/,$(KERNEL_TESTS)) || exit 1; done
test: setup-test all tiers
	@PYTHON=$(PYTHON) BUILD=$(BUILD) TIERS="$(TIERS_BELOW)" KERNEL_TESTS="$(KERNEL_TESTS)" tests/run_tests.sh

# ---- fuzzing (not in CI: minutes): libFuzzer harnesses of the checkpoint/llm.c reader (build, load,
# evaluate), the safetensors + config.json reader (the same), the shard reader and the GPT-2 tokenizer
# (decode(encode(x)) == x), FUZZ_RUNS inputs each
FUZZ_RUNS ?= 1000000
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -O1 -g -DFUZZING -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
             -fopenmp-simd -fno-math-errno -fno-trapping-math -Wno-pass-failed
FUZZ_SRC = $(UTIL_SRC) $(MODEL_SRC) $(DATA_SRC)
FUZZERS = build/fuzz/fuzz_checkpoint build/fuzz/fuzz_shard build/fuzz/fuzz_bpe build/fuzz/fuzz_safetensors
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_SRC) $(HEADERS)
	@mkdir -p build/fuzz
	clang $(FUZZ_FLAGS) $< $(FUZZ_SRC) -o $@ $(LDLIBS)
setup-fuzz: setup-build
	$(call apt_install,clang)
fuzz: setup-fuzz all $(FUZZERS)
	@tests/fuzz/run.sh $(FUZZ_RUNS)

# ---- faults (not in CI: minutes): FAULT_RUNS runs killed with SIGKILL at random moments and resumed until
# done, against an uninterrupted run; a disk-full run on a small tmpfs where this machine can mount one
FAULT_RUNS ?= 20
faults: all
	@FAULT_RUNS=$(FAULT_RUNS) tests/faults.sh

reference: setup-python all
	$(PYTHON) scripts/reference.py --out tests/ref

# GPT-2 token-id vectors from js-tiktoken (npm), committed so that `make test` needs no npm
JS_TIKTOKEN = js-tiktoken@1.0.21
gpt2-vectors:
	@command -v npm >/dev/null || { echo "gpt2-vectors needs node and npm: apt-get install -y nodejs npm"; exit 1; }
	@mkdir -p $(BUILD)/node && cd $(BUILD)/node && [ -d node_modules/js-tiktoken ] || npm install --silent --prefix . $(JS_TIKTOKEN)
	cp scripts/gpt2_vectors.mjs $(BUILD)/node/ && node $(BUILD)/node/gpt2_vectors.mjs tests/ref/gpt2_vectors.tsv $(SHARED)/data

clean:
	rm -rf build $(BUILD) train_gpt eval_gpt prepare_data
