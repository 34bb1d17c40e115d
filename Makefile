# Two entry points for a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench manifest clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/taskbot run

# Debian's chromium for the dashboard's browser tests (root installs it; others are told)
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else echo "note: install Debian's chromium to run the dashboard's browser tests"; fi

# Debian's Dovecot for the mail tests' real IMAP server (each test starts its own)
/usr/sbin/dovecot:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null; \
	else echo "note: install Debian's dovecot-imapd to run the mail tests' IMAP server"; fi

# GUARD_AT: the date guard runs the CLI and delivery tests once more with the machine's
# clock at that instant (a DST change, years ahead), so no test comes to depend on today
GUARD_AT ?= 2036-10-26 00:40 UTC

test: $(STAMP) /usr/bin/chromium /usr/sbin/dovecot
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest
	scripts/test-at '$(GUARD_AT)' tests/bot tests/delivery

# slack-app-manifest.yml from the command registry (a test fails when they differ)
manifest: $(STAMP)
	$(BIN)/python -m bot.slack.manifest > slack-app-manifest.yml

bench: $(STAMP)
	$(BIN)/python bench/commands.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
