# Two commands on a fresh machine: `make demo` (suite up with demo data) and `make test`.
SHELL := /bin/bash
STACK := deploy/scripts/stack.sh

.PHONY: demo up down status test lint typecheck contracts unit integration browser install bench clean-db

demo: ## Install what is missing, start PostGIS, Redis, services, worker, beat; load demo data
	@bash $(STACK) up

up: demo

down: ## Stop everything `make demo` started
	@bash $(STACK) down

status: ## What runs where
	@bash $(STACK) status

install:
	@bash $(STACK) install

test: ## Same setup, then lint, type check, import contracts, unit, integration and browser tests
	@bash $(STACK) test-env
	@bash deploy/scripts/test.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy

contracts:
	.venv/bin/lint-imports

bench: ## Benchmarks against peers (needs `.venv/bin/pip install -e .[bench]`)
	@bash deploy/scripts/bench.sh
