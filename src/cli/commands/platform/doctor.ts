// `aegis doctor`: what this host has, what the daemon runs on, and what it can do.
import { Command } from 'clipanion';
import { runningPid } from '../../../daemon/pid-file.js';
import { AegisCommand } from '../../base-command.js';
import { hostChecks } from '../../client/host-checks.js';

const yesNo = (b: boolean | undefined) => (b ? 'yes' : 'no');

export class DoctorCommand extends AegisCommand {
  static override paths = [['doctor']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'diagnose the local environment',
    details: `
      Checks the tools and libraries Aegis uses (Node, libkrun, qemu, unshare, busybox, e2fsprogs) and whether the daemon runs. When it does, also shows every backend with why it can or cannot run here, the chosen backend, its capabilities and the number of installed kits. Exits 1 when a required check fails.
    `,
    examples: [['Diagnose', '$0 doctor']],
  });

  async execute(): Promise<number> {
    const lines = ['Aegis Doctor', '============', ''];
    const checks = hostChecks();
    for (const c of checks) lines.push(`${`${c.label}:`.padEnd(11)}${c.detail}`);
    const pid = runningPid(this.context.paths.pidFile);
    lines.push('', `${'aegisd:'.padEnd(10)}${pid ? 'running' : 'not running'}`);
    if (pid) {
      const s = await this.context.aegis.status();
      lines.push('', 'Backends:');
      for (const [name, p] of Object.entries(s.backends)) lines.push(`  ${`${name}:`.padEnd(9)}${p.available ? 'available' : 'unavailable'} (${p.detail})`);
      lines.push('');
      const isolation = s.capabilities?.isolation === 'namespace' ? ' (namespace isolation, not a VM)' : '';
      lines.push(`${'Backend:'.padEnd(13)}${s.backend ?? 'none'}${isolation}`);
      if (s.backendReason) lines.push(`${'Chosen:'.padEnd(13)}${s.backendReason}`);
      lines.push('Capabilities:');
      lines.push(`  Pause/Resume:          ${yesNo(s.capabilities?.pauseResume)}`);
      lines.push(`  Memory Snapshots:      ${yesNo(s.capabilities?.memorySnapshots)}`);
      lines.push(`  Boot from disk layers: ${yesNo(s.capabilities?.bootFromDiskLayers)}`);
      lines.push(`  Workspace mounts:      ${yesNo(s.capabilities?.workspaceMounts)}`);
      lines.push(`Installed kits: ${s.counts.Kit ?? 0}`);
    }
    this.out(lines.join('\n'));
    return checks.some((c) => !c.ok && !c.optional) ? 1 : 0;
  }
}
