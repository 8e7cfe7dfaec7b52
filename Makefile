# Two commands do everything on a fresh machine with Python 3.11:
#   make demo   set up, then run the main job end to end on DuckDB with sample data
#   make test   set up, then run every test
#   make bench  set up, then benchmark the pipeline (SIZE=S|M|L, default S) into docs/benchmarks.md
# and `make dagster` starts the Dagster UI on the same warehouse and run history (http://127.0.0.1:3000).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
PYTEST_ARGS ?=
TEST_WORKERS ?= 2
SIZE ?= S
BENCH_ARGS ?=

.PHONY: install demo dagster test bench lint format docs-contract clean pg-up pg-down

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/segmentation demo $(DEMO_ARGS)

dagster: $(STAMP)
	@test -f .dagster/dagster.yaml || { mkdir -p .dagster && cp orchestration/dagster_defs/dagster.yaml .dagster/; }
	DAGSTER_HOME=$(CURDIR)/.dagster $(BIN)/dagster dev

# Two pytest workers (pytest-xdist), one test file each at a time: a dbt build keeps about one core busy,
# and a file's module-scoped warehouses are built once. TEST_WORKERS=0 runs in one process.
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

# L (1M people, ~30M events) needs about 20 GB of memory and 10+ minutes; CI runs only S.
bench: $(STAMP)
	$(BIN)/python -m orchestration.benchmarks.pipeline --size $(SIZE) $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check orchestration tests
	$(BIN)/sqlfluff lint models tests/dbt

format: $(STAMP)
	$(BIN)/ruff check --fix orchestration tests
	$(BIN)/sqlfluff fix models tests/dbt

docs-contract: $(STAMP)
	$(BIN)/segmentation contract --write

# The project's own PostgreSQL server (installed with apt-get when missing), in .postgres/ on loopback.
pg-up:
	scripts/postgres.sh up

pg-down:
	scripts/postgres.sh down

clean:
	rm -rf target logs warehouse data .pytest_cache .dagster
