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
# chromium-l10n: the Russian pictures need Chromium's Russian, in which it draws a date field (dd.mm.yyyy).
browser:
	@{ command -v chromium >/dev/null 2>&1 && test -e /usr/lib/chromium/locales/ru.pak; } || { \
	  echo "installing Debian's chromium and its languages for the browser tests"; \
	  apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium chromium-l10n >/dev/null; }

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

soak: $(STAMP)
	$(PY) -m bench.soak

# The browser tests take the pictures of docs/guide.md (test-artifacts/guide/<name>-<ru|en>-<desktop|phone>.png);
# this runs every one of them and puts their pictures in docs/guide/ in place of the old ones.
guide-screenshots: $(STAMP) browser
	rm -rf test-artifacts/guide
	$(PY) -m pytest -q $(sort $(wildcard tests/test_browser_*.py))
	mkdir -p docs/guide && rm -f docs/guide/*.png && cp test-artifacts/guide/*.png docs/guide/

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
