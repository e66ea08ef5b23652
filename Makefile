# hotline — the two commands: `make demo` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Test processes: each starts its own Kafka and ClickHouse; tests mostly wait on them, so two
# finish in ~70 % of one's time on 2 cores (README). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install bench-deps lint format test demo up down status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv and install hotline with its dev tools

$(VENV)/.installed: pyproject.toml
	bash infra/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/hotline dashboard assets
	touch $@

bench-deps: install ## add the benchmarks' peer (Quix Streams, for bench/streams_bench.py) to .venv
	@# the peer caps pydantic below what `install` chose: hotline keeps its own (pip warns)
	kept=$$($(BIN)/pip freeze | grep -E '^pydantic(-settings)?=='); \
	$(BIN)/pip install --quiet -e '.[bench]' && $(BIN)/pip install --quiet $$kept
	@echo "bench-deps: pip's complaint above about quixstreams' pydantic cap is expected; the peer runs on hotline's pydantic"

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint ## lint, then the whole suite (tests start and stop their own Kafka/ClickHouse)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

up: install ## start the embedded stack (Kafka + ClickHouse) and provision it
	$(BIN)/hotline stack up

down: ## stop the demo's processes and the embedded stack (data stays in .hotline/)
	BIN=$(BIN) bash infra/demo.sh down
	$(BIN)/hotline stack down

status: ## show the embedded stack
	$(BIN)/hotline stack status

demo: install ## the whole flow, live: stack, streams, sink, a real-time simulation, dashboard
	BIN=$(BIN) bash infra/demo.sh up

clean: ## remove the virtualenv and caches (keeps .hotline data)
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
