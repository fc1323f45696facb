# The two commands of the README, plus helpers. Each bootstraps .venv from the
# package registries alone (python3 -m venv, then uv from PyPI, then the lock).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
LOCK   := requirements/lock-py311.txt

.PHONY: venv test lint demo bench lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r $(LOCK)
	touch $@

## lint: ruff (with Airflow's AIR rules) and hadolint on every Dockerfile
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint --config .hadolint.yaml Dockerfile $(wildcard docker/*.Dockerfile)

## test: lint, then the whole test suite (what .ci/run calls)
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup -p no:cacheprovider

## demo: synthetic days into ./data, then the real daily_analysis DAG over them
demo: venv
	$(BIN)/python scripts/demo.py

## bench: the analysis benchmark (add ARGS=--large for ~50M rows)
bench: venv
	$(BIN)/python scripts/benchmark.py $(ARGS)

## lock: re-resolve requirements/lock-py311.txt under MWAA's Airflow 3.3.1 constraints
lock:
	grep -vE '^(numpy|scipy)==' requirements/mwaa-constraints-3.3.1-py3.12.txt > $(VENV)/constraints-py311.txt
	$(BIN)/uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  requirements.txt requirements/dev.txt -c $(VENV)/constraints-py311.txt \
	  --override requirements/overrides-py311.txt -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
