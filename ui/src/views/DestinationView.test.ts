import { flushSync, mount, tick, unmount } from "svelte";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Check } from "../ipc";
import { fakeBackend, resetBackend, sendOnChannel } from "../ipc/testing";
import { dest, resetDestination } from "../state/destination.svelte";
import { checked, resetFiles } from "../state/files.svelte";
import { importer, resetImporter } from "../state/importer.svelte";
import { sampleReport } from "../test/fixtures";
import DestinationView from "./DestinationView.svelte";

let component: ReturnType<typeof mount> | null = null;

function render(): HTMLElement {
  const target = document.createElement("div");
  document.body.appendChild(target);
  component = mount(DestinationView, { target });
  flushSync();
  return target;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await tick();
    await new Promise((r) => setTimeout(r, 0));
  }
  flushSync();
}

const ROLE = "arn:aws:iam::000000000000:role/LakedropSandboxImport";
const STORE = "8a4077553e9a485ad889c1a89c7541f0";

function checksFor(role: unknown): Check[] {
  const ok = role === ROLE;
  return [
    {
      id: "datastore-active",
      status: "pass",
      detail: "data store lakedrop-sandbox is ACTIVE",
      fix: null,
    },
    {
      id: "role-trust",
      status: ok ? "pass" : "fail",
      detail: ok ? "role trusts HealthLake" : "role Typo does not exist",
      fix: ok ? null : "create the role with the trust policy Lakedrop prints",
    },
  ];
}

function backend(
  calls: [string, Record<string, unknown>][],
  status: Record<string, unknown> = {},
): void {
  let destination: Record<string, unknown> | null = null;
  fakeBackend((cmd, args) => {
    calls.push([cmd, args]);
    switch (cmd) {
      case "profiles":
        return [{ name: "work", kind: "sso", region: "eu-west-1" }];
      case "connection_status":
        return {
          kind: "sandbox",
          label: "Sandbox",
          region: "us-east-1",
          endpoint: "http://x",
          destination: null,
          remembered: null,
          level: null,
          ...status,
        };
      case "datastores":
        return [
          {
            id: STORE,
            name: "lakedrop-sandbox",
            status: "ACTIVE",
            region: "us-east-1",
            selectable: true,
          },
          {
            id: "b".repeat(32),
            name: "being-made",
            status: "CREATING",
            region: "us-east-1",
            selectable: false,
          },
        ];
      case "kms_keys":
        return [
          {
            keyId: "k1",
            arn: "arn:aws:kms:us-east-1:000000000000:key/k1",
            aliases: ["alias/lakedrop-sandbox"],
            description: "",
            enabled: true,
            symmetric: true,
            region: "us-east-1",
            selectable: true,
          },
        ];
      case "buckets":
        return [
          { name: "lakedrop-input", region: "us-east-1" },
          { name: "lakedrop-output", region: "us-east-1" },
        ];
      case "remembered_role":
        return "arn:aws:iam::000000000000:role/Typo";
      case "set_destination":
        destination = args.destination as Record<string, unknown>;
        return {
          ...destination,
          kind: "sandbox",
          label: "Sandbox",
          region: "us-east-1",
          endpoint: null,
          datastoreName: "lakedrop-sandbox",
          outputBucket: "lakedrop-output",
        };
      case "preflight":
        return checksFor(destination?.roleArn);
      case "start_import":
        return new Promise(() => {}); // stays in flight
      default:
        return null;
    }
  });
}

/** What `use_connection` and `connection_status` answer on a connection with no destination chosen yet. */
function connectedTo(
  kind: "sandbox" | "aws",
  label: string,
  region: string,
): Record<string, unknown> {
  return { kind, label, region, endpoint: null, destination: null, remembered: null, level: null };
}

