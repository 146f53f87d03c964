# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench soak lint install browser clean guide-screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Starts the service on SQLite with an emulated VK community (no real VK needed).
run: $(STAMP)
	$(PY) -m proxy migrate
	$(PY) -m proxy bootstrap
	PROXY_DEMO=$${PROXY_DEMO:-true} $(PY) -m proxy serve

# Debian's chromium for the browser tests (the browser a test tool would download cannot be fetched).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

soak: $(STAMP)
	$(PY) -m bench.soak

# The browser tests take the pictures of docs/guide.md; this copies them there.
guide-screenshots: $(STAMP) browser
	$(PY) -m pytest -q tests/test_browser_inbox.py tests/test_browser_audit.py tests/test_browser_stats.py tests/test_browser_admin.py tests/test_browser_journal_readable.py
	mkdir -p docs/guide && cp test-artifacts/guide/*.png docs/guide/

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
