// What cleaning up unfinished uploads did, in words for the Jobs view and the live region.
import type { UploadsCleaned } from "../ipc";
import { plural } from "./format";

/**
 * "2 abandoned uploads aborted. 1 kept: importing the same files again resumes it. 1 not started
 * by Lakedrop, left alone." Each count is said only when there is something to say.
 */
export function cleanedText(c: UploadsCleaned): string {
  if (c.aborted + c.resumable + c.others === 0) return "No unfinished uploads were found.";
  const parts = [
    c.aborted === 0
      ? "No abandoned uploads to abort."
      : `${plural(c.aborted, "abandoned upload")} aborted.`,
  ];
  if (c.resumable > 0)
    parts.push(
      `${plural(c.resumable, "interrupted upload")} kept: importing the same files again resumes ${c.resumable === 1 ? "it" : "them"}.`,
    );
  if (c.others > 0)
    parts.push(`${plural(c.others, "upload")} not started by Lakedrop, left alone.`);
  return parts.join(" ");
}
