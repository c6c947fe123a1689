// What the host accepts from a harness: shapes checked, unknown fields dropped, guest text made printable and bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExecExit, checkExecStarted, checkHealthResponse, guestText, ReplyShapeError } from '../../../src/vmm/channel/reply-checks.js';
import { readFileHead, readFileTail } from '../../../src/util/read-file-end.js';

const health = { protocol: 1, harnessVersion: '0.1.0', pid: 1, uptimeMs: 5, hostname: 'h', execs: [], main: null, zombies: 0 };

describe('guestText', () => {
  it('escapes control characters so guest text cannot forge lines or drive a terminal', () => {
    expect(guestText('a\nb\x1b[31mc\r')).toBe('a\\x0ab\\x1b[31mc\\x0d');
  });

  it('cuts long text with a marker saying how much', () => {
    expect(guestText('x'.repeat(10), 4)).toBe('xxxx… [6 more characters cut]');
  });
});

describe('reply checks', () => {
  it('keeps only the known fields of an exit frame', () => {
    expect(checkExecExit({ code: 3, signal: null, extra: 'x'.repeat(100) })).toEqual({ code: 3, signal: null });
    expect(checkExecExit({ code: null, signal: 'SIGKILL', error: 'lost\n' })).toEqual({ code: null, signal: 'SIGKILL', error: 'lost\\x0a' });
  });

  it('refuses exit codes and signals no process has', () => {
    expect(() => checkExecExit({ code: 'rm -rf', signal: null })).toThrow(ReplyShapeError);
    expect(() => checkExecExit({ code: 256, signal: null })).toThrow(/code is not an integer in 0..255/);
    expect(() => checkExecExit({ code: null, signal: 'SIG\nKILL' })).toThrow(/signal is not a signal name/);
  });

  it('refuses a started frame without a usable exec id or pid', () => {
    expect(checkExecStarted({ execId: 'exec-1a2b', pid: 7 })).toEqual({ execId: 'exec-1a2b', pid: 7 });
    expect(() => checkExecStarted({ execId: 'a b', pid: 7 })).toThrow(/not a valid exec id/);
    expect(() => checkExecStarted({ execId: 'exec-1', pid: -1 })).toThrow(/pid/);
  });

  it('checks the health fields the daemon decides on', () => {
    expect(checkHealthResponse(health)).toEqual(health);
    expect(() => checkHealthResponse({ ...health, protocol: '1' })).toThrow(/health protocol/);
    expect(() => checkHealthResponse({ ...health, main: { execId: 'exec-1', pid: 1, running: 'yes' } })).toThrow(/main.running/);
    expect(() => checkHealthResponse([])).toThrow(/not a JSON object/);
  });
});

describe('readFileTail / readFileHead', () => {
  it('read only the asked end of a file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-read-end-'));
    const file = path.join(dir, 'console.log');
    fs.writeFileSync(file, 'head-middle-tail');
    expect(readFileTail(file, 4).toString()).toBe('tail');
    expect(readFileHead(file, 4).toString()).toBe('head');
    expect(readFileTail(file, 1000).toString()).toBe('head-middle-tail');
    fs.symlinkSync(file, path.join(dir, 'link'));
    expect(() => readFileTail(path.join(dir, 'link'), 4)).toThrow(/ELOOP/);
    fs.rmSync(dir, { recursive: true });
  });
});
