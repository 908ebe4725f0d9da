# The two commands of a fresh machine: `make run` and `make test`.
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck layers pytest fuzz fault-matrix bench screenshots clean installer deb installer-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Start the station on the built-in local instance (data in the OS user-data folder,
## or QL_STATION_HOME / --data-dir).
run: $(STAMP)
	$(BIN)/ql-station gui --demo

## Lint, type-check, layer contracts, then the whole suite offscreen.
test: lint typecheck layers pytest

lint: $(STAMP)
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

## The fuzz suite's long profile (well over 100,000 cases); prints the cases run and the crashes found.
fuzz: $(STAMP)
	QL_FUZZ_PROFILE=long QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/fuzz -q

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## Every pipeline step x fault x 4 trials on virtual boards: crashes, lost DeviceIDs, inconsistent records.
fault-matrix: $(STAMP)
	$(BIN)/python benchmarks/fault_matrix.py $(FAULT_MATRIX_ARGS)

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python docs/make_screenshots.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python docs/make_records_screenshots.py

## The installer: a frozen onedir bundle (build_installer.spec) built in its own clean environment
## (runtime + server + PyInstaller only, none of the test tools), then a Debian package of it.
INSTALLER_VENV ?= .venv-installer
IBIN    := $(INSTALLER_VENV)/bin
ISTAMP  := $(INSTALLER_VENV)/.installed
DIST    := build/dist
BUNDLE  := $(DIST)/quarklink-station

$(ISTAMP): pyproject.toml
	rm -rf $(INSTALLER_VENV)
	$(PYTHON) -m venv $(INSTALLER_VENV)
	$(IBIN)/python -m pip install --quiet --upgrade pip
	$(IBIN)/python -m pip install --quiet '.[server,build]'
	touch $(ISTAMP)

installer: $(ISTAMP)
	rm -rf $(BUNDLE)
	$(IBIN)/pyinstaller --noconfirm --log-level WARN --distpath $(DIST) --workpath build/pyinstaller \
		build_installer.spec
	@du -sh $(BUNDLE)

## build/dist/quarklink-station_<version>_<arch>.deb from the bundle (needs dpkg-deb).
deb: installer
	$(PYTHON) packaging/build_deb.py --bundle $(BUNDLE) --out $(DIST)

## Bundle + package, unpacked into a temporary root, then the frozen program run from there.
installer-check: installer
	$(PYTHON) packaging/installer_check.py --bundle $(BUNDLE) --out $(DIST)

clean:
	rm -rf $(VENV) $(INSTALLER_VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
