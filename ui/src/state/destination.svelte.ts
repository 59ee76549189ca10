// Where the next import goes (connection, data store, key, buckets, role) and whether the
// AWS setup is ready for it. The Destination view renders this state.
import * as ipc from "../ipc";
import type {
  BucketChoice,
  Check,
  DatastoreChoice,
  Destination,
  KeyChoice,
  LakedropError,
  Level,
  Policies,
  ProfileChoice,
} from "../ipc";
import { announce } from "./announcer.svelte";
import { destination as active } from "./connection.svelte";

/** The destination form: each part of a `Destination` as typed or picked ("" while not chosen). */
export type Choices = { [Part in keyof Destination]-?: string };

interface DestinationState {
  profiles: ProfileChoice[];
  datastores: DatastoreChoice[];
  keys: KeyChoice[];
  buckets: BucketChoice[];
  choices: Choices;
  jobName: string;
  level: Level;
  loading: boolean;
  checking: boolean;
  checks: Check[] | null;
  /** The choices the checks ran against, so edits invalidate them. */
  checkedFor: string | null;
  policies: Policies | null;
  error: LakedropError | null;
  /**
   * What connecting to a profile still needs from the person: the code of its MFA device, or an
   * IAM Identity Center sign-in (with the code the browser page shows, once it is open).
   */
  pending: PendingConnection | null;
}

export type PendingConnection =
  | { kind: "mfa"; profile: string; region: string | null }
  | {
      kind: "sign-in";
      profile: string;
      region: string | null;
      opId: string | null;
      userCode: string | null;
    };

function initial(): DestinationState {
  return {
    profiles: [],
    datastores: [],
    keys: [],
    buckets: [],
    choices: { datastoreId: "", kmsKeyId: "", inputBucket: "", outputUri: "", roleArn: "" },
    jobName: "",
    level: "structure-only",
    loading: false,
    checking: false,
    checks: null,
    checkedFor: null,
    policies: null,
    error: null,
    pending: null,
  };
}

export const dest = $state<DestinationState>(initial());

/** Why no second import starts while one uploads. */
export const UPLOADING =
  "An import is uploading now: the next can start once its job has started. Its progress is in the header.";

function fingerprint(c: Choices): string {
  return JSON.stringify(c);
}

/** Whether the checks shown are for the choices as they are now. */
export function checksCurrent(): boolean {
  return dest.checks !== null && dest.checkedFor === fingerprint(dest.choices);
}

/** Why the import cannot start yet, or null when it can; `uploading` while another import uploads. */
export function startBlocker(uploading = false): string | null {
  if (uploading) return UPLOADING;
  const c = dest.choices;
  if (!c.datastoreId || !c.kmsKeyId || !c.inputBucket || !c.outputUri || !c.roleArn)
    return "Choose a data store, a key, the buckets and the role.";
  if (!checksCurrent()) return "Check the setup first.";
  if (dest.checks?.some((check) => check.status === "fail"))
    return "Fix the failed checks, then check again.";
  return null;
}

/** Loads the pickers' lists for the active connection and preselects the current destination. */
export async function loadChoices(): Promise<void> {
  dest.loading = true;
  dest.error = null;
  try {
    const [profiles, status] = await Promise.all([ipc.profiles(), ipc.connectionStatus()]);
    dest.profiles = profiles;
    const [datastores, keys, buckets] = await Promise.all([
      ipc.datastores(),
      ipc.kmsKeys(),
      ipc.buckets(),
    ]);
    Object.assign(dest, { datastores, keys, buckets });
    if (status.level) dest.level = status.level;
    dest.choices = await initialChoices(status, datastores, keys, buckets);
  } catch (e) {
    dest.error = ipc.toLakedropError(e);
  } finally {
    dest.loading = false;
  }
}

/**
 * What the pickers start on: the destination last chosen on this connection (in an earlier run,
 * perhaps) while its data store and key are still there to choose, else the one in use, else the
 * first usable of each.
 */
async function initialChoices(
  status: ipc.ConnectionStatus,
  datastores: DatastoreChoice[],
  keys: KeyChoice[],
  buckets: BucketChoice[],
): Promise<Choices> {
  const remembered = status.remembered;
  if (remembered) {
    // The key picker's values are ARNs; the remembered key may be named by id or alias.
    const key = keys.find(
      (k) => k.selectable && [k.arn, k.keyId, ...k.aliases].includes(remembered.kmsKeyId ?? ""),
    );
    const usable =
      key &&
      datastores.some((d) => d.selectable && d.id === remembered.datastoreId) &&
      buckets.some((b) => b.name === remembered.inputBucket);
    if (usable)
      return {
        datastoreId: remembered.datastoreId ?? "",
        kmsKeyId: key.arn,
        inputBucket: remembered.inputBucket ?? "",
        outputUri: remembered.outputUri ?? "",
        roleArn: remembered.roleArn ?? "",
      };
  }
  const current = status.destination;
  if (current) {
    return {
      datastoreId: current.datastoreId,
      kmsKeyId: current.kmsKeyId,
      inputBucket: current.inputBucket,
      outputUri: current.outputUri,
      roleArn: current.roleArn,
    };
  }
  const store = datastores.find((d) => d.selectable);
  const key = keys.find((k) => k.selectable);
  return {
    datastoreId: store?.id ?? "",
    kmsKeyId: key?.arn ?? "",
    inputBucket: buckets[0]?.name ?? "",
    outputUri: buckets[0] ? `s3://${buckets[0].name}/lakedrop-output/` : "",
    roleArn: store ? ((await ipc.rememberedRole(store.id)) ?? "") : "",
  };
}

