# Two commands: `make run` serves the site, `make test` runs every test.
# Both set up what they need (venv, Python packages, bun) and are quick when done.
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
BUN_VERSION := 1.4.4
LOCAL_BUN := $(CURDIR)/.tools/node_modules/.bin/bun
CHROMIUM ?= /usr/bin/chromium

export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false

# Reflex downloads bun from the internet unless told where one is: use REFLEX_BUN_PATH
# if set, else a bun on PATH, else the pinned npm package installed into .tools/.
ifeq ($(strip $(REFLEX_BUN_PATH)),)
  SYSTEM_BUN := $(shell command -v bun 2>/dev/null)
  ifeq ($(SYSTEM_BUN),)
    export REFLEX_BUN_PATH := $(LOCAL_BUN)
    BUN_DEP := $(LOCAL_BUN)
  else
    export REFLEX_BUN_PATH := $(SYSTEM_BUN)
  endif
endif

.PHONY: run build serve test lint bench setup setup-dev browser caddy clean

run: setup
	$(VENV)/bin/reflex run

# Production, several hosts: the frontend built once (the browser pointed at the public
# URL), then each host serves it (`make serve`, or the Docker image; docs/deployment.md).
build: setup $(BUN_DEP)
	@if [ -z "$(CHATKIT_PUBLIC_URL)" ]; then \
	  echo "make build needs CHATKIT_PUBLIC_URL: where visitors reach the site, e.g. https://chat.example.com"; \
	  exit 2; fi
	REFLEX_API_URL="$(CHATKIT_PUBLIC_URL)" $(VENV)/bin/reflex export --frontend-only --no-zip --env prod

serve: setup
	$(PY) -m chatkit_app.serve

# The protocol and streaming API tests run a second time on the plain SDK paths.
FAST_PATHS_OFF_TESTS := tests/api/test_chatkit_protocol.py tests/api/test_chatkit_streaming.py \
	tests/api/test_chatkit_openai.py tests/api/test_coalescing.py tests/api/test_agent_workflows.py \
	tests/api/test_exported_workflow.py tests/api/test_mcp_assistant.py tests/api/test_model_inputs.py \
	tests/api/test_widget_actions.py tests/api/test_ops_endpoints.py

test: setup-dev browser caddy
	$(PY) -m pytest $(PYTEST_ARGS)
	CHATKIT_FAST_PATHS=off $(PY) -m pytest $(FAST_PATHS_OFF_TESTS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check chatkit_app tests bench rxconfig.py
	$(VENV)/bin/mypy chatkit_app rxconfig.py

bench: setup-dev
	$(PY) -m bench.issuance
	$(PY) -m bench.streaming
	CHATKIT_WORKFLOW_MODULES=assistant=bench.tool_agents:three_tools $(PY) -m bench.streaming
	$(PY) -m bench.tool_round
	$(PY) -m bench.frontend
	$(PY) -m bench.state_memory
	$(PY) -m bench.scale  # needs CHATKIT_TEST_DATABASE_URL and CHATKIT_TEST_REDIS_URL, as the tests

setup: $(VENV)/.runtime-installed $(BUN_DEP)
setup-dev: $(VENV)/.dev-installed $(BUN_DEP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

$(LOCAL_BUN):
	npm install --silent --no-audit --no-fund --prefix $(CURDIR)/.tools bun@$(BUN_VERSION)
	test -x $@ && $@ --version

# Browser tests use Debian's Chromium. As root on Debian, install it when missing;
# elsewhere the browser tests skip and say how to install it (under CI=true they fail).
browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium missing at $(CHROMIUM): browser tests will skip (sudo apt-get install chromium)"; \
	  fi; \
	fi

# The deploy kit's test runs deploy/Caddyfile with the real caddy (Debian's package);
# installed like Chromium when missing.
caddy:
	@if ! command -v caddy >/dev/null; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's caddy for the deploy kit's test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null; \
	  else \
	    echo "caddy missing: the deploy kit's test will skip (sudo apt-get install caddy)"; \
	  fi; \
	fi

clean:
	rm -rf .web .states $(VENV)/.runtime-installed $(VENV)/.dev-installed
