// The web dashboard in a real browser (Debian's chromium, driven by playwright-core) against a real daemon
// serving examples/multi-app: the instances appear from the live feed, pausing one changes its state on the
// page, its logs stream, the console runs a command, and nothing answers without the token. A screenshot of
// each page lands in test-results/dashboard/.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { httpGet } from '../support/http-get.js';
import { CAN_PAUSE, ROOT, scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const APPS = ['api', 'frontend', 'worker'];
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'dashboard');

describe('web dashboard (aegis ui) in chromium', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let browser: Browser;
  let page: Page;
  let url: string;

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }, { name: 'bin/mkdir', type: 'symlink' as const, linkname: 'busybox' }];
    await pushImage(registry.url, 'library/busybox', '1.36', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    // examples/multi-app as it is, its image pointed at the test's registry (as in declarative-serve.test.ts).
    const dir = fs.mkdtempSync(path.join(t.home, 'multi-app-'));
    for (const f of fs.readdirSync(path.join(ROOT, 'examples', 'multi-app'))) {
      const text = fs.readFileSync(path.join(ROOT, 'examples', 'multi-app', f), 'utf8');
      fs.writeFileSync(path.join(dir, f), text.replace('image: busybox:1.36', `image: ${registry.host}/library/busybox:1.36`));
    }
    // A watched directory too, holding a file that fails validation: the overview shows its last error.
    const watched = fs.mkdtempSync(path.join(t.home, 'watched-'));
    fs.writeFileSync(path.join(watched, 'broken.yaml'), 'apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: broken}\nspec: {image: busybox:1.36, bogus: 1}\n');
    expect((await t.aegis(['up', '--watch', watched])).code).toBe(0);
    expect((await t.aegis(['apply', '-f', dir])).code).toBe(0);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    // Every action asks for confirmation: the test says yes.
    page.on('dialog', (d) => void d.accept());
  }, scaled(60_000));

  afterAll(async () => {
    await browser?.close();
    for (const app of APPS) await t?.api('DELETE', `/v1/apps/${app}`);
    await waitFor(async () => (await t.api('GET', '/v1/instances')).body.items.length === 0, { what: 'the served instances to go' }).catch(() => undefined);
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('aegis ui prints a URL with a token; without it, or from another origin, nothing answers', async () => {
    const r = await t.aegis(['ui', '--no-open']);
    expect(r.code).toBe(0);
    url = r.stdout.trim();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
    // The same URL on a second call: one dashboard per daemon.
    expect((await t.aegis(['ui', '--no-open'])).stdout.trim()).toBe(url);
    const base = url.slice(0, url.indexOf('?'));
    const token = new URL(url).searchParams.get('token')!;
    expect((await httpGet(url)).status).toBe(200);
    for (const target of [base, `${base}v1/instances`, `${base}ui/watch`, `${base}assets/dashboard.js`, `${base}v1/instances?token=wrong`]) {
      expect((await httpGet(target)).status, target).toBe(401);
    }
    expect((await httpGet(`${base}v1/instances`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    // Another origin (a page on the router, say) and a rebound Host name are refused even with the token.
    expect((await httpGet(url, { headers: { origin: 'http://api.localhost:8099' } })).status).toBe(403);
    expect((await httpGet(url, { headers: { host: `rebind.example:${new URL(url).port}` } })).status).toBe(421);
    // The token is not in the daemon's log.
    expect(fs.readFileSync(path.join(t.home, 'data', 'aegisd.log'), 'utf8')).not.toContain(token);
  });

  it('shows the instances of examples/multi-app live, each reaching running', async () => {
    await page.goto(url);
    for (const app of APPS) await page.locator(`tr[data-instance="${app}"] [data-state="running"]`).waitFor({ timeout: scaled(20_000) });
    await expect(page.locator('[data-feed]').getAttribute('data-feed')).resolves.toBe('live');
    // The watched directory's last apply failed validation: the page names the file and the field.
    await page.locator('[data-watch] .result-error').waitFor({ timeout: scaled(10_000) });
    await page.locator('[data-watch]', { hasText: 'bogus' }).waitFor();
    await shot('overview');
  });

  it('the instance page streams its logs and runs commands in its console, on a terminal in the guest', async () => {
    await page.click('tr[data-instance="api"] a');
    await page.locator('[data-page="instance"]').waitFor();
    // The server's first line, from the log follow.
    await page.locator('[data-logs]', { hasText: 'api up' }).waitFor({ timeout: scaled(10_000) });
    await page.locator('[data-console-status]', { hasText: 'connected (terminal)' }).waitFor({ timeout: scaled(20_000) });
    const screen = page.locator('.terminal .xterm-rows');
    const run = async (line: string, expected: string | RegExp) => {
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
      await screen.filter({ hasText: expected }).waitFor({ timeout: scaled(20_000) });
    };
    await page.locator('.terminal .xterm-helper-textarea').focus();
    // The shell computed it: not an echo of what was typed.
    await run('echo sum=$((6*7))', 'sum=42');
    // A real terminal: stdin is a pty, of the size the page asked for.
    await run('busybox tty', /\/dev\/pts\/\d+/);
    const size = (await page.evaluate(() => document.querySelector('.terminal .xterm-rows')?.children.length)) ?? 0;
    await run('echo size=$(busybox stty size)', new RegExp(`size=${size} \\d+`));
    // Ctrl+C reaches the foreground command through the terminal (the slave is the shell's controlling tty).
    // Only once sleep runs: a Ctrl+C that reaches the terminal before the shell has read the line flushes it.
    await run('echo sleep$((1+1)); sleep 30', 'sleep2');
    await page.waitForTimeout(300);
    await page.keyboard.press('Control+C');
    await run('echo rc=$?', 'rc=130');
    // The exec's output also reaches the instance's log, under source exec.
    await page.locator('[data-logs]', { hasText: 'sum=42' }).waitFor({ timeout: scaled(20_000) });
    // The charts have data (the instance runs on this daemon).
    await page.locator('[data-chart="Memory"] b', { hasText: 'MiB' }).waitFor({ timeout: scaled(10_000) });
    await shot('instance');
  });

  it('resizing the page resizes the terminal in the guest', async () => {
    await page.setViewportSize({ width: 800, height: 900 });
    await page.locator('.terminal .xterm-helper-textarea').focus();
    await page.keyboard.type('echo cols=$(busybox stty size)');
    await page.keyboard.press('Enter');
    const line = page.locator('.terminal .xterm-rows', { hasText: /cols=\d+ (\d+)/ });
    await line.waitFor({ timeout: scaled(20_000) });
    const shown = Number(/cols=\d+ (\d+)/.exec((await line.textContent()) ?? '')?.[1]);
    expect(shown).toBeGreaterThan(20);
    expect(shown).toBeLessThan(110); // narrower than at 1200 px
    await page.setViewportSize({ width: 1200, height: 900 });
  });

  it.runIf(CAN_PAUSE)('pausing from the page pauses the instance, and resume brings it back', async () => {
    const badge = page.locator('h2 [data-state]');
    await expect(badge.getAttribute('data-state')).resolves.toBe('running');
    await page.click('button[data-action="pause"]');
    await page.locator('h2 [data-state="paused"]').waitFor({ timeout: scaled(10_000) });
    // The store says so too: the page shows what the controller wrote.
    expect((await t.api('GET', '/v1/instances/api')).body.status.state).toBe('paused');
    await page.click('button[data-action="resume"]');
    await page.locator('h2 [data-state="running"]').waitFor({ timeout: scaled(10_000) });
  });

  it('restart and stop from the page act on the instance; a dismissed confirmation does nothing', async () => {
    const machine = async () => (await t.api('GET', '/v1/instances/api')).body.status.machineId as string | undefined;
    const before = await machine();
    // Say no once: nothing happens.
    page.removeAllListeners('dialog');
    page.once('dialog', (d) => void d.dismiss());
    await page.click('button[data-action="stop"]');
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.api('GET', '/v1/instances/api')).body.status.state).toBe('running');
    page.on('dialog', (d) => void d.accept());
    await page.click('button[data-action="restart"]');
    await waitFor(async () => (await machine()) !== undefined && (await machine()) !== before, { what: 'a new machine after restart', timeoutMs: 15_000 });
    await page.locator('h2 [data-state="running"]').waitFor({ timeout: scaled(10_000) });
    await page.click('button[data-action="stop"]');
    await page.locator('h2 [data-state="stopped"]').waitFor({ timeout: scaled(10_000) });
    // Stopped is not gone: the next request boots it again.
    await page.click('button[data-action="restart"]');
    await page.locator('h2 [data-state="running"]').waitFor({ timeout: scaled(15_000) });
  });

  it('delete from the page removes an instance', async () => {
    const created = await t.api('POST', '/v1/instances', { command: ['sh', '-c', 'exec sleep 3600'], expose: [9000] });
    expect(created.status).toBe(201);
    const name = created.body.metadata.name as string;
    await page.goto(`${url}#/instance/${name}`);
    await page.locator('h2 [data-state="running"]').waitFor({ timeout: scaled(15_000) });
    await page.click('button[data-action="delete"]');
    // Back on the overview, without the instance.
    await page.locator('tr[data-instance="api"]').waitFor();
    await page.locator(`tr[data-instance="${name}"]`).waitFor({ state: 'detached', timeout: scaled(15_000) });
    expect((await t.api('GET', `/v1/instances/${name}`)).status).toBe(404);
  });

  it('the app page describes the app: conditions and events; secrets show by name only', async () => {
    expect((await t.aegis(['secret', 'set', 'api', 'API_TOKEN', '-'], { input: 'value-that-must-not-show' })).code).toBe(0);
    await page.goto(`${url}#/app/api`);
    await page.locator('[data-page="app"] [data-table="conditions"] td', { hasText: 'Serving' }).first().waitFor({ timeout: scaled(10_000) });
    await shot('app');
    await page.goto(`${url}#/`);
    await page.locator('[data-table="secrets"] td', { hasText: 'API_TOKEN' }).waitFor({ timeout: scaled(10_000) });
    expect(await page.content()).not.toContain('value-that-must-not-show');
  });

  it('the task page shows a finished task', async () => {
    expect((await t.aegis(['run', '--', 'echo', 'from a task'])).code).toBe(0);
    const task = page.locator('tr[data-task] [data-state="Succeeded"]').first();
    await task.waitFor({ timeout: scaled(10_000) });
    await page.locator('tr[data-task] a').first().click();
    await page.locator('[data-page="task"] [data-table="conditions"]').waitFor();
    await shot('task');
  });
});
