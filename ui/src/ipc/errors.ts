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
  "not-found": {
    what: "A file, folder or job could not be found.",
    next: "It may have been moved or deleted. Choose it again, or refresh the list.",
  },
  io: {
    what: "A file could not be read or written.",
    next: "Check that the file is still there and readable and that the disk is not full, then try again.",
  },
  credentials: {
    what: "No valid AWS credentials were found, or they have expired.",
    next: "Sign in again (for example with “aws sso login”) and retry.",
  },
  "access-denied": {
    what: "AWS refused the request: the role in use is not allowed to do this.",
    next: "Ask your AWS administrator for access to the data store, its buckets and its KMS key.",
  },
  aws: {
    what: "AWS returned an error.",
    next: "Wait a moment and try again. If it keeps happening, share the details below with your administrator.",
  },
  cancelled: {
    what: "The operation was cancelled.",
    next: "Nothing more will be sent. You can start again whenever you are ready.",
  },
  sandbox: {
    what: "The local sandbox is not responding.",
    next: "Restart Lakedrop. If that does not help, delete the sandbox data folder and restart.",
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
