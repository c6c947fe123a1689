// An argv shown as a shell would need it typed: words with blanks or quotes come out single-quoted.
export function formatCommand(argv: string[]): string {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
