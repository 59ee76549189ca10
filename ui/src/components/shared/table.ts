export interface Column<R> {
  header: string;
  cell: (row: R) => string;
  /** Right-aligned, tabular figures. */
  numeric?: boolean;
  /** This column names the row (rendered as a row header). */
  rowHeader?: boolean;
}
