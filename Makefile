# The two commands of the README, plus helpers. Each bootstraps .venv from the
# package registries alone (python3.12 -m venv, then uv from PyPI, then the lock).
# Python 3.12 is MWAA's and the images' Python: the first python3.12 that runs, from
# PATH or a pyenv install (pyenv's shim fails when 3.12 is installed but not selected).
PYTHON ?= $(or $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null),\
  $(lastword $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.12*/bin/python3.12))),\
  $(error Python 3.12 not found: install it or run make PYTHON=/path/to/python3.12))
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
LOCK   := requirements/lock-py312.txt
COMPAT := .venv-compat
CHECKOV := .venv-checkov

.PHONY: venv test lint typecheck demo bench lock clean iac compat bundle deploy-dry-run python-version

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

## typecheck: mypy on the library and the collector (configuration in pyproject.toml)
typecheck: venv
	$(BIN)/mypy

## test: lint, type check, IaC checks, then the whole test suite (what .ci/run calls)
test: lint typecheck iac compat
	$(BIN)/pytest -n 2 --dist loadgroup -p no:cacheprovider

## demo: synthetic days into ./data, then the real daily_analysis DAG over them
demo: venv
	$(BIN)/python scripts/demo.py

## bench: the analysis benchmark (add ARGS=--large for ~50M rows)
bench: venv
	$(BIN)/python scripts/benchmark.py $(ARGS)

## lock: re-resolve requirements/lock-py312.txt under MWAA's Airflow 3.3.1 constraints
lock:
	$(BIN)/uv pip compile --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 \
	  requirements.txt requirements/dev.txt -c requirements/mwaa-constraints-3.3.1-py3.12.txt \
	  -o $(LOCK)

## iac: cfn-lint and checkov on infra/ (checkov in its own venv: its pins clash with Airflow's)
iac: $(VENV)/.installed $(CHECKOV)/.installed
	$(BIN)/cfn-lint infra/*.yaml
	$(CHECKOV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d infra

$(CHECKOV)/.installed: requirements/checkov.txt $(VENV)/.installed
	$(PYTHON) -m venv --without-pip $(CHECKOV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV)/bin/python -r requirements/checkov.txt
	touch $@

## compat: the DAG house-rules test on Airflow 3.0.6 + amazon 9.12.0 (MWAA's first 3.x).
## Part of `make test`: every DAG must still import there, though deploying on 3.0.6 is unsupported.
compat: $(COMPAT)/.installed
	$(COMPAT)/bin/python -m pytest -q -p no:cacheprovider tests/test_dag_integrity.py

$(COMPAT)/.installed: requirements/compat-3.0.6.txt $(VENV)/.installed
	$(PYTHON) -m venv --without-pip $(COMPAT)
	$(BIN)/uv pip install --quiet --python $(COMPAT)/bin/python -r requirements/compat-3.0.6.txt \
	  -c requirements/mwaa-constraints-3.0.6-py3.12.txt
	touch $@

## bundle: dist/ for MWAA (DAGs + library, requirements.txt, startup.sh; ENV_FILE=deploy.env,
## required: it must hold the production settings, or the build refuses)
bundle: $(VENV)/.installed
	$(BIN)/python scripts/build_mwaa_bundle.py $(if $(ENV_FILE),--env-file $(ENV_FILE))

## deploy-dry-run: offline diff + the S3/MWAA calls a deploy would make
## (OUTPUTS=<describe-stacks JSON>, DEPLOYED=<the bucket's manifest.json, optional>)
deploy-dry-run: $(VENV)/.installed
	$(BIN)/python scripts/deploy_mwaa.py --stack-outputs $(or $(OUTPUTS),outputs.json) --dry-run \
	  $(if $(DEPLOYED),--deployed-manifest $(DEPLOYED))

## python-version: the interpreter the venvs are built with
python-version:
	@echo "$(PYTHON): $$($(PYTHON) --version)"

clean:
	rm -rf $(VENV) $(COMPAT) $(CHECKOV) .pytest_cache .ruff_cache .mypy_cache
