# Agent Oven — every command a developer or CI needs. `make help` lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= .demo
DEMO_LISTEN ?= 127.0.0.1:8080
PYTEST_ARGS ?=

.PHONY: help setup engine images image-oven browser servers test demo lint bench bench-engine fuzz fuzz-api screenshots clean

help:
	@echo "make demo   - run the reconciler on config-example/ with the status page on $(DEMO_LISTEN)"
	@echo "make test   - install everything needed (engine, images, browser) and run the tests"
	@echo "make lint   - ruff, mypy and the import contracts (layers)"
	@echo "make images - build the example and test images locally"
	@echo "make image-oven - build the daemon's own image agent-oven/oven (docs/deploy.md)"
	@echo "make bench  - every speed figure with its same-run baseline (docs/performance.md; minutes)"
	@echo "make bench-engine - on the real engine: 100 MB of output, a pipeline run, push-to-applied latency,"
	@echo "                    the Swarm executor vs the Docker executor (QUICK=1: a bounded slice)"
	@echo "make fuzz   - the manifest fuzz test with 5000 examples per test (OVEN_FUZZ_EXAMPLES)"
	@echo "make fuzz-api - schemathesis on /api/v1/openapi.json against a real server, 500 examples per endpoint"
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

image-oven: engine
	bash scripts/build-images.sh oven

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

BENCH_READS_ARGS ?=
BENCH_ARGS ?=

bench: setup engine images
	PYTHONPATH=. $(PY) bench/run.py
	PYTHONPATH=. $(PY) bench/starts.py
	PYTHONPATH=. $(PY) bench/git.py $(BENCH_ARGS)
	PYTHONPATH=. $(PY) bench/manifests.py $(BENCH_ARGS)
	PYTHONPATH=. $(PY) bench/reads.py $(BENCH_READS_ARGS)

bench-engine: setup engine images
	PYTHONPATH=. $(PY) bench/big_output.py
	PYTHONPATH=. $(PY) bench/pipeline_run.py
	PYTHONPATH=. $(PY) bench/push_latency.py
	PYTHONPATH=. $(PY) bench/swarm.py $(if $(QUICK),--quick)

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

API_FUZZ_EXAMPLES ?= 500

fuzz-api: setup  ## schemathesis against the write and read API on a real server, many examples
	OVEN_API_FUZZ_EXAMPLES=$(API_FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/api/test_openapi.py -q --timeout 3600 $(PYTEST_ARGS)
