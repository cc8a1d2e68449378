# CTR Studio: `make run` starts the app on its embedded defaults; `make test` runs the test suite.
# Both create a virtualenv in .venv on first use. See README.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
export DEBUG ?= 1

.PHONY: run install migrate demo-data web worker test test-quality test-fast lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo-data: migrate
	$(PY) manage.py create_demo_user
	$(PY) manage.py load_demo_data

WORKER_LOG ?= var/worker.log

## Web server and a real Celery worker on SQLite and the file-system broker (Ctrl-C stops both).
## The terminal shows the web server; everything the worker prints goes to $(WORKER_LOG) only.
run: demo-data
	@mkdir -p $(dir $(WORKER_LOG))
	@echo "Starting a Celery worker (queue cpu) and the web server on http://127.0.0.1:$(PORT)/"
	@echo "Log in as demo / demo-password"
	@echo "Worker log: $(WORKER_LOG) (follow it with: tail -f $(WORKER_LOG))"
	@$(VENV)/bin/celery -A ctrsite worker -Q cpu -c 1 -n cpu@%h --loglevel=INFO >>$(WORKER_LOG) 2>&1 & \
	  WORKER=$$!; trap "kill $$WORKER 2>/dev/null; wait $$WORKER 2>/dev/null" EXIT INT TERM; \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

web: migrate
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: install
	$(VENV)/bin/celery -A ctrsite worker -Q cpu -c 1 -n cpu@%h --loglevel=INFO

## The whole test suite (real worker processes, headless Chromium when installed, Postgres when DATABASE_URL says so).
test: install
	$(PY) -m playwright --version >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

test-quality: install
	$(PY) -m pytest -m quality $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: install
	$(PY) bench/ctr_tabular.py

clean:
	rm -rf var/test staticfiles .pytest_cache
