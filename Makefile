# evsite — the front door. `make run` starts a simulated site, `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR ?= .run
STATIONS ?= 10
# Debian packages the tests drive as real peers (socat makes the RS-485 pseudo-terminal pair).
TEST_DEBS := socat openssl libubootenv-tool u-boot-tools chromium chromium-driver
# sslyze pins a cryptography older than ours, so it lives in a venv of its own.
SSLYZE_VENV := .venv-sslyze
SSLYZE_STAMP := $(SSLYZE_VENV)/.installed

.PHONY: help run test lint unit bench deps system-deps clean bundle

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml requirements/runtime.txt requirements/dev.txt
	@# Debian's python3 makes virtual environments only with python3-venv (ensurepip).
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else echo "$(PYTHON) cannot make a virtual environment — run: sudo apt-get install python3-venv"; exit 1; fi; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(SSLYZE_STAMP): requirements/sslyze.txt
	test -d $(SSLYZE_VENV) || $(PYTHON) -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sslyze.txt
	touch $(SSLYZE_STAMP)

deps: $(STAMP) $(SSLYZE_STAMP)  ## create .venv (and .venv-sslyze) with the pinned Python packages

system-deps:  ## install the Debian packages the tests need (as root), or say how
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages:$$missing — run: sudo apt-get install$$missing"; exit 1; fi; \
	fi

run: $(STAMP)  ## start a simulated site: controller, $(STATIONS) stations, a meter
	$(VENV)/bin/evsite sim --data-dir $(DATA_DIR) --stations $(STATIONS)

lint: $(STAMP)  ## ruff and mypy
	$(VENV)/bin/ruff check app tests signing
	$(VENV)/bin/ruff format --check app tests signing
	$(VENV)/bin/mypy

unit: $(STAMP) $(SSLYZE_STAMP) system-deps  ## pytest only
	$(VENV)/bin/pytest -q

test: $(STAMP) system-deps lint unit  ## lint, then the whole fast suite

bench: $(STAMP) system-deps  ## benchmarks: numbers side by side with a baseline
	$(PY) -m tests.bench

# The signed update bundle of a built image. Without SIGNING_KEY the development key
# (made outside the repository on first use) signs it, and the bundle says so.
SIGNING_KEY ?=
VERSION ?= $(shell $(PYTHON) -c "import re;print(re.search(r'__version__ = \"(.+)\"', open('app/evsite/__init__.py').read())[1])")
MIN_VERSION ?= $(VERSION)
BUNDLE_BUILD ?= $(if $(SIGNING_KEY),release,development)

bundle: $(STAMP)  ## sign out/$(BOARD)/{boot.img,rootfs.squashfs} into out/evsite-<version>-$(BOARD).bundle
	$(PY) signing/evsite-sign sign $(if $(SIGNING_KEY),--key $(SIGNING_KEY),) \
	  --payload boot=$(OUT)/$(BOARD)/boot.img --payload rootfs=$(OUT)/$(BOARD)/rootfs.squashfs \
	  --version $(VERSION) --min-version $(MIN_VERSION) --board $(BOARD) --build $(BUNDLE_BUILD) \
	  --out $(OUT)/evsite-$(VERSION)-$(BOARD).bundle

clean:  ## remove the venv, run data and build outputs
	rm -rf $(VENV) $(DATA_DIR) out build

include image/image.mk
