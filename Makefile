# The two commands the README starts with, and a few more for development.
.PHONY: run test e2e bindings fmt bench

## Set up what is missing, build, and launch Lakedrop on the seeded sandbox (a headless CLI import without a display).
run:
	scripts/run.sh

## Run every test: lints, Rust, UI units, the real app over WebDriver.
test:
	scripts/test.sh

e2e:
	cargo build -p lakedrop-desktop --features custom-protocol
	scripts/e2e.sh

## Regenerate ui/src/ipc/bindings.ts from the Rust commands.
bindings:
	LAKEDROP_UPDATE_BINDINGS=1 cargo test -p lakedrop-desktop --test ipc bindings_are_current

## Benchmarks: print their figures (release builds).
bench:
	cargo bench -p lakedrop-sandbox --bench import
	cargo bench -p lakedrop-core --bench results

fmt:
	cargo fmt --all
	cd ui && npm run format