describe("DestinationView", () => {
  beforeEach(() => {
    resetDestination();
    resetFiles();
    resetImporter();
    checked.files = sampleReport().files;
  });
  afterEach(() => {
    if (component) unmount(component);
    component = null;
    document.body.innerHTML = "";
    resetBackend();
  });

  it("preselects an active data store, a usable key and the remembered role", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    backend(calls);
    const root = render();
    await settle();
    const store = root.querySelector<HTMLSelectElement>('[data-testid="datastore"]');
    expect(store?.value).toBe(STORE);
    const creating = [...(store?.options ?? [])].find((o) => o.value === "b".repeat(32));
    expect(creating?.disabled).toBe(true);
    expect(creating?.textContent).toContain("CREATING");
    expect(dest.choices.kmsKeyId).toBe("arn:aws:kms:us-east-1:000000000000:key/k1");
    expect(root.querySelector<HTMLInputElement>('[data-testid="role-arn"]')?.value).toContain(
      "role/Typo",
    );
    expect(root.querySelector<HTMLButtonElement>('[data-testid="start-import"]')?.disabled).toBe(
      true,
    );
  });

  it("comes back to the destination and level last chosen, while they can still be chosen", async () => {
    const remembered = {
      datastoreId: STORE,
      kmsKeyId: "alias/lakedrop-sandbox",
      inputBucket: "lakedrop-output",
      outputUri: "s3://lakedrop-output/mine/",
      roleArn: ROLE,
    };
    backend([], { remembered, level: "minimal" });
    const root = render();
    await settle();
    expect(dest.choices).toEqual({
      ...remembered,
      kmsKeyId: "arn:aws:kms:us-east-1:000000000000:key/k1",
    });
    expect(root.querySelector<HTMLSelectElement>('[data-testid="level"]')?.value).toBe("minimal");
    expect(root.querySelector<HTMLInputElement>('[data-testid="role-arn"]')?.value).toBe(ROLE);

    // A remembered data store that is gone falls back to what can be chosen now.
    if (component) unmount(component);
    resetDestination();
    backend([], { remembered: { ...remembered, datastoreId: "c".repeat(32) } });
    render();
    await settle();
    expect(dest.choices.datastoreId).toBe(STORE);
    expect(dest.choices.outputUri).toBe("s3://lakedrop-input/lakedrop-output/");
  });

  it("explains a failed check, and once fixed, starts the import with the level and name chosen", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    backend(calls);
    const root = render();
    await settle();
    const run = root.querySelector<HTMLButtonElement>('[data-testid="run-checks"]');
    run?.click();
    await settle();
    expect(calls).toContainEqual(["preflight", { fileCount: 13 }]);
    const failed = root.querySelector('[data-check="role-trust"]');
    expect(failed?.getAttribute("data-status")).toBe("fail");
    expect(failed?.textContent).toContain("Create the role with the trust policy");
    expect(root.querySelector<HTMLButtonElement>('[data-testid="start-import"]')?.disabled).toBe(
      true,
    );
    expect(root.textContent).toContain("Fix the failed checks");

    const role = root.querySelector<HTMLInputElement>('[data-testid="role-arn"]');
    if (!role) throw new Error("no role field");
    role.value = ROLE;
    role.dispatchEvent(new Event("input"));
    flushSync();
    expect(root.textContent).toContain("The choices changed since these checks");
    run?.click();
    await settle();
    expect(root.querySelector('[data-check="role-trust"]')?.getAttribute("data-status")).toBe(
      "pass",
    );

    const level = root.querySelector<HTMLSelectElement>('[data-testid="level"]');
    if (!level) throw new Error("no level");
    level.value = "minimal";
    level.dispatchEvent(new Event("change"));
    const name = root.querySelector<HTMLInputElement>('[data-testid="job-name"]');
    if (!name) throw new Error("no name");
    name.value = "weekly load";
    name.dispatchEvent(new Event("input"));
    flushSync();
    const start = root.querySelector<HTMLButtonElement>('[data-testid="start-import"]');
    expect(start?.disabled).toBe(false);
    start?.click();
    await settle();
    const request = calls.find(([cmd]) => cmd === "start_import")?.[1].request;
    expect(request).toMatchObject({ jobName: "weekly load", validationLevel: "minimal" });
    expect((request as { paths: string[] }).paths).toHaveLength(14);
    expect(importer.opId).not.toBeNull();
  });

  it("asks for the MFA code a profile's role needs and connects with it", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    backend(calls);
    const inner = calls;
    // The profile answers mfa-required until a code comes with it.
    fakeBackend((cmd, args) => {
      inner.push([cmd, args]);
      if (cmd === "profiles") return [{ name: "audit", kind: "assume-role", region: "eu-west-1" }];
      if (cmd === "use_connection") {
        if (args.mfaCode !== "123456")
          throw {
            code: "mfa-required",
            message:
              "the profile `audit` assumes its role with the MFA device arn:aws:iam::1:mfa/a: enter the six-digit code it shows",
          };
        return connectedTo("aws", "audit", "eu-west-1");
      }
      if (cmd === "connection_status") return connectedTo("sandbox", "Sandbox", "us-east-1");
      if (cmd === "datastores" || cmd === "kms_keys" || cmd === "buckets") return [];
      return null;
    });
    const root = render();
    await settle();
    const picker = root.querySelector<HTMLSelectElement>('[data-testid="profile"]');
    if (!picker) throw new Error("no profile picker");
    expect(picker.textContent).toContain("audit (");
    expect(picker.textContent).toContain("eu-west-1");
    picker.value = "audit";
    picker.dispatchEvent(new Event("change"));
    flushSync();
    [...root.querySelectorAll("button")].find((b) => b.textContent?.trim() === "Connect")?.click();
    await settle();
    const form = root.querySelector<HTMLFormElement>('[data-testid="mfa"]');
    if (!form) throw new Error("no MFA form");
    expect(form.textContent).toContain("MFA code for audit");
    const code = form.querySelector("input");
    if (!code) throw new Error("no code field");
    code.value = "123456";
    code.dispatchEvent(new Event("input"));
    flushSync();
    form.querySelector<HTMLButtonElement>('button[type="submit"]')?.click();
    await settle();
    expect(calls.filter(([cmd]) => cmd === "use_connection").map(([, a]) => a)).toEqual([
      { profile: "audit", region: null, mfaCode: null },
      { profile: "audit", region: null, mfaCode: "123456" },
    ]);
    expect(root.querySelector('[data-testid="mfa"]')).toBeNull();
    // Connected, with no destination chosen there yet: said as the profile, not as the sandbox.
    expect(root.querySelector(".connected")?.textContent).toContain(
      "Connected to audit, eu-west-1",
    );
  });

  it("signs in to IAM Identity Center through the browser, showing the code to expect", async () => {
    const calls: [string, Record<string, unknown>][] = [];
    let finish: (() => void) | null = null;
    fakeBackend((cmd, args) => {
      calls.push([cmd, args]);
      switch (cmd) {
        case "profiles":
          return [{ name: "analytics", kind: "sso", region: "us-east-1" }];
        case "use_connection":
          throw {
            code: "sign-in",
            message:
              "the IAM Identity Center (SSO) sign-in of profile `analytics` has expired or was never made",
          };
        case "sso_sign_in":
          sendOnChannel(args.onProgress, [
            {
              kind: "waiting",
              userCode: "WXYZ-1234",
              verificationUri: "https://device.sso.us-east-1.amazonaws.com/",
            },
          ]);
          return new Promise((resolve) => {
            finish = () => resolve(connectedTo("aws", "analytics", "us-east-1"));
          });
        case "connection_status":
          return connectedTo("sandbox", "Sandbox", "us-east-1");
        case "datastores":
        case "kms_keys":
        case "buckets":
          return [];
        default:
          return null;
      }
    });
    const root = render();
    await settle();
    const picker = root.querySelector<HTMLSelectElement>('[data-testid="profile"]');
    if (!picker) throw new Error("no profile picker");
    picker.value = "analytics";
    picker.dispatchEvent(new Event("change"));
    flushSync();
    [...root.querySelectorAll("button")].find((b) => b.textContent?.trim() === "Connect")?.click();
    await settle();
    const box = root.querySelector('[data-testid="sign-in"]');
    if (!box) throw new Error("no sign-in box");
    expect(box.textContent).toContain("analytics");
    [...box.querySelectorAll("button")].find((b) => b.textContent?.includes("Sign in"))?.click();
    await settle();
    expect(root.querySelector('[data-testid="user-code"]')?.textContent).toBe("WXYZ-1234");
    const signIn = calls.find(([cmd]) => cmd === "sso_sign_in");
    expect(signIn?.[1]).toMatchObject({ profile: "analytics", region: null });
    expect(finish).not.toBeNull();
    (finish as unknown as () => void)();
    await settle();
    expect(root.querySelector('[data-testid="sign-in"]')).toBeNull();
  });
});
