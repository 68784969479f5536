# claimflow — two commands on a fresh machine:
#   make demo   installs everything (pinned by uv.lock) and runs a full nightly cycle on SQLite
#               against the built-in sandbox clearinghouse
#   make test   installs everything and runs the whole test suite (SQLite + PostgreSQL + OpenSSH sshd)
#
# uv itself is bootstrapped into .tools/ with the machine's python3 at a pinned version; nothing is
# installed by hand.

UV_VERSION := 0.13.9
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

setup: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --all-extras --quiet

demo: setup
	$(UV) run --frozen claimflow demo

test: setup
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy

bench: setup
	$(UV) run --frozen python bench/run_all.py

clean:
	rm -rf .venv .tools claimflow-demo .pytest_cache
