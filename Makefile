# The two commands of the README, plus helpers. Each bootstraps .venv from the
# package registries alone (python3 -m venv, then uv from PyPI, then the lock).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
LOCK   := requirements/lock-py311.txt
COMPAT := .venv-compat
CHECKOV := .venv-checkov

.PHONY: venv test lint demo bench lock clean iac compat bundle deploy-dry-run

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

## test: lint, IaC checks, then the whole test suite (what .ci/run calls)
test: lint iac compat
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

## iac: cfn-lint and checkov on infra/ (checkov in its own venv: its pins clash with Airflow's)
iac: $(VENV)/.installed $(CHECKOV)/.installed
	$(BIN)/cfn-lint infra/*.yaml
	$(CHECKOV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d infra

$(CHECKOV)/.installed: requirements/checkov.txt $(VENV)/.installed
	$(PYTHON) -m venv --without-pip $(CHECKOV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV)/bin/python -r requirements/checkov.txt
	touch $@

## compat: the DAG house-rules test on Airflow 3.0.6 + amazon 9.12.0 (MWAA's first 3.x).
## Not part of `make test`: MWAA 3.0.6 is unsupported (daily_analysis needs Airflow 3.1+).
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

clean:
	rm -rf $(VENV) $(COMPAT) $(CHECKOV) .pytest_cache .ruff_cache
