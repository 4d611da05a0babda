# `make test`: venvs + installs + ruff + mypy + the unit suite, then the functional and fault
# suites under each AWS CLI we support (see README, "Development"). `make demo`: a local rotation.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The oldest awscli v1 release that installs on Python 3.11 and passes the functional suite
# (README, "Supported versions"). It gets a venv of its own, the plugin installed into it.
OLDEST_AWSCLI := 1.29.4
OLDEST_VENV := .venv-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.installed-$(OLDEST_AWSCLI)

# AWS CLI v2: Debian's package `awscli` (2.9.19), the plugin installed the way README says
# (pip install --target DIR, then cli_legacy_plugin_path = DIR). REQUIRE_V2=1 (set by .ci/run)
# turns a v2 half that cannot run into a failure instead of a loud skip.
V2_AWS ?= /usr/bin/aws
V2_PLUGIN_DIR := build/v2-plugin
REQUIRE_V2 ?= 0

# pytest exits 5 when it collected nothing: that must fail, never pass silently.
define run_pytest
	$(2) $(BIN)/python -m pytest -p no:cacheprovider $(1) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc
endef

.PHONY: test lint typecheck pytest unit suites-v1 suites-v2 suites-oldest v2-cli v2-plugin \
	demo bench clean package

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(OLDEST_STAMP): setup.cfg pyproject.toml
	rm -rf $(OLDEST_VENV)
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet 'awscli==$(OLDEST_AWSCLI)'
	$(OLDEST_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(OLDEST_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check awscli_rotate_key tests benchmarks deploy
	$(BIN)/ruff format --check awscli_rotate_key tests benchmarks deploy
	$(BIN)/cfn-lint deploy/enforce.yaml deploy/member-role.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck pytest

pytest: unit suites-v1 suites-v2 suites-oldest

unit: $(STAMP)
	$(call run_pytest,tests/unit,)

suites-v1: $(STAMP)
	@echo "=== functional + fault suites under AWS CLI v1 (newest: $$($(BIN)/aws --version)) ==="
	$(call run_pytest,tests/functional tests/faults,ROTATE_KEY_TEST_CLI=v1)

suites-oldest: $(STAMP) $(OLDEST_STAMP)
	@echo "=== functional suite under the oldest supported AWS CLI v1 ($(OLDEST_AWSCLI)) ==="
	$(call run_pytest,tests/functional,ROTATE_KEY_TEST_CLI=v1-oldest \
		ROTATE_KEY_TEST_AWS=$(abspath $(OLDEST_VENV))/bin/aws)

# Debian's awscli when it is missing, if this is root on a Debian-like system (CI is).
v2-cli:
	@if ! "$(V2_AWS)" --version 2>/dev/null | grep -q '^aws-cli/2\.'; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing AWS CLI v2 (Debian package awscli)"; \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq awscli >/dev/null) || true; \
		fi; \
	fi

# Reinstalled on every run: v2 loads this copy, not the checkout.
v2-plugin: $(STAMP)
	rm -rf $(V2_PLUGIN_DIR)
	$(BIN)/python -m pip install --quiet --upgrade --no-deps --target $(V2_PLUGIN_DIR) .

suites-v2: $(STAMP) v2-cli
	@if ! "$(V2_AWS)" --version 2>/dev/null | grep -q '^aws-cli/2\.'; then \
		echo "##################################################################"; \
		echo "## AWS CLI v2 HALF SKIPPED: no v2 at $(V2_AWS) (apt-get install awscli)"; \
		echo "##################################################################"; \
		if [ "$(REQUIRE_V2)" = 1 ]; then echo "REQUIRE_V2=1: failing"; exit 1; fi; \
		exit 0; \
	fi; \
	$(MAKE) --no-print-directory v2-plugin && \
	echo "=== functional + fault suites under AWS CLI v2 ($$($(V2_AWS) --version)) ===" && \
	{ $(call run_pytest,tests/functional tests/faults,ROTATE_KEY_TEST_CLI=v2 \
		ROTATE_KEY_TEST_AWS=$(V2_AWS) ROTATE_KEY_TEST_PLUGIN_DIR=$(abspath $(V2_PLUGIN_DIR))); }

# The scheduled function's zip (README, "Deploying the scheduled enforcement"): same bytes for
# the same sources.
package:
	$(PYTHON) deploy/package.py --output dist/enforce-lambda.zip

demo: $(STAMP)
	$(BIN)/python tests/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/plugin_overhead.py
	$(BIN)/python benchmarks/rotation_cost.py
	$(BIN)/python benchmarks/audit_scale.py
	$(BIN)/python benchmarks/propagation_wait.py
	$(BIN)/python benchmarks/enforce_scale.py

clean:
	rm -rf $(VENV) $(OLDEST_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
