# The two commands: `make run` (the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pinned with hashes (`make lock` refreshes them): what make run and make test install is
# the same tomorrow as today. runtime.lock is the production image's (no Radicale, no tests).
DEV_LOCK := requirements/dev.lock
RUNTIME_LOCK := requirements/runtime.lock
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes

.PHONY: run test lint lock openapi

$(STAMP): pyproject.toml $(DEV_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r $(DEV_LOCK)
	$(PIP) install --no-deps -e '.[embedded,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/syncd --config config/demo.toml run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest

# After changing the dependencies in pyproject.toml: new pins, then commit requirements/.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install uv
	$(COMPILE) --extra embedded --extra test --upgrade -o $(DEV_LOCK)
	$(COMPILE) --constraint $(DEV_LOCK) -o $(RUNTIME_LOCK)

# the API's OpenAPI document, as GET /api/v1/openapi.json serves it (tests/api/test_openapi.py
# fails when the committed file differs)
openapi: $(STAMP)
	$(BIN)/python -c 'import sys; from syncd.api.openapi import document_text; sys.stdout.write(document_text())' > docs/openapi.json.new
	mv docs/openapi.json.new docs/openapi.json
