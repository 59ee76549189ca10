// The text of the app's single aria-live region. Views announce milestones here
// (checking started and finished, upload progress by quarter, job outcome), not every tick.

export const live = $state({ message: "" });

export function announce(message: string): void {
  // Screen readers ignore a region whose text does not change; a zero-width space added
  // to a repeat makes the same sentence count as new.
  live.message = live.message === message ? `${message}\u200b` : message;
}
