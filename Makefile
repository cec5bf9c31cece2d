# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The demo corpus exists on every machine with Python: its standard library, plus this project.
STDLIB := $(shell python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

.PHONY: install demo test bench
install: $(VENV)/.installed

demo: install
	$(PY) main.py collect $(STDLIB) . --output runs/demo/collection
	$(PY) main.py dataset --input runs/demo/collection --output runs/demo/dataset --seq-len 256 --overwrite
	$(PY) main.py train --config training_config.yaml --overwrite

test: install
	$(PY) -m pytest -q -ra

bench: install
	for b in bench/*.py; do $(PY) $$b || exit 1; done
