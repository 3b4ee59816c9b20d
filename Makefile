# Council Digest. `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help install run demo test lint fmt typecheck check bench clean

help: ## Show the available targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) ..." >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' >&2
	@touch $@

install: $(BIN)/.installed ## Create .venv and install the project with its test tools

run: install ## Set up the database and start web + scheduler + delivery on http://127.0.0.1:5000
	$(BIN)/digest init
	$(BIN)/digest start

demo: install ## Like `run`, on var/demo/, with two councils collected from replayed real responses
	$(BIN)/digest demo

test: install ## Run the whole test suite
	$(BIN)/pytest

lint: install ## Check style with ruff
	$(BIN)/ruff check digest jobs tests migrations bench
	$(BIN)/ruff format --check digest jobs tests bench

fmt: install ## Format the code with ruff
	$(BIN)/ruff format digest jobs tests bench
	$(BIN)/ruff check --fix digest jobs tests bench

typecheck: install ## Check types with mypy
	$(BIN)/mypy

check: lint typecheck test ## Everything CI checks

bench: install ## Run the benchmarks and print JSON (progress on stderr)
	@$(BIN)/python -m bench

clean: ## Remove the virtualenv and local state (keeps config.toml)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
