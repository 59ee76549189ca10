import { describe, expect, it } from "vitest";
import { countTicks } from "./format";

describe("countTicks", () => {
  it("gives every whole number up to a small maximum, and leaves large axes to the chart", () => {
    expect(countTicks(1)).toEqual([0, 1]);
    expect(countTicks(3)).toEqual([0, 1, 2, 3]);
    expect(countTicks(0)).toEqual([0, 1]);
    expect(countTicks(11)).toBeUndefined();
  });
});
