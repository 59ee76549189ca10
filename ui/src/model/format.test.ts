import { describe, expect, it } from "vitest";
import { countTicks, sentence } from "./format";

describe("countTicks", () => {
  it("gives every whole number up to a small maximum, and leaves large axes to the chart", () => {
    expect(countTicks(1)).toEqual([0, 1]);
    expect(countTicks(3)).toEqual([0, 1, 2, 3]);
    expect(countTicks(0)).toEqual([0, 1]);
    expect(countTicks(11)).toBeUndefined();
  });
});

describe("sentence", () => {
  it("makes a backend phrase a sentence, keeping names' case", () => {
    expect(sentence("role LakedropTypo does not exist")).toBe("Role LakedropTypo does not exist.");
    expect(sentence("lakedrop-output is in us-east-1, like the data store")).toBe(
      "lakedrop-output is in us-east-1, like the data store.",
    );
    expect(sentence("arn:aws:iam::1:role/r is a role ARN")).toBe(
      "arn:aws:iam::1:role/r is a role ARN.",
    );
    expect(sentence("Signed in to the sandbox.")).toBe("Signed in to the sandbox.");
    expect(sentence("in-1 encrypts by default (AES256)")).toBe(
      "in-1 encrypts by default (AES256).",
    );
    expect(sentence("KMS key alias/k (k1) is enabled and symmetric")).toBe(
      "KMS key alias/k (k1) is enabled and symmetric.",
    );
  });
});
