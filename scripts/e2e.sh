#!/usr/bin/env bash
# Runs the real desktop app under Xvfb and drives it over WebDriver (WebKitWebDriver), then the built UI over its
# typed fake backend in headless Chromium (Playwright): keyboard flow, axe, screenshots in both themes.
set -euo pipefail
cd "$(dirname "$0")/.."
export LAKEDROP_APP="${LAKEDROP_APP:-$PWD/target/debug/lakedrop-desktop}"
export LAKEDROP_SAMPLE="${LAKEDROP_SAMPLE:-$PWD/samples/synthea-10-patients}"
cd tests/e2e
rm -rf artifacts
# The whole flow twice: in the light theme, then in the dark one (WebKitGTK follows GTK's theme), each with its
# screenshots under artifacts/<theme>/ and an axe scan of every view.
LAKEDROP_E2E_THEME=light xvfb-run -a -s "-screen 0 1280x800x24" timeout 480 node --test --test-reporter=spec app.test.mjs
GTK_THEME=Adwaita:dark LAKEDROP_E2E_THEME=dark \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 480 node --test --test-reporter=spec app.test.mjs
# Fixing rejected lines: repairs by cause and by hand, re-imported, recorded (light, then dark for the screenshots).
LAKEDROP_E2E_THEME=light xvfb-run -a -s "-screen 0 1280x800x24" timeout 300 node --test --test-reporter=spec repair.test.mjs
GTK_THEME=Adwaita:dark LAKEDROP_E2E_THEME=dark \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 300 node --test --test-reporter=spec repair.test.mjs
# Bringing an export as it is: a folder of per-patient transaction Bundles made from the sample.
bundles=$(mktemp -d)
trap 'rm -rf "$bundles"' EXIT
(cd ../.. && cargo run -q --locked -p lakedrop-core --example synthea-bundles -- "$bundles" >/dev/null)
LAKEDROP_E2E_BUNDLES=$bundles LAKEDROP_E2E_THEME=light \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 240 node --test --test-reporter=spec inputs.test.mjs
# ui/dist-fake is built by the caller (scripts/test.sh, make e2e) with npm run build:fake; the .deb smoke test
# (scripts/smoke-deb.sh) sets LAKEDROP_E2E_APP_ONLY, since it is about the installed app.
if [[ -z "${LAKEDROP_E2E_APP_ONLY:-}" ]]; then
  # The connection picker against real ~/.aws/config profiles (SSO, a role chain) pointed at a served sandbox.
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 240 node --test --test-reporter=spec profiles.test.mjs
  timeout 300 node --test --test-reporter=spec ui.test.mjs
fi
