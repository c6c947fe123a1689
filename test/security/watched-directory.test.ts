// Issue 21, item 1: the daemon applies a watched directory as root for whoever can write there. Its
// manifests read host files (valueFrom.file, oci:/docker-archive: refs, symlinked manifests) and the daemon's
// environment, git ran inside it, and the daemon inherited the environment of whoever ran `aegis up`. Each
// attack below is a watched directory trying it against a real daemon; each must be refused with an error in
// `aegis status` naming the file and the reason, the secret must never reach the store, and the last good
// state keeps running.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, writeDockerArchive, writeOciLayout } from '../support/oci-builder.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const FILE_SECRET = 'root-only-file-content-4f1c9a';
const SHELL_SECRET = 'shell-only-secret-8b2e77';
const ALLOWED_VALUE = 'allowed-token-value-31d0';
const IMAGE_SECRET = 'outside-image-secret-c3a5';

const secret = (name: string, app: string, value: string) =>
  `apiVersion: aegis.dev/v1\nkind: Secret\nmetadata: {name: ${name}}\nspec:\n  app: ${app}\n  data:\n    TOKEN: ${value}\n`;
/** The attacker's App: prints its secret where the attacker can read it. */
const app = (name: string, image: string) =>
  `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: ${name}}\nspec:\n  image: ${image}\n  command: [sh, -c, 'echo $TOKEN; exec sleep 1000']\n`;

interface WatchStatus {
  result: string;
  message: string;
  revision?: string;
}

