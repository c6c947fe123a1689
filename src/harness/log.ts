// The harness's own diagnostics: one line per event on stderr, which the backend keeps as boot log.

let broken = false;

// When nobody reads our stderr any more (the backend went away), writes fail with EPIPE. Stop
// logging instead of letting the error become an uncaught exception that logs again, forever.
process.stderr.on('error', () => {
  broken = true;
});

export function log(message: string): void {
  if (broken) return;
  try {
    process.stderr.write(`aegis-harness: ${message}\n`);
  } catch {
    broken = true;
  }
}
