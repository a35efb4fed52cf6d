# stencilc developer commands. Every target builds its own virtual environment in .venv,
# so a fresh machine with only Python 3.10+ needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Numba's disk cache for tests lives in the repo so runs never touch the user's cache.
export STENCILC_CACHE_DIR ?= $(CURDIR)/.stencilc-cache
export HYPOTHESIS_PROFILE ?= ci

.PHONY: test test-suite test-boundscheck test-cudasim demo bench bench-gpu venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

test: test-suite test-boundscheck test-cudasim

# The kernel tests (random stencils, hand-written kernels, hostile arrays, simplify passes)
# run in test-boundscheck only; test-suite runs everything else with kernels compiled as users
# get them (the fuzzer, Dask, semantics, stage and object tests check production kernels
# against their oracles too). The random stencils ran in both steps until the suite passed
# 10 minutes on 2 cores; bounds checking changes no value, only adds the checks.
KERNEL_TESTS := tests/test_random_stencils.py tests/test_hostile.py tests/test_passes.py \
	tests/test_kernels.py tests/test_schedules.py

test-suite: $(STAMP)
	$(PY) -m pytest -n 2 -q tests $(addprefix --ignore=,$(KERNEL_TESTS))

# Memory safety and values together: the kernel tests with numba's bounds checking on, so any
# read or write outside an array raises IndexError instead of passing silently. Its own
# cache folder: code compiled without the checks must not be reused here.
test-boundscheck: $(STAMP)
	NUMBA_BOUNDSCHECK=1 STENCILC_CACHE_DIR=$(CURDIR)/.stencilc-cache-boundscheck \
		$(PY) -m pytest -n 2 -q $(KERNEL_TESTS)

# The cuda target's values in numba-cuda's simulator, which runs kernels as Python on the CPU
# (no GPU needed; on a machine with one, run tests/test_cuda_sim.py without the variable).
# Its PTX and value types are checked in test-suite (tests/test_cuda_ptx.py).
test-cudasim: $(STAMP)
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -n 2 -q tests/test_cuda_sim.py \
		"tests/test_examples.py::test_example_runs[gpu_smooth]"

# The seed's pipeline on real photographs (stencilc demo --help): writes demo-output/.
demo: $(STAMP)
	$(VENV)/bin/stencilc demo --out demo-output

# CPU speed against the seed, scipy.ndimage, a hand-written numba loop and np.copyto, window
# reductions against scipy.ndimage (benchmarks/windows.py), integer narrowing against int64
# arithmetic (benchmarks/narrowing.py), stencilc.ndimage function by
# function against scipy.ndimage (benchmarks/ndimage.py), and
# first-call latency, compile time and time stepping (iterate), all measured in this run;
# writes docs/bench-*.json and docs/bench-cpu.png.
bench: $(STAMP)
	$(PY) benchmarks/cpu_suite.py
	$(PY) benchmarks/windows.py
	$(PY) benchmarks/narrowing.py
	$(PY) benchmarks/ndimage.py
	$(PY) benchmarks/first_call.py
	$(PY) benchmarks/compile_time.py
	$(PY) benchmarks/compile_time.py --unroll
	$(PY) benchmarks/iterate.py
	$(PY) benchmarks/plot.py

# The memory-traffic model from the assembler (no GPU needed; docs/bench-gpu-model.json), then
# GPU speed against cupyx.scipy.ndimage, the device's copy bandwidth and the parallel CPU
# target (benchmarks/gpu_suite.py; says so and exits 0 where no GPU is present).
bench-gpu: $(STAMP)
	$(PY) benchmarks/gpu_model.py
	$(PY) benchmarks/gpu_suite.py

clean:
	rm -rf $(VENV) .stencilc-cache .stencilc-cache-boundscheck .pytest_cache .hypothesis
