// An in-memory stand-in for the Rust backend, for running the built UI in a plain browser
// (Playwright in Chromium): the bundled Synthea sample, a sandbox destination, an import that
// becomes a job, and a job that ends with failures. Everything is made up, nothing is read
// from disk, and the shapes are the generated bindings' own types.
//
// Settings come from the page's query string:
//   files=N      the sample picker returns N small files instead of the Synthea sample
//   failures=N   the finished job has N failures (generated on demand, so a million is cheap)
//   pace=K       multiply every delay by K (0 answers at once; the default 1 feels like a real run)
//   running=N    N jobs submitted elsewhere are unfinished (one in progress, the rest queued) and stay so
//   split=N      a job takes at most N files (HealthLake's 10,000), so an import of more is several jobs
import type {
  BucketChoice,
  Cause,
  CauseGroup,
  Check,
  ResolvedDestination,
  ConnectionStatus,
  DatastoreChoice,
  Destination,
  FailurePage,
  FailureSummary,
  FileReport,
  ImportProgress,
  ImportRequest,
  ImportJob,
  ImportResult,
  ImportStarted,
  Issue,
  IssueGroup,
  IpcError,
  Job,
  JobResult,
  Joined,
  KeyChoice,
  Level,
  Policies,
  ProfileChoice,
  Retry,
  SignInProgress,
  UploadsCleaned,
  ValidateProgress,
  ValidationReport,
  LookupAnswer,
  LookupPage,
  SampleReport,
  TypeCounts,
  UnmatchedSample,
} from "../bindings";
import type {
  ChangeRecordView,
  EditorIssue,
  FileFix,
  KeptRepair,
  RepairPreview,
  ResourceCheck,
} from "../bindings";

/** How many rules a plan's JSON text holds (0 when it is not a plan). */
function planRuleCount(plan: string): number {
  try {
    const rules = (JSON.parse(plan) as { rules?: unknown }).rules;
    return Array.isArray(rules) ? rules.length : 0;
  } catch {
    return 0;
  }
}

export interface Settings {
  files: number | null;
  failures: number | null;
  pace: number;
  running: number;
  /** Most files a job takes. */
  split: number;
}

export function settingsFrom(search: string): Settings {
  const q = new URLSearchParams(search);
  const int = (name: string): number | null => {
    const v = q.get(name);
    return v !== null && /^\d+$/.test(v) ? Number(v) : null;
  };
  const pace = Number(q.get("pace") ?? "1");
  return {
    files: int("files"),
    failures: int("failures"),
    pace: Number.isFinite(pace) ? pace : 1,
    running: int("running") ?? 0,
    split: Math.max(1, int("split") ?? 10_000),
  };
}

/** What a command's `Err` carries; thrown by the world, turned into `{status: "error"}` by the commands. */
export class BackendError extends Error {
  constructor(readonly error: IpcError) {
    super(error.message);
  }
}

