# The two commands the README starts with, and a few more for development.
.PHONY: audit package bench-app bench-ui bench-upload bench-data run test e2e bindings fmt bench fhir-model fuzz update-tools

## Set up what is missing, build, and launch Lakedrop on the seeded sandbox (a headless CLI import without a display).
run:
	scripts/run.sh

## Run every test: lints, Rust, UI units, the real app over WebDriver.
test:
	scripts/test.sh

e2e:
	cd ui && npm run build && npm run build:fake
	cargo build -p lakedrop-desktop --features custom-protocol
	scripts/e2e.sh

## Regenerate ui/src/ipc/bindings.ts from the Rust commands.
bindings:
	LAKEDROP_UPDATE_BINDINGS=1 cargo test -p lakedrop-desktop --test ipc bindings_are_current

## Benchmarks: print their figures (release builds).
bench: bench-data
	cargo bench -p lakedrop-sandbox --bench import
	cargo bench -p lakedrop-core --bench results
	cargo bench -p lakedrop-core --bench repair
	cargo bench -p lakedrop-validate --bench validate
	scripts/bench-upload.sh 1024
	scripts/bench-import.sh
	$(MAKE) bench-ui

# Larger Synthea sets for the validator's benchmark, under target/bench-data/synthea (tests use only samples/).
bench-data:
	python3 scripts/big-inputs.py target/bench-data samples/synthea-10-patients synthea

# Frame times while scrolling a million-row failure table against a thousand-row one, in headless Chromium.
bench-ui:
	scripts/deps.sh --test
	cd ui && npm run build:fake --silent
	cd tests/e2e && node scroll.bench.mjs 3

fmt:
	cargo fmt --all
	cd ui && npm run format

# Regenerates the FHIR R4 structure tables from the official R4 package (hl7.fhir.r4.examples, pinned in
# crates/validate/gen/package.json).
fhir-model:
	cd crates/validate/gen && npm ci --no-audit --no-fund --loglevel=error
	python3 crates/validate/gen/generate.py crates/validate/gen/node_modules/hl7.fhir.r4.examples crates/validate/src/r4/model.rs
