# Two commands: `make demo` runs the product, `make test` runs the whole suite.
# The demo serves pages, API and the /ws/ websockets from one uvicorn process: its in-memory
# channel layer does not cross processes. HTTP goes through Django's WSGI handler in threads
# (config/asgi.py). Production runs gunicorn sync workers for HTTP and uvicorn for /ws/ with
# Redis between them (docs/deploy.md; measured in bench/RESULTS.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The settings derive the demo's SITE_URL (links in emails) from it.
export PORT
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: demo test install lint messages bench bench-web clean

$(VENV)/.installed: requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed (set PYTHON=python3.12 to use another 3.11-3.13)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "  Shop:   http://127.0.0.1:$(PORT)/"
	@echo "  Admin:  http://127.0.0.1:$(PORT)/admin/"
	@echo "  Sign in as alice@example.com (customer), bob@example.com (support) or"
	@echo "  carol@example.com (admin); the password is demo-pass-1234 for all three."
	@echo "  Test card 4242 4242 4242 4242 pays; 4000 0000 0000 9995 is declined."
	@echo "  Email lands in var/outbox/. Ctrl-C stops everything."
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(VENV)/bin/celery -A config worker --loglevel=INFO --pool=solo --without-gossip --without-mingle & \
	$(VENV)/bin/celery -A config beat --loglevel=INFO & \
	$(VENV)/bin/uvicorn --no-server-header --lifespan off --host 127.0.0.1 --port $(PORT) \
		--workers 1 config.asgi:application

# One file or test: make test ARGS="tests/payments/test_wallet.py -k race"
test: install
	$(PY) -m pytest $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

messages: install
	$(PY) manage.py makemessages --locale zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*'
	$(PY) manage.py compilemessages --locale zh_Hans --ignore '.venv/*'

bench: install
	$(PY) bench/run.py

# The production servers side by side under wrk (bench/web.py; results in bench/RESULTS.md).
# BENCH_ARGS="--pg postgres://..." adds the pay submit on PostgreSQL.
bench-web: install
	$(PY) bench/web.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
