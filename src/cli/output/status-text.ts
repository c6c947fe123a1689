// What `aegis status` prints for a running daemon (the command and its fast path in main.ts share it).
import type { DaemonStatus } from '../../sdk/daemon-status.js';

export function statusText(status: DaemonStatus): string[] {
  const lines = ['aegisd: running', `backend: ${status.backend ?? 'none (no backend can run here; see aegis doctor)'}`];
  if (status.capabilities?.isolation === 'namespace') lines.push('isolation: namespaces (not a VM)');
  lines.push(`router: ${status.router ?? 'not listening (its port is taken? see $AEGIS_HOME/data/aegisd.log)'}`);
  if (status.watch) {
    const w = status.watch;
    lines.push(`watch: ${w.dir}${w.revision ? ` @ ${w.revision}` : ''}: ${w.result}${w.lastAppliedAt ? ` (applied ${w.lastAppliedAt})` : ''}: ${w.message}`);
  }
  return lines;
}
