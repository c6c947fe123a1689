// Version negotiation, request decoding and exit-code mapping of the control protocol.
import { describe, expect, it } from 'vitest';
import { exitCodeOf, LOST_EXIT_CODE } from '../../../src/protocol/exit-code.js';
import {
  checkShutdownRequest,
  checkSignalRequest,
  decodeExecRequest,
  encodeExecRequest,
  type ExecRequest,
} from '../../../src/protocol/messages.js';
import { isCompatibleVersion, parseProtocolVersion, PROTOCOL_VERSION, versionMismatchMessage } from '../../../src/protocol/version.js';

describe('protocol version', () => {
  it.each([
    ['1', 1],
    ['1.4', 1],
    [' 2 ', 2],
    [['3'], 3],
    ['', undefined],
    ['one', undefined],
    ['1.2.3', undefined],
    [undefined, undefined],
  ])('parses %j as %j', (input, expected) => {
    expect(parseProtocolVersion(input)).toBe(expected);
  });

  it('is compatible only with the same major', () => {
    expect(PROTOCOL_VERSION).toBe(2);
    expect(isCompatibleVersion(1, 1)).toBe(true);
    expect(isCompatibleVersion(1, 2)).toBe(false);
    expect(isCompatibleVersion(1, undefined)).toBe(false);
    expect(versionMismatchMessage(2, 1)).toMatch(/host speaks version 2, harness speaks version 1/);
  });
});

describe('exec request', () => {
  it('round-trips through the header encoding, binary-safe', () => {
    const req: ExecRequest = { argv: ['sh', '-c', 'echo "ü ✓ \\n"'], env: { A: 'x=y', 'B.C': '' }, cwd: '/w', stdin: true, main: true };
    const header = encodeExecRequest(req);
    expect(header).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeExecRequest(header)).toEqual(req);
  });

  it('ignores unknown fields from a newer host', () => {
    const header = Buffer.from(JSON.stringify({ argv: ['true'], env: {}, stdin: false, futureField: 1 })).toString('base64url');
    expect(decodeExecRequest(header)).toEqual({ argv: ['true'], env: {}, stdin: false });
  });

  it.each([
    [undefined, /missing/],
    ['%%%', /JSON/],
    [{ argv: [], env: {}, stdin: false }, /argv/],
    [{ argv: [''], env: {}, stdin: false }, /argv\[0\]/],
    [{ argv: ['a\0b'], env: {}, stdin: false }, /NUL/],
    [{ argv: ['x'], env: { A: 1 }, stdin: false }, /env/],
    [{ argv: ['x'], env: { 'A=B': 'c' }, stdin: false }, /invalid environment/],
    [{ argv: ['x'], env: {}, stdin: 'yes' }, /stdin/],
    [{ argv: ['x'], env: {}, stdin: false, cwd: '' }, /cwd/],
    [{ argv: ['x'], env: {}, stdin: false, main: 1 }, /main/],
  ])('rejects %j', (value, message) => {
    const header = typeof value === 'object' ? Buffer.from(JSON.stringify(value)).toString('base64url') : value;
    expect(() => decodeExecRequest(header)).toThrow(message);
  });

  it('checks signal and shutdown bodies', () => {
    expect(checkSignalRequest({ execId: 'exec-1', signal: 'SIGTERM' })).toEqual({ execId: 'exec-1', signal: 'SIGTERM' });
    expect(() => checkSignalRequest({ execId: 'exec-1' })).toThrow(/signal/);
    expect(checkShutdownRequest(undefined)).toEqual({});
    expect(checkShutdownRequest({ graceMs: 10 })).toEqual({ graceMs: 10 });
    expect(() => checkShutdownRequest({ graceMs: -1 })).toThrow(/graceMs/);
  });
});

describe('exitCodeOf', () => {
  it.each([
    [{ code: 0, signal: null }, 0],
    [{ code: 42, signal: null }, 42],
    [{ code: null, signal: 'SIGKILL' }, 137],
    [{ code: null, signal: 'SIGTERM' }, 143],
    [{ code: null, signal: null, error: 'machine connection lost' }, LOST_EXIT_CODE],
  ])('maps %j to %d', (exit, code) => {
    expect(exitCodeOf(exit)).toBe(code);
  });
});
