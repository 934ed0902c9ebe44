# make run   - set up and serve the example shop under gunicorn (http://127.0.0.1:8000)
# make lint  - ruff (lint and import order) and mypy over the package
# make test  - set up (venv, Python and Debian packages), lint, and run the whole test-suite with
#              DeprecationWarnings as errors (in the server subprocesses too, through the environment)
# make bench - the core and serving benchmarks (mendel-core / mendel-middleware via npm if node exists)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup system-deps lint test run bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py mendel_py/core/_speedups.c mendel_py/compiler/minify/_splice.c scripts/quickjs-from-source.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,test]'
	bash scripts/quickjs-from-source.sh $(PY)
	touch $@

system-deps:
	bash scripts/system-deps.sh

lint: setup
	$(VENV)/bin/ruff check mendel_py tests benchmarks
	$(VENV)/bin/mypy mendel_py

test: lint system-deps
	PYTHONWARNINGS=error::DeprecationWarning $(PY) -m pytest -q

run: setup
	$(VENV)/bin/gunicorn -c examples/gunicorn.conf.py

bench: setup
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_serve.py
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_large.py
