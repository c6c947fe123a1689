// Unit tests for byte-size.ts and the `limits:` section of config.yaml that uses it.
import { describe, expect, it } from 'vitest';
import { byteSizeSchema, formatByteSize, tryParseByteSize } from '../../../src/resources/byte-size.js';
import { daemonConfigSchema } from '../../../src/config/daemon-config.js';

describe('byte sizes', () => {
  it.each([
    ['512', 512],
    ['100B', 100],
    ['64KiB', 64 * 1024],
    ['10MiB', 10 * 1024 ** 2],
    ['4GiB', 4 * 1024 ** 3],
    ['1TiB', 1024 ** 4],
    ['10 MiB', 10 * 1024 ** 2],
  ])('%s is %d bytes', (text, bytes) => expect(tryParseByteSize(text)).toBe(bytes));

  it.each(['10MB', '1.5GiB', 'MiB', '-1', '10mib', ''])('%s is not a size', (text) => expect(tryParseByteSize(text)).toBeUndefined());

  it('prints whole units back as written and other sizes to one decimal', () => {
    expect(formatByteSize(8 * 1024 ** 3)).toBe('8GiB');
    expect(formatByteSize(1536)).toBe('1.5KiB');
    expect(formatByteSize(100)).toBe('100B');
    expect(formatByteSize(0)).toBe('0B');
  });

  it('the schema takes strings with units and numbers of bytes, and names the accepted forms otherwise', () => {
    expect(byteSizeSchema.parse('2MiB')).toBe(2 * 1024 ** 2);
    expect(byteSizeSchema.parse(4096)).toBe(4096);
    const r = byteSizeSchema.safeParse('2 megabytes');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/"2 megabytes" is not a size such as 512KiB, 10MiB or 4GiB/);
  });
});

describe('limits in config.yaml', () => {
  it('has defaults that no normal use reaches', () => {
    expect(daemonConfigSchema.parse({}).limits).toEqual({
      taskLog: 32 * 1024 ** 2,
      daemonLog: 10 * 1024 ** 2,
      layer: 8 * 1024 ** 3,
      layerEntries: 1_000_000,
      memoryOvercommit: 4,
      machineDisk: 4 * 1024 ** 3,
      console: 1024 ** 2,
      instanceLog: 40 * 1024 ** 2,
    });
  });

  it('keeps the defaults of the settings a partial section leaves out', () => {
    const { limits } = daemonConfigSchema.parse({ limits: { taskLog: '1MiB', memoryOvercommit: 1.5 } });
    expect(limits).toMatchObject({ taskLog: 1024 ** 2, daemonLog: 10 * 1024 ** 2, memoryOvercommit: 1.5 });
  });

  it('refuses unknown settings and bad sizes', () => {
    expect(daemonConfigSchema.safeParse({ limits: { taskLogs: '1MiB' } }).success).toBe(false);
    expect(daemonConfigSchema.safeParse({ limits: { layer: '1GB' } }).success).toBe(false);
    expect(daemonConfigSchema.safeParse({ limits: { memoryOvercommit: 0 } }).success).toBe(false);
  });
});
