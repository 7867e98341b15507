# The two commands: `make run` and `make test`. Both build .venv from this repo's own files.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test test-fast test-browser install lint bench fuzz browser-deps clean cluster

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,bench,postgres]'
	touch $(STAMP)

# The per-answer analysis compiled by mypyc (src/diagnosis/analysis/native.py), rebuilt when an
# analysis source changes; a failed build prints one line and the analysis runs as Python.
NATIVE := src/diagnosis/analysis/_native/manifest.json
$(NATIVE): $(STAMP) $(wildcard src/diagnosis/analysis/*.py) scripts/build_native.py
	$(BIN)/python scripts/build_native.py

install: $(STAMP) $(NATIVE)

run: install
	$(BIN)/diagnosis serve --host $(HOST) --port $(PORT)

# The scaled-out deployment as local processes (README "Scaling out"): 2 API instances on
# API_PORTS (default "8001 8002") and 2 workers, on the local PostgreSQL and Redis.
cluster: install
	bash scripts/cluster.sh

# Debian's Chromium for the dashboard's browser tests (browser downloads are impossible here),
# and a CJK font so that screenshots show Chinese rather than boxes.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi wqy; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

test: install browser-deps
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not browser and not slow"

test-browser: install browser-deps
	$(BIN)/pytest -m browser

# schemathesis with every check and a fixed seed against a live server (also run by `make test`).
fuzz: install
	$(BIN)/pytest -q tests/api/test_openapi_fuzz.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts src/diagnosis/analysis/_native
