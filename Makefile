# Two commands: `make run` (app on SQLite with demo data) and `make test` (the whole suite, both databases).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 4
PYTEST_ARGS ?=

.PHONY: install run serve test test-sqlite test-postgres lint translations extract-messages browser-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

translations: $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -d childcare/translations -f >/dev/null 2>&1 || \
		$(VENV)/bin/pybabel compile -d childcare/translations

extract-messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 -o childcare/translations/messages.pot --no-location --sort-output .
	$(VENV)/bin/pybabel update -i childcare/translations/messages.pot -d childcare/translations --no-fuzzy-matching --ignore-obsolete

run: install translations
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) run --host 127.0.0.1 --port 5000

serve: install translations
	@mkdir -p instance
	@test -n "$$SECRET_KEY" || test -s instance/secret_key || (umask 077 && $(PY) -c "import secrets; print(secrets.token_hex(32))" > instance/secret_key)
	SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" CHILDCARE_ENV=production $(FLASK) db upgrade
	SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" CHILDCARE_ENV=production \
		$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) --worker-class sync --backlog 2048 \
		--timeout 120 --keep-alive 2 $(if $(ACCESS_LOG),--access-logfile -,) wsgi:app

lint: install
	$(PY) -m ruff check .

browser-deps:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) || echo "chromium is missing: browser tests will be skipped"; }

test: install translations browser-deps lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install translations
	@echo "== test suite on SQLite =="
	TEST_DATABASE_URL= $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install translations
	@url="$${TEST_POSTGRES_URL:-$$($(PY) tests/support/ensure_postgres.py)}"; \
	if [ -z "$$url" ]; then echo "PostgreSQL is not reachable: set TEST_POSTGRES_URL"; exit 1; fi; \
	echo "== test suite on PostgreSQL =="; \
	TEST_DATABASE_URL="$$url" $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
	find childcare/translations -name '*.mo' -delete
