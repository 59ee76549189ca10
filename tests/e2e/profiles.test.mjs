// The connection picker in a real window, against real ~/.aws/config profiles: a served sandbox stands in for
// AWS (every profile's endpoint_url names it), and the app connects with an IAM Identity Center profile (signing
// in through the browser, which a stand-in xdg-open "approves" by opening the page) and with a role chain.
//
// Needs the built desktop binary (as app.test.mjs), the CLI binary for `lakedrop sandbox serve`, and the AWS CLI
// (target/awscli, installed by scripts/deps.sh --test) to create the role as an administrator would.
//
// Environment: LAKEDROP_APP, LAKEDROP_CLI (default <repo>/target/debug/lakedrop), LAKEDROP_AWS_CLI (default
// <repo>/target/awscli/bin/aws), LAKEDROP_E2E_SKIP_MISSING=1, DISPLAY (else xvfb-run is expected around it).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DRIVER, openApp, startDriver, stopDriver, waitForDriver } from "./driver.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const APP = resolve(process.env.LAKEDROP_APP ?? join(REPO, "target/debug/lakedrop-desktop"));
const CLI = resolve(process.env.LAKEDROP_CLI ?? join(REPO, "target/debug/lakedrop"));
const AWS = resolve(process.env.LAKEDROP_AWS_CLI ?? join(REPO, "target/awscli/bin/aws"));
const FILE = join(REPO, "samples/synthea-10-patients/Organization.000.ndjson");
const ARTIFACTS = join(HERE, "artifacts", "profiles");
const WATCHDOG = 200_000;

const byTestId = (id) => `[data-testid="${id}"]`;
let missing = "";
let home = "";
let server = null;
let driver = null;
let browser = null;

const watchdog = setTimeout(() => {
  console.error(`profiles e2e: still running after ${WATCHDOG / 1000} s; stopping`);
  if (driver) stopDriver(driver);
  server?.kill("SIGKILL");
  process.exit(1);
}, WATCHDOG);
watchdog.unref();

/** `lakedrop sandbox serve` on a free port; resolves to the environment it prints. */
function serve(data) {
  return new Promise((res, rej) => {
    server = spawn(CLI, ["sandbox", "serve", "--port", "0", "--data", data], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    server.on("error", rej);
    const env = {};
    const lines = createInterface({ input: server.stdout });
    lines.on("line", (line) => {
      const m = /^export (\w+)=(.*)$/.exec(line);
      if (m) env[m[1]] = m[2];
      if (line.startsWith("role")) res(env);
    });
    setTimeout(() => rej(new Error("the sandbox did not start within 30 s")), 30_000).unref();
  });
}

before(async () => {
  for (const [path, what] of [
    [APP, "the app binary"],
    [CLI, "the CLI binary"],
    [AWS, "the AWS CLI (scripts/deps.sh --test)"],
  ]) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      missing ||= `${what} ${path} is missing`;
    }
  }
  if (missing) {
    if (process.env.LAKEDROP_E2E_SKIP_MISSING === "1") return;
    throw new Error(missing);
  }
  assert.ok(existsSync(DRIVER), `${DRIVER} missing: apt-get install webkit2gtk-driver`);
  mkdirSync(ARTIFACTS, { recursive: true });
  home = mkdtempSync(join(tmpdir(), "lakedrop-e2e-home-"));
  const env = await serve(join(home, "sandbox"));
  const endpoint = env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION;
  // The administrator's part: a role the account's keys may assume.
  const trust = {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" },
    ],
  };
  execFileSync(
    AWS,
    [
      "iam",
      "create-role",
      "--region",
      region,
      "--role-name",
      "Analyst",
      "--assume-role-policy-document",
      JSON.stringify(trust),
    ],
    {
      env: { ...process.env, ...env, AWS_CONFIG_FILE: "/dev/null", AWS_SHARED_CREDENTIALS_FILE: "/dev/null" },
    },
  );
  // What `aws configure sso` and `aws configure` write.
  mkdirSync(join(home, ".aws"), { recursive: true });
  writeFileSync(
    join(home, ".aws/config"),
    `[profile corp-sso]
sso_session = corp
sso_account_id = 000000000000
sso_role_name = Analyst
region = ${region}
endpoint_url = ${endpoint}

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = ${region}
sso_registration_scopes = sso:account:access

[profile base]
region = ${region}
endpoint_url = ${endpoint}
aws_access_key_id = ${env.AWS_ACCESS_KEY_ID}
aws_secret_access_key = ${env.AWS_SECRET_ACCESS_KEY}

[profile analyst]
role_arn = arn:aws:iam::000000000000:role/Analyst
source_profile = base
region = ${region}
endpoint_url = ${endpoint}
`,
  );
  // The person's browser: opens the verification page (which approves, as the person would) and notes it.
  const bin = join(home, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "xdg-open"),
    `#!/bin/sh\necho "$1" >> "${join(home, "opened.txt")}"\nexec "${process.execPath}" -e 'fetch(process.argv[1]).catch(() => process.exit(1))' "$1"\n`,
    { mode: 0o755 },
  );

  const started = await startDriver(
    {
      HOME: home,
      PATH: `${bin}:${process.env.PATH}`,
      LAKEDROP_DATA_DIR: join(home, "lakedrop"),
      AWS_CONFIG_FILE: join(home, ".aws/config"),
    },
    "ignore",
  );
  driver = started.child;
  await waitForDriver(started.port);
  browser = await openApp(started.port, APP, [FILE], {
    connectionRetryTimeout: 60_000,
    connectionRetryCount: 0,
    waitforTimeout: 10_000,
  });
});