/** A new data store brings back the role last used with it. */
export async function chooseDatastore(id: string): Promise<void> {
  dest.choices.datastoreId = id;
  const role = await ipc.rememberedRole(id);
  if (role) dest.choices.roleArn = role;
}

/**
 * Switches to an AWS profile (and Region) or, with `profile` null, to the sandbox. A profile that
 * needs an MFA code or an IAM Identity Center sign-in leaves `dest.pending` saying which.
 */
export async function switchConnection(
  profile: string | null,
  region: string | null,
  mfaCode: string | null = null,
): Promise<void> {
  dest.error = null;
  dest.checks = null;
  dest.policies = null;
  dest.pending = null;
  try {
    const status = await ipc.useConnection(profile, region, mfaCode);
    await connected(profile, status);
  } catch (e) {
    const error = ipc.toLakedropError(e);
    if (profile && error.code === "mfa-required") {
      dest.pending = { kind: "mfa", profile, region };
      announce(`Profile ${profile} asks for a code from your MFA device.`);
    } else if (profile && error.code === "sign-in") {
      dest.pending = { kind: "sign-in", profile, region, opId: null, userCode: null };
      announce(`Profile ${profile} needs you to sign in to IAM Identity Center.`);
    } else {
      dest.error = error;
    }
  }
}

async function connected(profile: string | null, status: ipc.ConnectionStatus): Promise<void> {
  announce(profile ? `Connected with profile ${profile}.` : "Connected to the sandbox.");
  active.connected = { kind: status.kind, label: status.label, region: status.region };
  active.connection = null;
  active.connection = await ipc.connection().catch(() => null);
  await loadChoices();
}

/** Signs in to IAM Identity Center for the pending profile in the browser, then connects. */
export async function signIn(): Promise<void> {
  const pending = dest.pending;
  if (pending?.kind !== "sign-in" || pending.opId !== null) return;
  const opId = ipc.newOperationId();
  dest.pending = { ...pending, opId };
  dest.error = null;
  try {
    const status = await ipc.ssoSignIn(opId, pending.profile, pending.region, (progress) => {
      if (dest.pending?.kind === "sign-in") dest.pending.userCode = progress.userCode;
      announce(
        `Your browser opened IAM Identity Center's page. It should show the code ${progress.userCode}.`,
      );
    });
    dest.pending = null;
    await connected(pending.profile, status);
  } catch (e) {
    const error = ipc.toLakedropError(e);
    dest.pending = { ...pending, opId: null, userCode: null };
    if (error.code !== "cancelled") dest.error = error;
  }
}

/** Stops waiting for the browser sign-in. */
export async function cancelSignIn(): Promise<void> {
  const pending = dest.pending;
  if (pending?.kind === "sign-in" && pending.opId) await ipc.cancel(pending.opId);
}

/** Saves the choices as the destination and checks the setup for `fileCount` files. */
export async function runChecks(fileCount: number): Promise<void> {
  dest.checking = true;
  dest.error = null;
  const checkedFor = fingerprint(dest.choices);
  try {
    active.connection = await ipc.setDestination({ ...dest.choices });
    const checks = await ipc.preflight(fileCount);
    dest.checks = checks;
    dest.checkedFor = checkedFor;
    const failed = checks.filter((c) => c.status === "fail").length;
    const warned = checks.filter((c) => c.status === "warn").length;
    announce(
      failed > 0
        ? `${failed} of ${checks.length} checks failed.`
        : `All ${checks.length} checks passed${warned > 0 ? `, ${warned} with warnings` : ""}.`,
    );
  } catch (e) {
    dest.error = ipc.toLakedropError(e);
    dest.checks = null;
  } finally {
    dest.checking = false;
  }
}

export async function loadPolicies(): Promise<void> {
  try {
    active.connection = await ipc.setDestination({ ...dest.choices });
    dest.policies = await ipc.policies();
  } catch (e) {
    dest.error = ipc.toLakedropError(e);
  }
}

/** For tests. */
export function resetDestination(): void {
  Object.assign(dest, initial());
}
