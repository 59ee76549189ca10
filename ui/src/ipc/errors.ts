import type { ErrorCode, IpcError } from "./bindings";

/** What the person reading an error needs: what happened, and what to do next. */
export interface ErrorSentence {
  what: string;
  next: string;
}

// Keyed by every ErrorCode: adding a code to the Rust enum makes this object fail to
// type-check until the new code has a sentence, which is the point.
const SENTENCES: Record<ErrorCode, ErrorSentence> = {
  "invalid-input": {
    what: "Lakedrop could not use what it was given.",
    next: "Check the files or settings you chose and try again.",
  },
  rejected: {
    what: "AWS refused the request as invalid.",
    next: "The details say which setting AWS objects to. Change it under Destination, run the checks again, and retry.",
  },
  "not-found": {
    what: "A file, folder, bucket, key, data store or job could not be found.",
    next: "It may have been moved or deleted, or belong to another Region. Choose it again, or refresh the list.",
  },
  io: {
    what: "A file could not be read or written.",
    next: "Check that the file is still there and readable and that the disk is not full, then try again.",
  },
  "file-changed": {
    what: "A file changed while it was being uploaded, or since it was checked; nothing of it was kept.",
    next: "Check it again, then import it.",
  },
  credentials: {
    what: "No valid AWS credentials were found, or they have expired.",
    next: "Sign in again (for example with “aws sso login”) and retry.",
  },
  config: {
    what: "Your AWS configuration is missing something Lakedrop needs: a profile, a Region, or a certificate file.",
    next: "The details name what and where. Fix it in ~/.aws/config (or choose another profile) and connect again.",
  },
  "sign-in": {
    what: "This profile signs in through IAM Identity Center, and its sign-in has expired or was never made.",
    next: "Sign in from here (your browser opens), or run “aws sso login” for the profile, then connect again.",
  },
  "mfa-required": {
    what: "This profile's role asks for a code from your MFA device.",
    next: "Enter the six digits your device shows now and connect.",
  },
  clock: {
    what: "AWS refused the request because this computer's clock is off by more than 15 minutes.",
    next: "Set the clock (turn on automatic date and time), then try again.",
  },
  "wrong-region": {
    what: "The bucket or data store is in another AWS Region than this connection.",
    next: "Connect to the Region the details name, or choose a bucket in this Region.",
  },
  "access-denied": {
    what: "AWS refused the request: the role in use is not allowed to do this.",
    next: "Ask your AWS administrator for access to the data store, its buckets and its KMS key.",
  },
  throttled: {
    what: "AWS is limiting how fast requests can be made, and Lakedrop's retries ran out.",
    next: "Wait a minute and try again. Other tools using the same account may be making many requests.",
  },
  dependency: {
    what: "HealthLake could not use a service it depends on: usually the KMS key, or the role's access to it or to the buckets.",
    next: "Check that the KMS key is enabled and that the import role may use it and the buckets, then run the checks again.",
  },
  conflict: {
    what: "AWS cannot do this yet: the data store or job is busy, or not in a state that allows it.",
    next: "Wait until the data store is active, or the job has moved on, and try again.",
  },
  offline: {
    what: "Lakedrop could not reach AWS.",
    next: "Check your network connection, VPN or proxy, then try again. Nothing is lost: an upload continues where it stopped.",
  },
  unavailable: {
    what: "AWS had a problem on its side, and Lakedrop's retries ran out.",
    next: "Wait a few minutes and try again. If it keeps happening, check the AWS Health Dashboard for the Region.",
  },
  aws: {
    what: "AWS returned an error Lakedrop does not recognise.",
    next: "The details give AWS's own words. Try again; if it keeps happening, share them with your administrator.",
  },
  cancelled: {
    what: "The operation was cancelled.",
    next: "Nothing more will be sent. You can start again whenever you are ready.",
  },
  sandbox: {
    what: "The local sandbox is not responding.",
    next: "Restart Lakedrop. If that does not help, delete the sandbox data folder and restart.",
  },
  "local-state": {
    what: "Lakedrop could not read or write its own records on this computer.",
    next: "Check that the disk is not full and that Lakedrop's data folder is writable, then restart Lakedrop.",
  },
  internal: {
    what: "Something went wrong inside Lakedrop.",
    next: "Try again. If it keeps happening, report it with the details below.",
  },
};

const ERROR_CODES = new Set<string>(Object.keys(SENTENCES));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && ERROR_CODES.has(value);
}

/** The human sentence for an error code. */
export function describeError(code: ErrorCode): ErrorSentence {
  return SENTENCES[code];
}

/**
 * The one error type the UI sees from the backend. `message` is the raw backend text,
 * meant for a "Details" disclosure; `what` and `next` are for the person.
 */
export class LakedropError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "LakedropError";
    this.code = code;
  }

  get what(): string {
    return describeError(this.code).what;
  }

  get next(): string {
    return describeError(this.code).next;
  }

  /** What happened and what to do, in one line, for a note beside the control that failed. */
  get sentence(): string {
    return `${this.what} ${this.next}`;
  }
}

function isIpcError(value: unknown): value is IpcError {
  return (
    typeof value === "object" &&
    value !== null &&
    "code" in value &&
    "message" in value &&
    typeof (value as { message: unknown }).message === "string"
  );
}

/**
 * Turns anything a command can reject with into a LakedropError. Besides our own
 * `{ code, message }`, Tauri itself rejects with a bare string (an unknown command, a
 * missing permission, an argument that does not deserialize), and JS can throw an Error.
 */
export function toLakedropError(value: unknown): LakedropError {
  if (value instanceof LakedropError) return value;
  if (isIpcError(value)) {
    return isErrorCode(value.code)
      ? new LakedropError(value.code, value.message)
      : new LakedropError("internal", `${String(value.code)}: ${value.message}`);
  }
  if (value instanceof Error) return new LakedropError("internal", value.message);
  if (typeof value === "string") return new LakedropError("internal", value);
  return new LakedropError("internal", JSON.stringify(value) ?? String(value));
}
