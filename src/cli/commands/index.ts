// Every aegis command, in the order help lists them: the words that select it, and how to load it. Only the
// command that runs is loaded, with what it imports (`aegis status` does not pay for `aegis apply`'s YAML
// and schemas); help, and words that name no command, load them all. A test checks these paths against
// each command's own `paths`.
import type { CommandClass } from 'clipanion';
import type { AegisContext } from '../context.js';

export interface CommandEntry {
  /** The words that select the command; null for help, which lists the others and so needs them all. */
  path: string[] | null;
  load: () => Promise<CommandClass<AegisContext>>;
}

export const COMMANDS: CommandEntry[] = [
  { path: ['up'], load: async () => (await import('./platform/up.js')).UpCommand },
  { path: ['down'], load: async () => (await import('./platform/down.js')).DownCommand },
  { path: ['status'], load: async () => (await import('./platform/status.js')).StatusCommand },
  { path: ['doctor'], load: async () => (await import('./platform/doctor.js')).DoctorCommand },
  { path: ['ui'], load: async () => (await import('./platform/ui.js')).UiCommand },
  { path: ['mcp'], load: async () => (await import('./platform/mcp.js')).McpCommand },
  { path: null, load: async () => (await import('./platform/help.js')).HelpCommand },
  { path: ['run'], load: async () => (await import('./task/run.js')).RunCommand },
  { path: ['image', 'pull'], load: async () => (await import('./image/pull.js')).ImagePullCommand },
  { path: ['image', 'list'], load: async () => (await import('./image/list.js')).ImageListCommand },
  { path: ['image', 'rm'], load: async () => (await import('./image/rm.js')).ImageRmCommand },
  { path: ['image', 'prune'], load: async () => (await import('./image/prune.js')).ImagePruneCommand },
  { path: ['app', 'create'], load: async () => (await import('./app/create.js')).AppCreateCommand },
  { path: ['app', 'publish'], load: async () => (await import('./app/publish.js')).AppPublishCommand },
  { path: ['app', 'serve'], load: async () => (await import('./app/serve.js')).AppServeCommand },
  { path: ['app', 'list'], load: async () => (await import('./app/list.js')).AppListCommand },
  { path: ['app', 'info'], load: async () => (await import('./app/info.js')).AppInfoCommand },
  { path: ['app', 'logs'], load: async () => (await import('./app/logs.js')).AppLogsCommand },
  { path: ['app', 'delete'], load: async () => (await import('./app/delete.js')).AppDeleteCommand },
  { path: ['instance', 'list'], load: async () => (await import('./instance/list.js')).InstanceListCommand },
  { path: ['instance', 'info'], load: async () => (await import('./instance/info.js')).InstanceInfoCommand },
  { path: ['exec'], load: async () => (await import('./instance/exec.js')).ExecCommand },
  { path: ['cp'], load: async () => (await import('./files/cp.js')).CpCommand },
  { path: ['logs'], load: async () => (await import('./instance/logs.js')).LogsCommand },
  { path: ['secret', 'set'], load: async () => (await import('./secret/set.js')).SecretSetCommand },
  { path: ['secret', 'list'], load: async () => (await import('./secret/list.js')).SecretListCommand },
  { path: ['secret', 'delete'], load: async () => (await import('./secret/delete.js')).SecretDeleteCommand },
  { path: ['secret', 'set-workspace'], load: async () => (await import('./secret/set-workspace.js')).SecretSetWorkspaceCommand },
  { path: ['secret', 'list-workspace'], load: async () => (await import('./secret/list-workspace.js')).SecretListWorkspaceCommand },
  { path: ['secret', 'delete-workspace'], load: async () => (await import('./secret/delete-workspace.js')).SecretDeleteWorkspaceCommand },
  { path: ['kit', 'install'], load: async () => (await import('./kit/install.js')).KitInstallCommand },
  { path: ['kit', 'list'], load: async () => (await import('./kit/list.js')).KitListCommand },
  { path: ['kit', 'info'], load: async () => (await import('./kit/info.js')).KitInfoCommand },
  { path: ['kit', 'uninstall'], load: async () => (await import('./kit/uninstall.js')).KitUninstallCommand },
  { path: ['apply'], load: async () => (await import('./declarative/apply.js')).ApplyCommand },
  { path: ['diff'], load: async () => (await import('./declarative/diff.js')).DiffCommand },
  { path: ['get'], load: async () => (await import('./declarative/get.js')).GetCommand },
  { path: ['describe'], load: async () => (await import('./declarative/describe.js')).DescribeCommand },
  { path: ['delete'], load: async () => (await import('./declarative/delete.js')).DeleteCommand },
];

/** The command `argv` selects, or undefined when it takes all of them to tell (help, a typo, a group alone). */
export function commandFor(argv: string[]): CommandEntry | undefined {
  return COMMANDS.find((c) => c.path !== null && c.path.every((word, i) => argv[i] === word));
}
