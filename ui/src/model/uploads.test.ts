import { describe, expect, it } from "vitest";
import { cleanedText } from "./uploads";

describe("cleanedText", () => {
  it("says when there was nothing to clean", () => {
    expect(cleanedText({ aborted: 0, resumable: 0, others: 0 })).toBe(
      "No unfinished uploads were found.",
    );
  });

  it("says what was aborted, what was kept and what was left alone", () => {
    expect(cleanedText({ aborted: 2, resumable: 1, others: 1 })).toBe(
      "2 abandoned uploads aborted. 1 interrupted upload kept: importing the same files again resumes it. 1 upload not started by Lakedrop, left alone.",
    );
  });

  it("says that nothing was aborted when only kept or foreign uploads were found", () => {
    expect(cleanedText({ aborted: 0, resumable: 3, others: 0 })).toBe(
      "No abandoned uploads to abort. 3 interrupted uploads kept: importing the same files again resumes them.",
    );
  });
});
