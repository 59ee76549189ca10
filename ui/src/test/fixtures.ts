// A report shaped like the validation of the Synthea 10-patient sample: 13 FHIR files
// with 7,160 resources and the bulk-export log, which is not FHIR.
import type {
  ResolvedDestination,
  FileReport,
  Issue,
  IssueGroup,
  JobResult,
  ValidationReport,
} from "../ipc";

/** The sandbox as the header shows it: data store "demo". */
export function sandboxConnection(): ResolvedDestination {
  return {
    kind: "sandbox",
    label: "Sandbox",
    region: "us-east-1",
    endpoint: null,
    datastoreId: "ds-1",
    datastoreName: "demo",
    inputBucket: "in",
    outputBucket: "out",
    outputUri: "s3://out/lakedrop-output/",
    kmsKeyId: "k",
    kmsKeyAlias: null,
    roleArn: "arn:aws:iam::0:role/r",
  };
}

const SAMPLE: [string, number][] = [
  ["AllergyIntolerance", 11],
  ["Condition", 555],
  ["Device", 16],
  ["DocumentReference", 1215],
  ["Encounter", 1215],
  ["Immunization", 161],
  ["Location", 44],
  ["MedicationRequest", 1745],
  ["Organization", 43],
  ["Patient", 13],
  ["Practitioner", 43],
  ["PractitionerRole", 43],
  ["Procedure", 2056],
];

/** One group per code and severity, examples the issues themselves, as the backend groups them. */
function groupsOf(issues: readonly Issue[]): IssueGroup[] {
  const groups: IssueGroup[] = [];
  for (const issue of issues) {
    let group = groups.find((g) => g.code === issue.code && g.severity === issue.severity);
    if (!group) {
      group = {
        code: issue.code,
        severity: issue.severity,
        resourceType: null,
        count: 0,
        examples: [],
      };
      groups.push(group);
    }
    group.count += 1;
    group.examples.push(issue);
  }
  return groups;
}

/** Every issue counted by code, as the backend counts them. */
function countsOf(issues: readonly Issue[]): FileReport["byCode"] {
  const counts: FileReport["byCode"] = {};
  for (const issue of issues) counts[issue.code] = (counts[issue.code] ?? 0) + 1;
  return counts;
}

export function fileReport(overrides: Partial<FileReport> & { name: string }): FileReport {
  return {
    groups: groupsOf(overrides.issues ?? []),
    byCode: countsOf(overrides.issues ?? []),
    path: `/data/10-patients/${overrides.name}`,
    bytes: 1000,
    ndjsonBytes: overrides.bytes ?? 1000,
    content: "ndjson",
    unbundled: null,
    lines: 10,
    valid: 10,
    invalid: 0,
    notFhir: false,
    compressed: false,
    issues: [],
    issuesTruncated: false,
    resourceTypes: {},
    ...overrides,
  };
}

export function sampleReport(): ValidationReport {
  const files = SAMPLE.map(([type, n]) =>
    fileReport({ name: `${type}.000.ndjson`, lines: n, valid: n }),
  );
  files.push(
    fileReport({
      name: "log.ndjson",
      lines: 4,
      valid: 0,
      invalid: 0,
      notFhir: true,
      issues: [
        {
          line: 1,
          code: "not-fhir",
          severity: "error",
          path: null,
          message: "no resourceType: this is not a FHIR resource",
        },
      ],
    }),
  );
  return {
    files,
    valid: files.reduce((s, f) => s + f.valid, 0),
    invalid: files.reduce((s, f) => s + f.invalid, 0),
    issues: [],
  };
}

export function completedJob(status = "COMPLETED"): JobResult {
  return {
    job: {
      jobId: "job-1",
      jobName: "lakedrop-test",
      datastoreId: "ds-1",
      status,
      submitTime: Date.UTC(2026, 10, 22, 9, 0, 0),
      endTime: Date.UTC(2026, 10, 22, 9, 1, 0),
      message: null,
      inputUri: "s3://in/x/",
      outputUri: "s3://out/job-1/",
      progress: null,
      queuePosition: null,
      eta: null,
      advice: null,
    },
    manifest: {
      inputUri: "s3://in/x/",
      outputUri: "s3://out/job-1/",
      scannedFiles: 13,
      filesImported: 13,
      scannedMb: 10.5,
      importedMb: 10.5,
      resourcesScanned: 7160,
      resourcesImported: 7160,
      resourcesWithCustomerError: 0,
      resourcesWithServerError: 0,
    },
  };
}
