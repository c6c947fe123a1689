// aegisd entry point: start the daemon in the foreground and stop it cleanly on SIGTERM/SIGINT.
import fs from 'node:fs';
import { aegisPaths } from '../config/paths.js';
import { startDaemon } from './daemon.js';
import { lockHome } from './home-lock.js';

async function main(): Promise<void> {
  const paths = aegisPaths();
  fs.mkdirSync(paths.data, { recursive: true, mode: 0o700 });
  const lock = lockHome(paths.lockFile);
  if (!lock.held) {
    const who = lock.ownerPid !== undefined ? ` (pid ${lock.ownerPid})` : '';
    process.stderr.write(`aegisd: another aegisd${who} holds ${paths.home}; stop it first (aegis down)\n`);
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
