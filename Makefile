# Two entry points: `make smoke` (the quick start) and `make test` (what CI runs).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: smoke test

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

smoke: $(STAMP)
	$(PY) tools/smoke.py

test: $(STAMP)
	$(PY) -m pytest
