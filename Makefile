# tl_widgets: two commands do everything on a fresh machine (Python 3.10+, Node 20, root for apt).
#   make studio   set up and serve the Studio on the embedded demo (prints the URL)
#   make test     set up (venv, extras, Chromium, lab extension) and run every test
#   make test-fast   the inner loop: every test but the browser, notebook and slow tiers, on both cores
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo studio test test-fast browser-deps bench clean i18n

WEB_CHECK := tl_widgets/core/export/web

$(STAMP): pyproject.toml labextension/package.json $(WEB_CHECK)/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The editable install runs hatch-jupyter-builder, which builds the lab extension with npm
	# and installs it (and the server extension's switch) into the venv.
	$(PY) -m pip install -q -e ".[test,bench,optuna,mlflow,hub,ray]"
	# keras-hub without tensorflow-text (which would add the full `tensorflow` wheel beside tensorflow-cpu): its
	# other dependencies are installed explicitly; image backbones need nothing more.
	$(PY) -m pip install -q --no-deps "keras-hub>=0.32,<0.33"
	$(PY) -m pip install -q "kagglehub!=1.0.1" "kagglesdk==0.1.28" regex sentencepiece tokenizers
	# onnxruntime-web from npm, served from 127.0.0.1 to check onnx-web exports in Chromium.
	npm ci --prefix $(WEB_CHECK) --no-audit --no-fund
	touch $@

setup: $(STAMP)

# Train the embedded demo headless (offline).
demo: setup
	$(VENV)/bin/tl-widgets train --demo

# Serve the Studio (Voilà) on the demo; prints the URL.
studio: setup
	$(VENV)/bin/tl-widgets studio --port $${PORT:-8866} --no-browser

# Debian's Chromium for the browser tests (Playwright's own download does not work offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@# a Chinese font, or the zh-CN pages (and their screenshots) show boxes instead of characters
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-wqy-microhei; }

# Two pytest-xdist workers, each test file whole on one worker (module fixtures stay shared, no file's order is
# split; browser servers take free ports). On 2 cores: ~14 min for every test instead of ~22 serially (README).
XDIST := -n 2 --dist loadfile
test: setup browser-deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -p no:cacheprovider $(XDIST)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/run.py --quick

# Tiers are pytest markers (README, "Tests"): tests/conftest.py marks tests/browser and tests/notebooks by folder.
FAST_TIER := not browser and not notebook and not slow
test-fast: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -p no:cacheprovider -m "$(FAST_TIER)" $(XDIST)

# The message catalogs (tl_widgets/locale): extract every _() string, merge into each language's .po, compile
# the .mo files (committed; tests/core/test_i18n.py checks each .mo matches its .po). Translate in the .po files.
LOCALE := tl_widgets/locale
i18n: setup
	$(VENV)/bin/pybabel extract -F babel.cfg --add-location=file --sort-output --project=tl_widgets --copyright-holder="tl_widgets developers" \
	  -c "Translators:" -o $(LOCALE)/tl_widgets.pot tl_widgets
	$(VENV)/bin/pybabel update -i $(LOCALE)/tl_widgets.pot -d $(LOCALE) -D tl_widgets --no-fuzzy-matching \
	  --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D tl_widgets --statistics

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) tl_widgets/labextension labextension/node_modules $(WEB_CHECK)/node_modules labextension/lib test-artifacts
