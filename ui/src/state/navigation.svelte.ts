// Which view is shown. No router: the app has four views and no URLs worth sharing.

export type View =
  | { name: "files" }
  | { name: "destination" }
  | { name: "import" }
  | { name: "jobs" }
  | { name: "job"; jobId: string }
  /** The jobs of one import of more than 10,000 files, followed as one. */
  | { name: "jobGroup"; jobIds: string[] };

export const STEPS = ["Files", "Destination", "Upload", "Job", "Results"];

export const nav = $state<{ view: View; resultsShown: boolean }>({
  view: { name: "files" },
  resultsShown: false,
});

export function go(view: View): void {
  nav.view = view;
  nav.resultsShown = false;
}

/** The step indicator's current step for the view shown. */
export function currentStep(view: View, resultsShown: boolean): number {
  switch (view.name) {
    case "files":
      return 0;
    case "destination":
      return 1;
    case "import":
      return 2;
    case "job":
    case "jobGroup":
      return resultsShown ? 4 : 3;
    case "jobs":
      return -1;
  }
}
