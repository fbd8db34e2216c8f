# The whole set-up on a fresh machine is `make demo` and `make test`: both
# create .venv on first use and install the package with its test extras.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED := 0

.PHONY: install test test-fast demo demo-fusion demo-ablation bench clean

install: $(STAMP)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,beam]"
	touch $(STAMP)

# Whole suite, slow end-to-end tests included (CI runs exactly this).
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup tests

# Everything but the tests marked slow, for quick iterations.
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow" tests

demo: $(STAMP)
	bash tools/demo.sh demo_out

# Table 11 on toy videos with camera pan: late fusion vs. the three fusion modes.
demo-fusion: $(STAMP)
	bash tools/demo_fusion.sh demo_fusion_out

# TSN consensus vs. 1x1-conv vs. 1/2/3-scale pyramid attention, 3 seeds each, on sparse-evidence toy videos.
demo-ablation: $(STAMP)
	bash tools/demo_ablation.sh demo_ablation_out

bench: $(STAMP)
	for b in benchmarks/*_bench.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo_out demo_fusion_out demo_ablation_out .pytest_cache
