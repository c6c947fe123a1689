// aegisd entry point: start the daemon in the foreground and stop it cleanly on SIGTERM/SIGINT.
import fs from 'node:fs';
import { aegisPaths } from '../config/paths.js';
import { runningPid } from './pid-file.js';
import { startDaemon } from './daemon.js';

async function main(): Promise<void> {
  const paths = aegisPaths();
  fs.mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  const other = runningPid(paths.pidFile);
  if (other !== undefined && other !== process.pid) {
    process.stderr.write(`aegisd: already running (pid ${other})\n`);
    process.exit(1);
  }
  const daemon = await startDaemon(paths);
  const shutdown = (signal: string) => {
    daemon.api.log.info({ signal }, 'signal received');
    daemon.stop().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`aegisd: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`aegisd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