const SAMPLE_DIR = "/home/analyst/Lakedrop samples/synthea-10-patients";
const REGION = "us-east-1";
const ACCOUNT = "000000000000";
const DATASTORE = "8a2f5b1c9d3e4f60718293a4b5c6d7e8";
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/4d7b9a1e-2c3f-4a5b-8c6d-7e8f9a0b1c2d`;
export const ROLE = `arn:aws:iam::${ACCOUNT}:role/LakedropSandboxImport`;

// The Synthea 10-patient export: file, resources, bytes.
const SAMPLE: [string, number, number][] = [
  ["AllergyIntolerance", 11, 10_711],
  ["Condition", 555, 559_789],
  ["Device", 16, 13_523],
  ["DocumentReference", 1215, 3_960_749],
  ["Encounter", 1215, 1_944_638],
  ["Immunization", 161, 125_088],
  ["Location", 44, 32_612],
  ["MedicationRequest", 1745, 1_939_994],
  ["Organization", 43, 47_876],
  ["Patient", 13, 43_870],
  ["Practitioner", 43, 33_264],
  ["PractitionerRole", 43, 52_501],
  ["Procedure", 2056, 1_698_830],
];

/** The lines of the sample's one flawed file that HealthLake would reject, and why. */
const FLAWED = `${SAMPLE_DIR}/Patient.from-clinic.ndjson`;
const FLAWED_LINES = 40;
const FLAWS: { line: number; issue: Omit<Issue, "line">; cause: Cause; diagnostics: string }[] = [
  {
    line: 7,
    issue: {
      code: "invalid-value",
      severity: "error",
      path: "Patient.gender",
      message: '"dude" is not a code of AdministrativeGender (use male, female, other or unknown)',
    },
    cause: "invalid-code",
    diagnostics:
      "Unknown AdministrativeGender code 'dude' at Patient.gender: the value is not in the required value set",
  },
  {
    line: 19,
    issue: {
      code: "invalid-value",
      severity: "error",
      path: "Patient.birthDate",
      message: '"03/14/1962" is not a FHIR date (use YYYY, YYYY-MM or YYYY-MM-DD)',
    },
    cause: "bad-date",
    diagnostics: "Not a valid date/time (03/14/1962) at Patient.birthDate",
  },
  {
    line: 33,
    issue: {
      code: "unknown-element",
      severity: "error",
      path: "Patient.nickname",
      message: "Patient has no element nickname (remove it, or move it into an extension)",
    },
    cause: "unknown-property",
    diagnostics: "Unrecognized property 'nickname' at Patient",
  },
];

/** `xs[i]`, which the generators only ask for within bounds. */
function nth<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new RangeError(`index ${i} of ${xs.length}`);
  return x;
}

function sampleName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** A plausible resource for line `line` of `path`; the flawed lines carry their flaw. */
export function lineOf(path: string, line: number): string {
  const name = sampleName(path);
  const type = name.split(".")[0] || "Basic";
  const id = `${type.toLowerCase()}-${line}`;
  if (path === FLAWED || path.endsWith("/Patient.from-clinic.ndjson")) {
    const base: Record<string, unknown> = {
      resourceType: "Patient",
      id: `clinic-${line}`,
      name: [{ family: "Rivera", given: ["Ana"] }],
      gender: "female",
      birthDate: "1962-03-14",
    };
    if (line === 7) base.gender = "dude";
    if (line === 19) base.birthDate = "03/14/1962";
    if (line === 33) base.nickname = "Annie";
    return JSON.stringify(base);
  }
  if (name === "log.ndjson")
    return JSON.stringify({
      level: "info",
      message: "export started",
      time: "2026-11-01T09:00:00Z",
    });
  return JSON.stringify({ resourceType: type, id, meta: { lastUpdated: "2026-11-01T09:00:00Z" } });
}

function group(issues: Issue[], resourceType: string | null): IssueGroup[] {
  const groups = new Map<string, IssueGroup>();
  for (const issue of issues) {
    const key = `${issue.code}/${issue.severity}`;
    const g = groups.get(key) ?? {
      code: issue.code,
      severity: issue.severity,
      resourceType,
      count: 0,
      examples: [],
    };
    g.count += 1;
    if (g.examples.length < 5) g.examples.push(issue);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

function report(path: string): FileReport {
  const name = sampleName(path);
  const empty = {
    path,
    name,
    compressed: false,
    content: "ndjson" as const,
    unbundled: null,
    issues: [] as Issue[],
    issuesTruncated: false,
    byCode: {},
    groups: [] as IssueGroup[],
  };
  if (name === "log.ndjson") {
    const issue: Issue = {
      line: 1,
      code: "not-fhir",
      severity: "error",
      path: null,
      message: "no resourceType: this is a bulk-export log, not FHIR; leave it out",
    };
    return {
      ...empty,
      bytes: 813,
      ndjsonBytes: 813,
      lines: 4,
      valid: 0,
      invalid: 0,
      notFhir: true,
      issues: [issue],
      byCode: { "not-fhir": 1 },
      resourceTypes: {},
      groups: group([issue], null),
    };
  }
  if (path === FLAWED) {
    const issues = FLAWS.map((f) => ({ line: f.line, ...f.issue }));
    return {
      ...empty,
      bytes: 9_840,
      ndjsonBytes: 9_840,
      lines: FLAWED_LINES,
      valid: FLAWED_LINES - issues.length,
      invalid: issues.length,
      notFhir: false,
      issues,
      byCode: { "invalid-value": 2, "unknown-element": 1 },
      resourceTypes: { Patient: FLAWED_LINES - issues.length },
      groups: group(issues, "Patient"),
    };
  }
  const known = SAMPLE.find(([type]) => name === `${type}.000.ndjson`);
  const [type, lines, bytes] = known ?? [name.split(".")[0] || "Observation", 25, 24_000];
  return {
    ...empty,
    bytes,
    ndjsonBytes: bytes,
    lines,
    valid: lines,
    invalid: 0,
    notFhir: false,
    resourceTypes: { [type]: lines },
  };
}

const CAUSES: Record<Cause, { explanation: string; fix: string }> = {
  "invalid-json": { explanation: "The line is not JSON.", fix: "Fix the line's syntax." },
  "invalid-resource-type": {
    explanation: "resourceType names no FHIR R4 resource.",
    fix: "Use an R4 resource type.",
  },
  "missing-id": { explanation: "The resource has no id.", fix: "Give every resource an id." },
  "invalid-id": {
    explanation: "The id breaks FHIR's id rules.",
    fix: "Use 1–64 letters, digits, '-' or '.'.",
  },
  "unknown-property": {
    explanation: "The resource has an element R4 does not define.",
    fix: "Remove it, or move it into an extension.",
  },
  "missing-required": {
    explanation: "A required element is missing.",
    fix: "Add the element the message names.",
  },
  "wrong-type": {
    explanation: "An element has the wrong JSON type.",
    fix: "Use the type R4 defines.",
  },
  "bad-date": {
    explanation: "A date or time is not in FHIR's format.",
    fix: "Write dates as YYYY-MM-DD.",
  },
  "invalid-code": {
    explanation: "A code is outside the list its element requires.",
    fix: "Use one of the codes the message lists.",
  },
  "profile-not-supported": {
    explanation: "meta.profile names a profile HealthLake does not know.",
    fix: "Import at structure-only, or remove the profile.",
  },
  "invalid-reference": {
    explanation: "A reference does not point to a resource.",
    fix: "Use Type/id references.",
  },
  other: { explanation: "HealthLake gave another reason.", fix: "Read the diagnostics." },
};

interface Failing {
  total: number;
  /** Failure number `i` (0-based) of the job. */
  at: (i: number) => Joined;
}

/** The failures of a job over the flawed sample file: one per flawed line. */
function flawedFailures(file: string): Failing {
  return {
    total: FLAWS.length,
    at: (i) => {
      const f = nth(FLAWS, i);
      return {
        failure: {
          file,
          lineId: f.line,
          resourceType: "Patient",
          resourceId: `clinic-${f.line}`,
          statusCode: 400,
          diagnostics: [f.diagnostics],
          cause: f.cause,
        },
        original: lineOf(FLAWED, f.line),
        mismatch: false,
      };
    },
  };
}

const MANY_CAUSES: Cause[] = ["invalid-code", "bad-date", "missing-required", "unknown-property"];
const MANY_TYPES = ["Observation", "Condition", "Encounter", "Procedure"];

/** `total` generated failures, cycling through causes, types and files. */
function manyFailures(total: number): Failing {
  return {
    total,
    at: (i) => {
      const cause = nth(MANY_CAUSES, i % MANY_CAUSES.length);
      const resourceType = nth(MANY_TYPES, Math.floor(i / 4) % MANY_TYPES.length);
      const file = `${resourceType}.${String(i % 7).padStart(3, "0")}.ndjson`;
      const id = `${resourceType.toLowerCase()}-${i}`;
      return {
        failure: {
          file,
          lineId: i + 1,
          resourceType,
          resourceId: id,
          statusCode: 400,
          diagnostics: [`${CAUSES[cause].explanation} (resource ${id})`],
          cause,
        },
        original: JSON.stringify({ resourceType, id, status: "final" }),
        mismatch: false,
      };
    },
  };
}

interface FakeJob {
  job: Job;
  files: FileReport[];
  failing: Failing;
  /** Ms after submission at which the job starts and ends. */
  startsAfter: number;
  endsAfter: number;
}

const sleep = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();

export class World {
  private readonly settings: Settings;
  private destination: ResolvedDestination | null = null;
  private readonly roles = new Map<string, string>();
  private remembered: Destination | null = null;
  private level: Level | null = null;
  private readonly jobs: FakeJob[] = [];
  private readonly cancelled = new Set<string>();
  private nextJob = 1;
  /** The job that imported each set of files, by their sorted paths: a second import follows it. */
  private readonly imported = new Map<string, string>();
  /**
   * Multipart uploads left in the input bucket: Lakedrop's abandoned ones (one from an earlier
   * session whose file has changed since), its interrupted ones of unchanged files (an upload
   * cancelled here), and one some other tool started.
   */
  private readonly uploads = { abandoned: 1, interrupted: 0, others: 1 };

  constructor(settings: Settings) {
    this.settings = settings;
    // As the sandbox is seeded: a destination is chosen already.
    this.setDestination({
      datastoreId: DATASTORE,
      kmsKeyId: KEY_ARN,
      inputBucket: "lakedrop-sandbox-input",
      outputUri: "s3://lakedrop-sandbox-output/lakedrop-output/",
      roleArn: ROLE,
    });
    // An earlier import, so the Jobs view has history; with failures=N it is the one that ended
    // with them, ready to review.
    const submitTime = Date.now() - 26 * 3600_000;
    const forced = settings.failures;
    const earlier = this.jobOf(
      "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
      "weekly-claims",
      submitTime,
      forced ? "COMPLETED_WITH_ERRORS" : "COMPLETED",
    );
    earlier.endTime = submitTime + 4 * 60_000;
    this.jobs.push({
      job: earlier,
      files: [],
      failing: forced ? manyFailures(forced) : { total: 0, at: () => undefined as never },
      startsAfter: 0,
      endsAfter: 0,
    });
    // Jobs started by someone else (or another window) that are still going.
    for (let i = 0; i < settings.running; i++) {
      const submitted = Date.now() - (settings.running - i) * 60_000;
      const files = this.samplePaths().map(report);
      const job = this.jobOf(
        `${String(i + 1).padStart(2, "0")}abcdef${"0".repeat(24)}`,
        `nightly-load-${i + 1}`,
        submitted,
        "SUBMITTED",
      );
      this.jobs.unshift({
        job,
        files,
        failing: { total: 0, at: () => undefined as never },
        // The first one started a minute ago and runs for an hour; the others wait behind it.
        startsAfter: i === 0 ? 0 : 7_200_000,
        endsAfter: 3_600_000 + i * 3_600_000,
      });
    }
  }

  private wait(ms: number): Promise<void> {
    return sleep(ms * this.settings.pace);
  }

  private jobOf(jobId: string, jobName: string | null, submitTime: number, status: string): Job {
    return {
      jobId,
      jobName,
      datastoreId: DATASTORE,
      status,
      submitTime,
      endTime: null,
      message: null,
      inputUri: `s3://lakedrop-sandbox-input/lakedrop/${jobId.slice(0, 8)}/`,
      outputUri: `s3://lakedrop-sandbox-output/lakedrop-output/${DATASTORE}-FHIR_IMPORT-${jobId}/`,
      progress: null,
      queuePosition: null,
      eta: null,
      advice: null,
    };
  }

  // Connection and destination.

  status(): ConnectionStatus {
    return {
      kind: "sandbox",
      label: "Sandbox",
      region: REGION,
      endpoint: "http://127.0.0.1:4566",
      destination: this.destination,
      remembered: this.remembered,
      level: this.level,
    };
  }

  connection(): ResolvedDestination {
    if (!this.destination)
      throw new BackendError({
        code: "not-found",
        message: "no destination chosen yet: pick a data store, a key and the buckets",
      });
    return this.destination;
  }

  profiles(): ProfileChoice[] {
    return [
      { name: "analytics", kind: "sso", region: "us-east-1" },
      { name: "audit", kind: "assume-role", region: "us-east-1" },
      { name: "default", kind: "access-keys", region: "eu-west-1" },
    ];
  }

  /**
   * The fake has no AWS: an SSO profile asks for a sign-in, the role profile for an MFA code, and
   * any profile given what it asked for is unreachable.
   */
  useConnection(profile: string | null, mfaCode: string | null = null): ConnectionStatus {
    if (profile === "analytics")
      throw new BackendError({
        code: "sign-in",
        message: `the IAM Identity Center (SSO) sign-in of profile \`${profile}\` has expired or was never made: run \`aws sso login --profile ${profile}\`, or sign in from Lakedrop`,
      });
    if (profile === "audit" && mfaCode === null)
      throw new BackendError({
        code: "mfa-required",
        message: `the profile \`${profile}\` assumes its role with the MFA device arn:aws:iam::123456789012:mfa/analyst: enter the six-digit code it shows (--mfa-code in the CLI)`,
      });
    if (profile !== null) throw this.unreachable();
    return this.status();
  }

  private unreachable(): BackendError {
    return new BackendError({
      code: "offline",
      message:
        "could not reach AWS for ListFHIRDatastores: the service's host name could not be resolved (no network, or a wrong endpoint or Region); check the connection and try again",
    });
  }

  /** Shows the code the browser page would show, then finds AWS unreachable, as the fake always does. */
  async ssoSignIn(
    opId: string,
    profile: string,
    onProgress: (progress: SignInProgress) => void,
  ): Promise<ConnectionStatus> {
    onProgress({
      kind: "waiting",
      userCode: "WDJB-MJHT",
      verificationUri: `https://device.sso.us-east-1.amazonaws.com/?user_code=WDJB-MJHT&profile=${profile}`,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (this.cancelled.has(opId))
      throw new BackendError({ code: "cancelled", message: "cancelled" });
    throw this.unreachable();
  }

  datastores(): DatastoreChoice[] {
    return [
      { id: DATASTORE, name: "sandbox-fhir", status: "ACTIVE", region: REGION, selectable: true },
      {
        id: "1b2c3d4e5f60718293a4b5c6d7e8f901",
        name: "archive-2024",
        status: "DELETING",
        region: REGION,
        selectable: false,
      },
    ];
  }

  kmsKeys(): KeyChoice[] {
    return [
      {
        keyId: KEY_ARN.slice(KEY_ARN.lastIndexOf("/") + 1),
        arn: KEY_ARN,
        aliases: ["alias/lakedrop-sandbox"],
        description: "Lakedrop sandbox key",
        enabled: true,
        symmetric: true,
        region: REGION,
        selectable: true,
      },
    ];
  }

  buckets(): BucketChoice[] {
    return [
      { name: "lakedrop-sandbox-input", region: REGION },
      { name: "lakedrop-sandbox-output", region: REGION },
    ];
  }

  rememberedRole(datastoreId: string): string | null {
    return this.roles.get(datastoreId) ?? null;
  }

  setDestination(chosen: Destination): ResolvedDestination {
    const part = (what: string, value: string | null | undefined): string => {
      const given = value?.trim();
      if (!given) throw new BackendError({ code: "invalid-input", message: `choose ${what}` });
      return given;
    };
    const c = {
      datastoreId: part("a data store", chosen.datastoreId),
      kmsKeyId: part("a KMS key", chosen.kmsKeyId),
      inputBucket: part("an input bucket", chosen.inputBucket),
      outputUri: part("an output location", chosen.outputUri),
      roleArn: part("an IAM role", chosen.roleArn),
    };
    const store = this.datastores().find((d) => d.id === c.datastoreId);
    if (!store)
      throw new BackendError({ code: "not-found", message: `no data store ${c.datastoreId}` });
    const outputBucket = /^s3:\/\/([^/]+)\//.exec(c.outputUri)?.[1];
    if (outputBucket === undefined)
      throw new BackendError({
        code: "invalid-input",
        message: `output location "${c.outputUri}" is not an s3://bucket/prefix/ address`,
      });
    this.roles.set(c.datastoreId, c.roleArn);
    this.remembered = { ...c };
    const connection: ResolvedDestination = {
      kind: "sandbox",
      label: "Sandbox",
      region: REGION,
      endpoint: "http://127.0.0.1:4566",
      datastoreId: c.datastoreId,
      datastoreName: store.name ?? c.datastoreId,
      inputBucket: c.inputBucket,
      outputBucket,
      outputUri: c.outputUri,
      kmsKeyId: c.kmsKeyId,
      kmsKeyAlias: "alias/lakedrop-sandbox",
      roleArn: c.roleArn,
    };
    this.destination = connection;
    return connection;
  }

  async preflight(fileCount: number): Promise<Check[]> {
    const d = this.connection();
    await this.wait(400);
    const roleOk = d.roleArn === ROLE;
    return [
      { id: "credentials", status: "pass", detail: "Signed in to the sandbox.", fix: null },
      { id: "datastore", status: "pass", detail: `${d.datastoreName} is ACTIVE.`, fix: null },
      {
        id: "kms-key",
        status: "pass",
        detail: "alias/lakedrop-sandbox is enabled and symmetric.",
        fix: null,
      },
      {
        id: "input-bucket",
        status: "pass",
        detail: `${d.inputBucket} exists, in ${REGION}.`,
        fix: null,
      },
      {
        id: "output-bucket-public-access",
        status: "warn",
        detail: `${d.outputBucket} does not block public access.`,
        fix: "Turn on Block Public Access for the output bucket: it will hold patient data.",
      },
      roleOk
        ? { id: "role-trust", status: "pass", detail: "HealthLake may assume the role.", fix: null }
        : {
            id: "role-trust",
            status: "fail",
            detail: `The role ${d.roleArn} does not exist.`,
            fix: `Choose the role HealthLake imports with, e.g. ${ROLE}.`,
          },
      {
        id: "file-count",
        status: fileCount > 10_000 ? "fail" : "pass",
        detail: `${fileCount} files, within HealthLake's 10,000 per job.`,
        fix: null,
      },
    ];
  }

  policies(): Policies {
    const d = this.connection();
    const pretty = (v: unknown): string => JSON.stringify(v, null, 2);
    return {
      trustPolicy: pretty({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Service: "healthlake.amazonaws.com" },
            Action: "sts:AssumeRole",
          },
        ],
      }),
      permissionsPolicy: pretty({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: `arn:aws:s3:::${d.inputBucket}/*`,
          },
          { Effect: "Allow", Action: ["kms:Decrypt"], Resource: d.kmsKeyId },
        ],
      }),
      passRolePolicy: pretty({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "iam:PassRole", Resource: d.roleArn }],
      }),
      readBackPolicy: pretty({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "ReadImportedResources",
            Effect: "Allow",
            Action: ["healthlake:ReadResource", "healthlake:SearchWithGet"],
            Resource: `arn:aws:healthlake:${REGION}:${ACCOUNT}:datastore/fhir/${DATASTORE}`,
          },
        ],
      }),
    };
  }

  // Files.

  samplePaths(): string[] {
    const n = this.settings.files;
    if (n !== null)
      return Array.from(
        { length: n },
        (_, i) => `/home/analyst/exports/many/Observation.${String(i).padStart(4, "0")}.ndjson`,
      );
    return [
      ...SAMPLE.map(([type]) => `${SAMPLE_DIR}/${type}.000.ndjson`),
      FLAWED,
      `${SAMPLE_DIR}/log.ndjson`,
    ];
  }

  async validate(
    opId: string,
    paths: string[],
    onProgress: (p: ValidateProgress) => void,
  ): Promise<ValidationReport> {
    const files = paths.map(report);
    const bytesTotal = files.reduce((s, f) => s + f.bytes, 0);
    let bytesDone = 0;
    let linesDone = 0;
    // Progress as the real reader sends it, but in batches, so that a thousand files take no longer.
    const perFile = files.length > 50 ? 0 : 60;
    for (const f of files) {
      if (this.cancelled.delete(opId))
        throw new BackendError({ code: "cancelled", message: "validation cancelled" });
      onProgress({ event: "fileStarted", path: f.path });
      await this.wait(perFile);
      bytesDone += f.bytes;
      linesDone += f.lines;
      onProgress({ event: "progress", bytesDone, bytesTotal, linesDone });
      onProgress({ event: "fileDone", path: f.path });
    }
    await this.wait(perFile === 0 ? 200 : 0);
    return {
      files,
      valid: files.reduce((s, f) => s + f.valid, 0),
      invalid: files.reduce((s, f) => s + f.invalid, 0),
      issues: [],
    };
  }

  cancel(opId: string): void {
    this.cancelled.add(opId);
  }

  lineText(path: string, line: number): string | null {
    const f = report(path);
    return line >= 1 && line <= f.lines ? lineOf(path, line) : null;
  }

  // Imports and jobs.

  async startImport(
    opId: string,
    request: ImportRequest,
    onProgress: (p: ImportProgress) => void,
  ): Promise<ImportStarted> {
    const d = this.connection();
    const files = request.paths.map(report);
    const checkTotal = files.reduce((s, f) => s + f.bytes, 0);
    onProgress({ event: "validating", bytesDone: 0, bytesTotal: 0 });
    await this.wait(250);
    onProgress({
      event: "validating",
      bytesDone: Math.round(checkTotal / 2),
      bytesTotal: checkTotal,
    });
    await this.wait(250);
    const sent = files.filter((f) => !f.notFhir && f.valid + f.invalid > 0);
    const skipped = files.filter((f) => !sent.includes(f));
    const skippedFiles = skipped.map((f) => ({
      path: f.path,
      name: f.name,
      reason: f.notFhir ? ("not-fhir" as const) : ("no-valid-lines" as const),
    }));
    // As the backend does: the same files imported to the same data store by a job that has not
    // failed are not uploaded again; that job is the answer, unless `again` asks for a new one.
    const batchKey = `${d.datastoreId}\n${sent
      .map((f) => f.path)
      .sort()
      .join("\n")}`;
    const earlier = this.jobs.find((j) => j.job.jobId === this.imported.get(batchKey));
    if (!request.again && earlier && !/^(FAILED|CANCEL)/.test(this.current(earlier).status)) {
      onProgress({ event: "submitted", jobId: earlier.job.jobId });
      return {
        jobId: earlier.job.jobId,
        datastoreId: d.datastoreId,
        batchId: earlier.job.jobId.slice(0, 8),
        inputUri: earlier.job.inputUri ?? "",
        outputUri: d.outputUri,
        filesUploaded: 0,
        filesSkipped: skippedFiles,
        encryption: null,
        alreadyStarted: true,
      };
    }
    const bytesTotal = sent.reduce((s, f) => s + f.bytes, 0);
    let bytesDone = 0;
    for (const f of sent) {
      const partsTotal = Math.max(1, Math.ceil(f.bytes / 8_388_608));
      for (let part = 1; part <= partsTotal; part++) {
        if (this.cancelled.delete(opId)) {
          if (part > 1) this.uploads.interrupted += 1;
          throw new BackendError({ code: "cancelled", message: "upload cancelled" });
        }
        await this.wait(Math.min(400, 40 + f.bytes / 20_000));
        bytesDone += f.bytes / partsTotal;
        onProgress({
          event: "uploading",
          file: f.name,
          bytesDone: Math.round(bytesDone),
          bytesTotal,
          partsDone: part,
          partsTotal,
        });
      }
    }
    onProgress({ event: "submitting" });
    await this.wait(300);
    this.level = request.validationLevel ?? "structure-only";
    // As the backend does: at most `split` files a job, the jobs submitted in order.
    const jobs: ImportJob[] = [];
    for (let first = 0; first < sent.length; first += this.settings.split) {
      const files = sent.slice(first, first + this.settings.split);
      const submitted = this.submit(request.jobName, files, this.level);
      jobs.push({
        jobId: submitted.jobId,
        batchId: submitted.jobId.slice(0, 8),
        inputUri: submitted.inputUri ?? "",
        files: files.length,
        alreadyStarted: false,
      });
      onProgress({ event: "submitted", jobId: submitted.jobId });
    }
    const job = this.find(nth(jobs, 0).jobId).job;
    this.imported.set(batchKey, job.jobId);
    // This upload resumed whatever an interrupted one of the same files had left.
    this.uploads.interrupted = 0;
    return {
      jobs,
      jobId: job.jobId,
      datastoreId: d.datastoreId,
      batchId: job.jobId.slice(0, 8),
      inputUri: job.inputUri ?? "",
      outputUri: d.outputUri,
      filesUploaded: sent.length,
      filesSkipped: skippedFiles,
      encryption: `aws:kms (${d.kmsKeyId})`,
      alreadyStarted: false,
    };
  }

  /** Aborts Lakedrop's abandoned uploads; keeps the resumable ones and leaves the others. */
  cleanUploads(): UploadsCleaned {
    const { abandoned, interrupted, others } = this.uploads;
    this.uploads.abandoned = 0;
    return { aborted: abandoned, resumable: interrupted, others };
  }

  private submit(
    jobName: string | null,
    files: FileReport[],
    level: Level,
    failures?: Failing,
  ): Job {
    const n = this.nextJob++;
    const jobId = `${String(n).padStart(4, "0")}c0ffee${"e".repeat(22)}`.slice(0, 32);
    const job = this.jobOf(jobId, jobName ?? `lakedrop-${n}`, Date.now(), "SUBMITTED");
    const forced = this.settings.failures;
    const flawed = files.find((f) => f.path === FLAWED);
    const failing =
      failures ??
      (forced !== null
        ? manyFailures(forced)
        : flawed && level !== "minimal"
          ? flawedFailures(sampleName(FLAWED))
          : { total: 0, at: () => undefined as never });
    this.jobs.unshift({
      job,
      files,
      failing,
      startsAfter: 1_500 * this.settings.pace,
      endsAfter: 5_000 * this.settings.pace,
    });
    return job;
  }

  /** The job as it stands now: its status follows the time since it was submitted. */
  private current(j: FakeJob): Job {
    const job = j.job;
    if (job.endTime !== null) return job;
    const elapsed = Date.now() - job.submitTime;
    const resources = j.files.reduce((s, f) => s + f.valid + f.invalid, 0);
    if (elapsed >= j.endsAfter) {
      job.status = j.failing.total > 0 ? "COMPLETED_WITH_ERRORS" : "COMPLETED";
      job.endTime = job.submitTime + j.endsAfter;
      job.progress = null;
      job.eta = null;
      return job;
    }
    if (elapsed >= j.startsAfter) {
      const share = (elapsed - j.startsAfter) / (j.endsAfter - j.startsAfter);
      const scanned = Math.floor(resources * share);
      job.status = "IN_PROGRESS";
      job.queuePosition = 0;
      job.eta = job.submitTime + j.endsAfter;
      job.progress = {
        scannedMb: (j.files.reduce((s, f) => s + f.bytes, 0) * share) / 1e6,
        scannedFiles: Math.floor(j.files.length * share),
        resourcesScanned: scanned,
        resourcesImported: Math.max(0, scanned - Math.floor(j.failing.total * share)),
        resourcesWithCustomerError: Math.floor(j.failing.total * share),
        filesReadWithCustomerError: 0,
      };
    } else {
      // FIFO per data store: the unfinished jobs submitted before this one are ahead of it.
      const ahead = this.jobs.filter(
        (o) => o !== j && o.job.endTime === null && o.job.submitTime < job.submitTime,
      ).length;
      job.queuePosition = ahead;
      job.status = ahead > 0 ? "QUEUED" : "SUBMITTED";
    }
    return job;
  }

  private find(jobId: string): FakeJob {
    const j = this.jobs.find((x) => x.job.jobId === jobId);
    if (!j)
      throw new BackendError({
        code: "not-found",
        message: `no import job ${jobId} on data store ${DATASTORE}`,
      });
    return j;
  }

  /** Ends every unfinished job now, as if its time had come. */
  endJobs(): void {
    for (const j of this.jobs) {
      if (j.job.endTime !== null) continue;
      j.startsAfter = 0;
      j.endsAfter = Math.max(1, Date.now() - j.job.submitTime);
    }
  }

  listJobs(): Job[] {
    return this.jobs.map((j) => ({ ...this.current(j) }));
  }

  jobResult(jobId: string): JobResult {
    const j = this.find(jobId);
    const job = { ...this.current(j) };
    if (job.endTime === null || (j.files.length === 0 && j.failing.total === 0))
      return { job, manifest: null };
    const resources = j.files.reduce((s, f) => s + f.valid + f.invalid, 0);
    const scanned = Math.max(resources, j.failing.total);
    const mb = j.files.reduce((s, f) => s + f.bytes, 0) / 1e6;
    return {
      job,
      manifest: {
        inputUri: job.inputUri,
        outputUri: job.outputUri,
        scannedFiles: j.files.length,
        filesImported: j.files.length,
        scannedMb: mb,
        importedMb: mb,
        resourcesScanned: scanned,
        resourcesImported: scanned - j.failing.total,
        resourcesWithCustomerError: j.failing.total,
        resourcesWithServerError: 0,
      },
    };
  }

  /** The jobs of one import, each with its manifest, and their sum once every one has it. */
  importResult(jobIds: string[]): ImportResult {
    const jobs = jobIds.map((id) => this.jobResult(id));
    // As the backend sums them: a job that failed imported nothing and adds nothing.
    const waiting = jobs.some(
      (r) =>
        r.manifest === null && (r.job.endTime === null || r.job.status.startsWith("COMPLETED")),
    );
    const manifests = jobs.flatMap((r) => (r.manifest ? [r.manifest] : []));
    const manifest =
      !waiting && manifests.length > 0
        ? manifests.reduce((sum, m) => ({
            ...sum,
            scannedFiles: sum.scannedFiles + m.scannedFiles,
            filesImported: sum.filesImported + m.filesImported,
            scannedMb: (sum.scannedMb ?? 0) + (m.scannedMb ?? 0),
            importedMb: (sum.importedMb ?? 0) + (m.importedMb ?? 0),
            resourcesScanned: sum.resourcesScanned + m.resourcesScanned,
            resourcesImported: sum.resourcesImported + m.resourcesImported,
            resourcesWithCustomerError:
              sum.resourcesWithCustomerError + m.resourcesWithCustomerError,
            resourcesWithServerError: sum.resourcesWithServerError + m.resourcesWithServerError,
          }))
        : null;
    return { jobs, manifest };
  }

  /** The failures of several jobs (one import's) grouped together, as the backend reads them. */
  failureSummaryOf(jobIds: string[]): FailureSummary {
    const parts = jobIds.map((id) => this.failureSummary(id));
    return {
      total: parts.reduce((s, p) => s + p.total, 0),
      groups: parts.flatMap((p) => p.groups).sort((a, b) => b.group.count - a.group.count),
      unreadable: {
        lines: parts.reduce((s, p) => s + p.unreadable.lines, 0),
        examples: parts.flatMap((p) => p.unreadable.examples),
      },
      sources: parts.flatMap((p) => p.sources),
    };
  }

  /** One page of several jobs' failures, in job order. */
  failureRowsOf(
    jobIds: string[],
    offset: number,
    limit: number,
    cause: Cause | null,
    resourceType: string | null,
    file: string | null,
  ): FailurePage {
    let total = 0;
    const rows: Joined[] = [];
    for (const id of jobIds) {
      const here = this.failureRows(id, 0, 0, cause, resourceType, file).total;
      const from = Math.max(0, offset - total);
      const wanted = limit - rows.length;
      if (wanted > 0 && from < here)
        rows.push(...this.failureRows(id, from, wanted, cause, resourceType, file).rows);
      total += here;
    }
    return { total, rows };
  }

  failureSummary(jobId: string): FailureSummary {
    const { failing } = this.find(jobId);
    const groups = new Map<string, CauseGroup>();
    // Groups repeat with a short period in both generators; counting the first cycle and
    // scaling keeps a million failures cheap.
    const period = Math.min(failing.total, 16);
    for (let i = 0; i < period; i++) {
      const { failure } = failing.at(i);
      const key = `${failure.cause}/${failure.resourceType}/${failure.file}`;
      const share = Math.floor(failing.total / period) + (i < failing.total % period ? 1 : 0);
      const g = groups.get(key) ?? {
        group: {
          cause: failure.cause,
          resourceType: failure.resourceType ?? "",
          file: failure.file,
          count: 0,
          exampleLineIds: [],
          diagnostics: failure.diagnostics[0] ?? "",
        },
        ...CAUSES[failure.cause],
      };
      g.group.count += share;
      if (g.group.exampleLineIds.length < 3) g.group.exampleLineIds.push(failure.lineId);
      groups.set(key, g);
    }
    return {
      total: failing.total,
      groups: [...groups.values()].sort((a, b) => b.group.count - a.group.count),
      unreadable: { lines: 0, examples: [] },
      sources: [],
    };
  }

  failureRows(
    jobId: string,
    offset: number,
    limit: number,
    cause: Cause | null,
    resourceType: string | null,
    file: string | null,
  ): FailurePage {
    const { failing } = this.find(jobId);
    const matches = (r: Joined): boolean =>
      (cause === null || r.failure.cause === cause) &&
      (resourceType === null || r.failure.resourceType === resourceType) &&
      (file === null || r.failure.file === file);
    if (cause === null && resourceType === null && file === null) {
      const rows: Joined[] = [];
      for (let i = offset; i < Math.min(failing.total, offset + limit); i++)
        rows.push(failing.at(i));
      return { total: failing.total, rows };
    }
    // Filtered: the generators are periodic, so rows matching a filter are found within a period.
    const period = Math.min(failing.total, 16);
    const hits = Array.from({ length: period }, (_, i) => i).filter((i) => matches(failing.at(i)));
    const cycles = Math.floor(failing.total / period);
    const total = hits.reduce((s, i) => s + cycles + (i < failing.total % period ? 1 : 0), 0);
    const rows: Joined[] = [];
    for (let k = offset; k < Math.min(total, offset + limit); k++) {
      const i = Math.floor(k / hits.length) * period + nth(hits, k % hits.length);
      rows.push(failing.at(i));
    }
    return { total, rows };
  }

  exportFailures(jobIds: string[]): number | null {
    return jobIds.reduce((s, id) => s + this.find(id).failing.total, 0);
  }

  retryFailures(jobIds: string[], cause: Cause | null, plan: string | null = null): Retry {
    const { total: lines } = this.failureRowsOf(jobIds, 0, 0, cause, null, null);
    // Only the failed lines go again, in one job: unchanged, they fail again; repaired by a plan,
    // they pass.
    const repaired = plan !== null && planRuleCount(plan) > 0;
    const again: Failing = {
      total: repaired ? 0 : lines,
      at: (i) => nth(this.failureRowsOf(jobIds, i, 1, cause, null, null).rows, 0),
    };
    const sent = jobIds
      .flatMap((id) => this.find(id).files)
      .filter((f) => f.invalid > 0)
      .map((f) => ({ ...f, lines, valid: 0, invalid: lines, bytes: lines * 250 }));
    const first = nth(jobIds, 0);
    const retried = this.submit(`retry-${first.slice(0, 8)}`, sent, "structure-only", again);
    return {
      jobId: retried.jobId,
      inputUri: retried.inputUri ?? "",
      lines,
      missing: 0,
      repaired: repaired ? lines : 0,
      byHand: 0,
      heldBack: 0,
      heldBackLines: [],
    };
  }

  // Fixing rejected lines (issue 18): a stand-in for the validator that knows one rule (gender's
  // codes), and plans that repair every failed line.
  private readonly kept = new Map<string, number>();

  checkResource(text: string): ResourceCheck {
    let resource: Record<string, unknown>;
    try {
      resource = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      return {
        rejected: true,
        issues: [],
        syntax: { line: 1, column: 1, message: String(e) },
      };
    }
    const codes = ["male", "female", "other", "unknown"];
    const gender = resource.gender;
    const issues: EditorIssue[] =
      typeof gender === "string" && !codes.includes(gender)
        ? [
            {
              code: "invalid-value",
              severity: "error",
              path: `${String(resource.resourceType)}.gender`,
              message: `"${gender}" is not an allowed code for gender (use one of ${codes.join(", ")})`,
              fix: { kind: "choose-code", choices: codes },
            },
          ]
        : [];
    return { rejected: issues.length > 0, issues, syntax: null };
  }

  keepRepair(jobId: string, text: string | null): KeptRepair {
    const kept = Math.max(0, (this.kept.get(jobId) ?? 0) + (text === null ? -1 : 1));
    this.kept.set(jobId, kept);
    return { kept, rejected: false, changes: [] };
  }

  previewRepair(jobIds: string[], cause: Cause | null, plan: string): RepairPreview {
    const { total } = this.failureRowsOf(jobIds, 0, 0, cause, null, null);
    const rules = planRuleCount(plan);
    const byHand = Math.min(total, this.kept.get(jobIds.join()) ?? 0);
    const repaired = rules > 0 ? total - byHand : 0;
    return {
      failed: total,
      lines: repaired + byHand,
      repaired,
      byHand,
      heldBack: total - repaired - byHand,
      heldBackLines: [],
      missing: 0,
      byRule: Array.from({ length: rules }, () => repaired),
      samples: [],
    };
  }

  fixFile(plan: string | null, byHand: number, save: boolean): FileFix {
    const rules = plan === null ? 0 : planRuleCount(plan);
    return {
      lines: 0,
      changed: 0,
      byHand,
      byRule: Array.from({ length: rules }, () => 0),
      stillInvalid: 0,
      stillInvalidLines: [],
      changes: [],
      savedAs: save ? "/fake/fixed.ndjson" : null,
    };
  }

  changeRecord(): ChangeRecordView {
    return { lines: 0, elements: 0, withValues: false, rows: [] };
  }

  // Reading back (issue 22): every imported sample resource is there as sent, but the first
  // Patient, which someone edited since (its gender), and the first Procedure, deleted.

  private readBack(type: string, id: string): Record<string, unknown> | null {
    if (type === "Procedure" && id === "procedure-1") return null;
    const row = SAMPLE.find(([t]) => t === type);
    const line = Number(id.slice(id.lastIndexOf("-") + 1));
    if (!row || !(line >= 1 && line <= row[1])) return null;
    const sent = JSON.parse(lineOf(`${SAMPLE_DIR}/${type}.000.ndjson`, line)) as Record<
      string,
      unknown
    >;
    const meta = { versionId: "1", lastUpdated: "2026-11-01T09:05:00.000Z" };
    if (type === "Patient" && line === 1)
      return { ...sent, gender: "male", meta: { ...meta, versionId: "2" } };
    return { ...sent, meta };
  }

  fhirLookup(text: string): LookupAnswer {
    const t = text.trim();
    const read = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9.-]{1,64})$/.exec(t);
    if (read) {
      const [, type = "", id = ""] = read;
      const found = this.readBack(type, id);
      return found
        ? { kind: "resource", reference: `${type}/${id}`, text: JSON.stringify(found, null, 2) }
        : { kind: "absent", reference: `${type}/${id}` };
    }
    const search = /^([A-Z][A-Za-z]+)(\?.*)?$/.exec(t);
    if (!search)
      throw new BackendError({
        code: "invalid-input",
        message: `\`${t}\` is not a resource type: start with one, as in Patient/123 or Observation?code=…`,
      });
    return { kind: "page", ...this.searchPage(search[1] ?? "", 0) };
  }

  private searchPage(type: string, from: number): LookupPage {
    const total = SAMPLE.find(([t]) => t === type)?.[1] ?? 0;
    const entries = [];
    for (let line = from + 1; line <= Math.min(total, from + 20); line++) {
      const found = this.readBack(type, `${type.toLowerCase()}-${line}`);
      if (found)
        entries.push({
          reference: `${type}/${String(found.id)}`,
          text: JSON.stringify(found, null, 2),
        });
    }
    const next = from + 20 < total ? `fake://${type}?page=${from + 20}` : null;
    return { total, entries, next };
  }

  fhirPage(url: string): LookupPage {
    const match = /^fake:\/\/([A-Za-z]+)\?page=(\d+)$/.exec(url);
    if (!match)
      throw new BackendError({ code: "invalid-input", message: `${url} is not a page link` });
    return this.searchPage(match[1] ?? "", Number(match[2]));
  }

  verifySample(jobId: string, perType: number): SampleReport {
    const j = this.find(jobId);
    const types: TypeCounts[] = [];
    const unmatched: UnmatchedSample[] = [];
    for (const f of j.files) {
      const type = sampleName(f.path).split(".")[0] ?? "Basic";
      const sampled = Math.min(perType, f.valid);
      const counts = {
        resourceType: type,
        imported: f.valid,
        sampled,
        matched: 0,
        differing: 0,
        missing: 0,
        unverifiable: 0,
      };
      for (let line = 1; line <= sampled; line++) {
        const id = `${type.toLowerCase()}-${line}`;
        const sent = lineOf(f.path, line);
        const found = this.readBack(type, id);
        if (!found) {
          counts.missing += 1;
          unmatched.push({
            resourceType: type,
            id,
            file: sampleName(f.path),
            line,
            outcome: "missing",
            differences: [],
            source: null,
            found: null,
          });
        } else if (type === "Patient" && line === 1) {
          counts.differing += 1;
          const source = JSON.parse(sent) as Record<string, unknown>;
          unmatched.push({
            resourceType: type,
            id,
            file: sampleName(f.path),
            line,
            outcome: "differing",
            differences: [{ path: "gender", expected: null, found: '"male"' }],
            source: JSON.stringify(source, null, 2),
            found: JSON.stringify(found, null, 2),
          });
        } else {
          counts.matched += 1;
        }
      }
      types.push(counts);
    }
    types.sort((a, b) => a.resourceType.localeCompare(b.resourceType));
    return {
      endpoint: `http://127.0.0.1:4599/datastore/${DATASTORE}/r4/`,
      perType,
      types,
      unmatched,
    };
  }
}
