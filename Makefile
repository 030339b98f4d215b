# Two targets a new user needs: `make demo` and `make test`.
# Both install the project into .venv from its own files and start the
# services they need if they are down.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install services demo test lint bench

$(BIN)/postline: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/postline

services:
	bash .ci/services

demo: install services
	$(BIN)/postline demo

test: install services
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: install services
	$(BIN)/python bench/campaign_publish.py --messages 10000
	$(BIN)/python bench/mta_drain.py --messages 10000
	$(BIN)/python bench/score_replies.py ../shared/fixtures/bounces/replies.jsonl \
		--predictions var/bench-predictions.jsonl
