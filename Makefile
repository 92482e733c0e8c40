# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-cluster lint browser bench screenshots clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kodeord demo

# The tests of commits, guards, sending and the televote run a second time on a Redis Cluster (3 primaries with a
# replica each, started from the embedded redis-server for the run and stopped after it); `make test-cluster`
# runs every test on one. The failover test starts a cluster of its own in either run.
CLUSTER_TESTS := tests/commit tests/decide tests/outbound tests/plugins/test_voting.py

test: lint browser
	$(BIN)/pytest -q
	KODEORD_TEST_CLUSTER=1 $(BIN)/pytest -q --ignore=tests/commit/test_failover.py $(CLUSTER_TESTS)

test-cluster: lint browser
	KODEORD_TEST_CLUSTER=1 $(BIN)/pytest -q

# The console's browser tests drive Debian's chromium through chromium-driver: installed here when missing
# (with apt, as root); anywhere else this says what to install and stops.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver for the console's browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "make test needs chromium and chromedriver for the console's browser tests." >&2; \
		echo "On Debian or Ubuntu, as root: apt-get install chromium chromium-driver; then run make test again." >&2; \
		exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check core plugins tests bench examples
	$(BIN)/ruff format --check core plugins tests bench examples
	$(BIN)/mypy core plugins

# The pictures of docs/console.md, taken by the console's browser tests.
screenshots: $(STAMP) browser
	KODEORD_SCREENSHOTS=docs/images $(BIN)/pytest -q tests/web/console/test_tour.py \
		tests/web/console/test_live_browser.py tests/plugins/test_addressbook_browser.py tests/web/test_simulator_browser.py

bench: $(STAMP)
	$(BIN)/python bench/rules_load.py
	$(BIN)/python bench/inbound.py

clean:
	rm -rf $(VENV) var build *.egg-info