describe('a watched directory reads only inside itself', () => {
  let t: TempHome;
  let watched: string;
  let outside: string;
  let layout: string;
  let gitLog: string;

  const status = async (): Promise<WatchStatus> => (await t.api('GET', '/v1/status')).body.watch;

  /** Replaces the watched directory's files (the baseline stays) and waits for the apply that sees them. */
  async function attack(files: Record<string, string | ((file: string) => void)>, until: (w: WatchStatus) => boolean | Promise<boolean>): Promise<WatchStatus> {
    for (const entry of fs.readdirSync(watched)) {
      if (!['.git', '.images', 'baseline.yaml'].includes(entry)) fs.rmSync(path.join(watched, entry), { recursive: true, force: true });
    }
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(watched, name);
      if (typeof content === 'string') fs.writeFileSync(file, content);
      else content(file);
    }
    let last: WatchStatus | undefined;
    return waitFor(async () => {
      last = await status();
      return last && (await until(last)) ? last : undefined;
    }, { what: 'the watched directory to be applied', timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; its last status: ${JSON.stringify(last)}`);
    });
  }

  /**
   * Whether the watched directory's apply has written app `name` (asked of the store: the status message
   * may already be that of a later apply that found everything unchanged).
   */
  const applied = async (s: WatchStatus, name: string) => s.result === 'ok' && (await t.api('GET', `/v1/apps/${name}`)).status === 200;

  /** Publishes a release of the app (the daemon pulls its image) and waits for the outcome. */
  async function publish(appName: string): Promise<{ status: { phase: string; conditions: unknown[] } }> {
    const created = await t.api('POST', `/v1/apps/${appName}/publish`, {});
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return waitFor(async () => {
      const r = (await t.api('GET', `/v1/resources/releases/${created.body.metadata.name}`)).body;
      return r?.status?.phase === 'Ready' || r?.status?.phase === 'Failed' ? r : undefined;
    }, { what: `the release of ${appName}`, timeoutMs: 20_000 });
  }

  /** The refusal: an error naming the file and why; nothing of this apply written; the secret nowhere. */
  async function expectRefused(w: WatchStatus, ...mentions: string[]): Promise<void> {
    expect(w.result).toBe('error');
    for (const m of mentions) expect(w.message).toContain(m);
    expect(w.message).toContain('the last good state keeps running');
    expect((await t.api('GET', '/v1/resources/secrets/leak')).status).toBe(404);
    expect((await t.api('GET', '/v1/apps/leak')).status).toBe(404);
    expect((await t.api('GET', '/v1/resources/secrets/baseline')).status).toBe(200);
    const cliStatus = await t.aegis(['status']);
    const log = fs.readFileSync(path.join(t.home, 'data', 'aegisd.log'), 'utf8');
    for (const value of [FILE_SECRET, SHELL_SECRET, IMAGE_SECRET]) expect(JSON.stringify(w) + cliStatus.stdout + log).not.toContain(value);
  }

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    outside = path.join(t.home, 'outside');
    watched = path.join(t.home, 'watched');
    fs.mkdirSync(path.join(outside, 'manifests'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.txt'), `${FILE_SECRET}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(outside, 'evil.yaml'), secret('leak', 'leak', FILE_SECRET));
    fs.writeFileSync(path.join(outside, 'manifests', 'more.yaml'), secret('leak', 'leak', FILE_SECRET));
    // A private image elsewhere on the host, as a layout and as an archive.
    const entries = [...busyboxEntries(), { name: 'etc/private', content: IMAGE_SECRET }];
    const privateImage = await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } });
    writeOciLayout(path.join(outside, 'layout'), [{ image: privateImage }]);
    await writeDockerArchive(path.join(outside, 'image.tar'), privateImage, 'private:1');

    fs.mkdirSync(watched);
    execFileSync('git', ['init', '-q', watched]);
    // Under a dot-directory, which the watch skips: a layout's index.json is not a manifest.
    layout = path.join(watched, '.images', 'layout');
    writeOciLayout(layout, [{ image: await buildImage({ layers: [{ entries: busyboxEntries() }], config: { Env: ['PATH=/bin'] } }) }]);
    fs.writeFileSync(path.join(watched, 'baseline.yaml'), secret('baseline', 'baseline', 'plain-value'));
    execFileSync('git', ['-C', watched, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'add', '.']);
    execFileSync('git', ['-C', watched, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-qm', 'baseline']);

    // Git must not run in the watched directory at all: a `git` first on the daemon's PATH records every run.
    const shim = path.join(t.home, 'shim');
    gitLog = path.join(t.home, 'git-runs.log');
    fs.mkdirSync(shim);
    fs.writeFileSync(path.join(shim, 'git'), `#!/bin/sh\necho "$*" >> ${gitLog}\nexec /usr/bin/git "$@"\n`, { mode: 0o755 });
    t.env.PATH = `${shim}:${t.env.PATH}`;

    fs.writeFileSync(path.join(t.home, 'config.yaml'), 'router:\n  port: 0\nwatchInterval: 1s\nwatchEnv: [ALLOWED_TOKEN]\n');
    t.env.ALLOWED_TOKEN = ALLOWED_VALUE;
    t.env.SHELL_SECRET = SHELL_SECRET; // in the shell that runs `aegis up`, never meant for the daemon
    const up = await t.aegis(['up', '--watch', watched]);
    expect(up.code, up.stderr).toBe(0);
    await waitFor(async () => (await t.api('GET', '/v1/resources/secrets/baseline')).status === 200, { what: 'the baseline' });
  }, 60_000);

  afterAll(async () => t?.dispose());

  it('refuses valueFrom.file with an absolute path outside', async () => {
    const file = path.join(outside, 'secret.txt');
    const w = await attack({ 'leak.yaml': secret('leak', 'leak', `{valueFrom: {file: ${file}}}`) + '---\n' + app('leak', `oci:${layout}`) }, (s) => s.message.includes(file));
    await expectRefused(w, 'leak.yaml', `${file} is outside the watched directory ${watched}`);
  });

  it('refuses valueFrom.file reaching out with ..', async () => {
    const w = await attack({ 'leak.yaml': secret('leak', 'leak', '{valueFrom: {file: ../outside/secret.txt}}') }, (s) => s.message.includes('../outside'));
    await expectRefused(w, 'leak.yaml', 'reads ../outside/secret.txt', 'is outside the watched directory');
  });

  it('refuses valueFrom.file through a symlink that leads out', async () => {
    const w = await attack(
      { creds: (f) => fs.symlinkSync(path.join(outside, 'secret.txt'), f), 'leak.yaml': secret('leak', 'leak', '{valueFrom: {file: creds}}') },
      (s) => s.message.includes('creds'),
    );
    await expectRefused(w, 'leak.yaml', `${path.join(watched, 'creds')} leads outside the watched directory`, 'symlink');
  });

  it('refuses valueFrom.env of a variable watchEnv does not list', async () => {
    const w = await attack({ 'leak.yaml': secret('leak', 'leak', '{valueFrom: {env: SHELL_SECRET}}') }, (s) => s.message.includes('SHELL_SECRET'));
    await expectRefused(w, 'leak.yaml', `reads environment variable SHELL_SECRET, which watchEnv in ${path.join(t.home, 'config.yaml')} does not list`);
  });

  it('reads valueFrom.env of a listed variable, and the in-directory image', async () => {
    const w = await attack(
      { 'reader.yaml': secret('reader', 'reader', '{valueFrom: {env: ALLOWED_TOKEN}}') + '---\n' + app('reader', `oci:${layout}`) },
      (s) => applied(s, 'reader'),
    );
    expect(w.result).toBe('ok');
    expect((await publish('reader')).status.phase).toBe('Ready'); // a layout inside is read, through the confinement
    // Reversed: the value itself would show as *** (secret masking).
    const run = await t.aegis(['run', '--app', 'reader', '--', 'sh', '-c', 'echo "token=$TOKEN" | rev']);
    expect(run.stdout, run.stderr).toBe(`${[...`token=${ALLOWED_VALUE}`].reverse().join('')}\n`);
  });

  it('refuses oci: and docker-archive: images outside the directory', async () => {
    const oci = await attack({ 'leak.yaml': app('leak', `oci:${path.join(outside, 'layout')}`) }, (s) => s.message.includes('outside/layout'));
    await expectRefused(oci, 'leak.yaml', `${path.join(outside, 'layout')} is outside the watched directory`);
    const archive = path.join(outside, 'image.tar');
    const tar = await attack({ 'leak.yaml': app('leak', `docker-archive:${archive}`) }, (s) => s.message.includes('image.tar'));
    await expectRefused(tar, 'leak.yaml', `${archive} is outside the watched directory`);
    expect((await t.api('GET', '/v1/images')).body.items.map((i: { ref: string }) => i.ref).join(' ')).not.toContain(outside);
  });

  it('refuses an image layout inside whose files link out, when the daemon pulls it', async () => {
    const sneaky = path.join(watched, '.sneaky');
    const w = await attack(
      {
        '.sneaky': (dir) => {
          fs.mkdirSync(dir);
          fs.copyFileSync(path.join(outside, 'layout', 'oci-layout'), path.join(dir, 'oci-layout'));
          fs.symlinkSync(path.join(outside, 'layout', 'index.json'), path.join(dir, 'index.json'));
          fs.symlinkSync(path.join(outside, 'layout', 'blobs'), path.join(dir, 'blobs'));
        },
        'sneaky.yaml': app('sneaky', `oci:${sneaky}`),
      },
      (s) => applied(s, 'sneaky'),
    );
    expect(w.result).toBe('ok'); // the layout directory itself is inside: the pull is what reads the files
    const release = await publish('sneaky');
    expect(release.status.phase).toBe('Failed');
    expect(JSON.stringify(release.status.conditions)).toContain(`${path.join(sneaky, 'index.json')} leads outside the watched directory`);
  });

  it('refuses symlinked manifest files and directories that lead out, without reading them', async () => {
    const w = await attack({ 'evil.yaml': (f) => fs.symlinkSync(path.join(outside, 'evil.yaml'), f) }, (s) => s.message.includes('evil.yaml'));
    await expectRefused(w, `${path.join(watched, 'evil.yaml')}: leads outside the watched directory`);
    const d = await attack({ more: (f) => fs.symlinkSync(path.join(outside, 'manifests'), f) }, (s) => s.message.includes(path.join(watched, 'more')));
    await expectRefused(d, `${path.join(watched, 'more')}: leads outside the watched directory`);
  });

  it('refuses a FIFO posing as a manifest instead of blocking on it', async () => {
    const w = await attack({ 'stuck.yaml': (f) => execFileSync('mkfifo', [f]) }, (s) => s.message.includes('stuck.yaml'));
    await expectRefused(w, `${path.join(watched, 'stuck.yaml')}: is not a regular file`);
    expect((await t.aegis(['status'])).code).toBe(0); // and the daemon still answers
  });

  it('shows the git revision without running git, so a code-running .git/config never runs', async () => {
    const marker = path.join(t.home, 'fsmonitor-ran');
    const expected = execFileSync('git', ['-C', watched, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    execFileSync('git', ['-C', watched, 'pack-refs', '--all']); // the branch now lives in packed-refs only
    execFileSync('git', ['-C', watched, 'config', 'core.fsmonitor', `touch ${marker}; false`]);
    execFileSync('git', ['-C', watched, 'config', 'core.pager', `touch ${marker}`]);
    fs.rmSync(gitLog, { force: true });
    const w = await attack({ 'note.yaml': secret('note', 'note', 'hello') }, (s) => s.result === 'ok');
    expect(w.revision).toBe(expected);
    expect((await t.aegis(['status'])).stdout).toContain(`watch: ${watched} @ ${expected}: ok`);
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(gitLog) ? fs.readFileSync(gitLog, 'utf8') : '').toBe('');
  });

  it('starts the daemon with a minimal environment: the shell\'s variables stay behind', async () => {
    const pid = fs.readFileSync(path.join(t.home, 'data', 'aegisd.pid'), 'utf8').trim();
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
    const names = environ.map((e) => e.slice(0, e.indexOf('=')));
    expect(names).not.toContain('SHELL_SECRET');
    expect(environ.join('\n')).not.toContain(SHELL_SECRET);
    expect(names).not.toContain('COLUMNS'); // set by the test harness for the CLI, of no use to the daemon
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'AEGIS_HOME', 'AEGIS_WATCH', 'ALLOWED_TOKEN']));
  });
});