after(async () => {
  try {
    if (browser) await browser.deleteSession();
  } catch (e) {
    console.error(e.message);
  }
  if (driver) stopDriver(driver);
  server?.kill("SIGTERM");
  if (home) rmSync(home, { recursive: true, force: true });
  clearTimeout(watchdog);
});

async function connectTo(b, profile) {
  await b.$(byTestId("profile")).selectByAttribute("value", profile);
  await b.$("button=Connect").click();
}

async function connectedTo(b, label) {
  try {
    await b.waitUntil(async () => (await b.$(".connected").getText()).includes(`Connected to ${label}`), {
      timeout: 30_000,
      timeoutMsg: `never connected to ${label}`,
    });
  } catch (e) {
    await b.saveScreenshot(join(ARTIFACTS, `failed-${label}.png`));
    throw e;
  }
}

test(
  "the picker lists the profiles with their kind and Region and connects with each",
  { timeout: 180_000 },
  async (t) => {
    if (missing) {
      t.skip(missing);
      return;
    }
    const b = browser;
    const next = await b.$(byTestId("import-button"));
    await next.waitForClickable({ timeout: 60_000, timeoutMsg: "the file never validated" });
    await next.click();
    const picker = await b.$(byTestId("profile"));
    await picker.waitForDisplayed({ timeout: 15_000, timeoutMsg: "no destination view" });
    await b.waitUntil(async () => (await picker.$$("option")).length === 4, {
      timeout: 15_000,
      timeoutMsg: "the three profiles were not listed",
    });
    const options = [];
    for (const option of await picker.$$("option")) options.push(await option.getText());
    const region = /(us|eu|ap)-[a-z]+-\d/.exec(options.join(" "))?.[0];
    assert.ok(region, `a Region beside the profiles: ${options.join(" | ")}`);
    assert.ok(
      options.some((o) => o.startsWith("corp-sso (") && o.includes("Identity Center") && o.includes(region)),
      options.join(" | "),
    );
    assert.ok(
      options.some((o) => o.startsWith("analyst (") && o.includes("role") && o.includes(region)),
      options.join(" | "),
    );
    await b.saveScreenshot(join(ARTIFACTS, "01-profiles.png"));

    // IAM Identity Center, never signed in on this machine: the app offers its own sign-in.
    await connectTo(b, "corp-sso");
    const box = await b.$(byTestId("sign-in"));
    await box.waitForDisplayed({ timeout: 30_000, timeoutMsg: "no sign-in offered" });
    await b.saveScreenshot(join(ARTIFACTS, "02-sign-in-offered.png"));
    await box.$("button*=Sign in").click();
    await connectedTo(b, "corp-sso");
    await b.saveScreenshot(join(ARTIFACTS, "03-signed-in.png"));
    const opened = readFileSync(join(home, "opened.txt"), "utf8");
    assert.match(opened, /\/sso\/approve\?user_code=/, "the browser was sent to the verification page");
    const cache = join(home, ".aws/sso/cache");
    assert.ok(existsSync(cache), "the token went to the AWS CLI's cache");
    await b.waitUntil(async () => (await b.$(byTestId("datastore")).getValue()) !== "", {
      timeout: 15_000,
      timeoutMsg: "the SSO profile listed no data store",
    });

    // A role assumed through its source profile.
    await connectTo(b, "analyst");
    await connectedTo(b, "analyst");
    await b.waitUntil(async () => (await b.$(byTestId("datastore")).getValue()) !== "", {
      timeout: 15_000,
      timeoutMsg: "the role profile listed no data store",
    });
    await b.saveScreenshot(join(ARTIFACTS, "04-role.png"));
  },
);
