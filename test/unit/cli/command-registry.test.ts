// The lazy command table must say what each command says of itself, or a command would be unreachable.
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../../src/cli/cli.js';
import { COMMANDS, commandFor } from '../../../src/cli/commands/index.js';

describe('the command table', () => {
  it('names each command by the path the command itself declares', async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      if (entry.path === null) continue; // help: many paths, loads everything
      expect(command.paths, command.name).toEqual([entry.path]);
    }
  });

  it('loads only the selected command, and all of them for help or words that select none', async () => {
    expect((await buildCli(['app', 'create', '--name', 'x'])).definitions().map((d) => d.path)).toEqual(['aegis app create']);
    expect(commandFor(['app'])).toBeUndefined();
    expect(commandFor(['help'])).toBeUndefined();
    expect(commandFor(['statsu'])).toBeUndefined();
    expect((await buildCli(['statsu'])).definitions().length).toBe(COMMANDS.length);
  });
});
