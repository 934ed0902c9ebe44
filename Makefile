# make run   - set up and serve the example shop under gunicorn (http://127.0.0.1:8000)
# make test  - set up (venv, Python and Debian packages) and run the whole test-suite
# make bench - the core and serving benchmarks (mendel-core / mendel-middleware via npm if node exists)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup system-deps test run bench

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml setup.py mendel_py/core/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,test]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

test: setup system-deps
	$(PY) -m pytest -q

run: setup
	$(VENV)/bin/gunicorn -c examples/gunicorn.conf.py

bench: setup
	$(PY) benchmarks/bench_core.py
	$(PY) benchmarks/bench_serve.py
	$(PY) benchmarks/bench_build.py
	$(PY) benchmarks/bench_large.py
