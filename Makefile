# The two commands: `make run` (the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint openapi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/syncd --config config/demo.toml run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest

# the API's OpenAPI document, as GET /api/v1/openapi.json serves it (tests/api/test_openapi.py
# fails when the committed file differs)
openapi: $(STAMP)
	$(BIN)/python -c 'import sys; from syncd.api.openapi import document_text; sys.stdout.write(document_text())' > docs/openapi.json.new
	mv docs/openapi.json.new docs/openapi.json
