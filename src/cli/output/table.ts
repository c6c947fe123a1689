// Fixed-width tables as the seed reference prints them: each column padded to its width plus one space.
export interface Column<T> {
  header: string;
  width: number;
  value: (row: T) => string;
}

export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(columns[i].width) + ' '))
      .join('')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map((r) => line(columns.map((c) => c.value(r))))].join('\n') + '\n';
}
