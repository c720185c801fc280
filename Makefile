# The two set-up commands of the README are `make demo` and `make test`; both work on a
# fresh machine with Rust and Python 3.10+ (they make their own virtualenv in .venv).
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO_OUT ?= nova-ft-demo

.PHONY: demo test dev lint lint-rust lint-python test-rust test-python bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "maturin>=1.9.4,<2"

## demo: install nova_ft (release build) and run the main job: the whole tutorial, locally.
demo: $(PY)
	$(PY) -m pip install -q .
	$(BIN)/nova-ft demo --out $(DEMO_OUT)

## dev: build the extension (dev profile) into .venv with the test tools.
dev: $(PY)
	$(BIN)/maturin develop --extras test

## test: every check CI runs: Rust lints and tests, the build, Python lints, stubs, pytest.
test: lint-rust test-rust dev lint-python test-python

lint-rust:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --no-default-features -- -D warnings

test-rust:
	cargo test --no-default-features

lint-python:
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(PY) -m mypy.stubtest nova_ft._nova_ft

test-python:
	$(BIN)/pytest

lint: lint-rust lint-python

## bench: speed against baselines run side by side (release build; the emulator bench needs wrk).
bench: $(PY)
	$(BIN)/maturin develop --release --extras test
	$(PY) benches/validate_bench.py
	$(PY) benches/emulator_throughput.py

clean:
	rm -rf $(VENV) target $(DEMO_OUT)
