# `make test`: venv + install + ruff + mypy + pytest. `make demo`: a local, offline rotation.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint typecheck pytest demo bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check awscli_rotate_key tests benchmarks
	$(BIN)/ruff format --check awscli_rotate_key tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected nothing: that must fail, never pass silently.
pytest: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck pytest

demo: $(STAMP)
	$(BIN)/python tests/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/plugin_overhead.py
	$(BIN)/python benchmarks/rotation_cost.py
	$(BIN)/python benchmarks/audit_scale.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
