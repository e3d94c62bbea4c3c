# Agent Oven — every command a developer or CI needs. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= .demo
DEMO_LISTEN ?= 127.0.0.1:8080
PYTEST_ARGS ?=

.PHONY: help setup engine images browser servers test demo lint bench bench-engine fuzz screenshots clean

help:
	@echo "make demo   - run the reconciler on config-example/ with the status page on $(DEMO_LISTEN)"
	@echo "make test   - install everything needed (engine, images, browser) and run the tests"
	@echo "make lint   - ruff, mypy and the import contracts (layers)"
	@echo "make images - build the example and test images locally"
	@echo "make bench  - the tick-cost benchmark (pure; seconds)"
	@echo "make bench-engine - on the real engine: 100 MB of output, a pipeline run, push-to-applied latency"
	@echo "make fuzz   - the manifest fuzz test with 5000 examples per test (OVEN_FUZZ_EXAMPLES)"
	@echo "make screenshots - a real daemon and Chromium save docs/screenshots/*.png (overview, job, live run)"
	@echo "make soak   - two daemons on one repo for ~45 minutes, the leader killed every round"

$(VENV)/.installed: pyproject.toml scripts/bootstrap-venv.sh
	bash scripts/bootstrap-venv.sh $(VENV)
	touch $@

setup: $(VENV)/.installed

engine:
	bash scripts/ensure-docker.sh

images: engine
	bash scripts/build-images.sh

browser:
	bash scripts/ensure-browser.sh

servers:
	bash scripts/ensure-test-servers.sh

test: setup engine images browser servers
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: setup engine images
	bash scripts/demo.sh $(VENV) $(DEMO_DIR) $(DEMO_LISTEN)

lint: setup
	$(VENV)/bin/ruff check reconciler tests bench
	$(VENV)/bin/mypy reconciler
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) bench/run.py

bench-engine: setup engine images
	PYTHONPATH=. $(PY) bench/big_output.py
	PYTHONPATH=. $(PY) bench/pipeline_run.py
	PYTHONPATH=. $(PY) bench/push_latency.py

screenshots: setup engine images browser
	OVEN_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(VENV)/bin/pytest tests/web/test_live_browser.py -q $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 5000

fuzz: setup
	OVEN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/property -q --timeout 3600 $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO_DIR) .oven-state

.PHONY: soak
soak: setup engine images  ## two daemons for 10 rounds of 2 minutes, the leader SIGKILLed each round
	OVEN_SOAK_ROUNDS=$${OVEN_SOAK_ROUNDS:-10} OVEN_SOAK_SECONDS=$${OVEN_SOAK_SECONDS:-120} \
	  $(VENV)/bin/pytest tests/chaos/test_two_daemons.py -s $(PYTEST_ARGS)
