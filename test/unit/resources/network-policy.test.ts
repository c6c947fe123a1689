// The `network` field: allow-list entries as the schema, `--network` and the egress filter read them.
import { describe, expect, it } from 'vitest';
import { nameMatches, parseEgressRule } from '../../../src/resources/egress-rule.js';
import { describeNetwork, parseEgressFlag, resolveNetwork } from '../../../src/resources/network-policy.js';
import { formatIssues } from '../../../src/resources/issues.js';
import { parseManifests } from '../../../src/resources/manifest.js';
import { invalidFrom } from '../../support/invalid-from.js';

describe('allow-list entries', () => {
  it('reads names, wildcards, addresses, CIDRs and ports', () => {
    expect(parseEgressRule('API.Example.com.')).toEqual({ kind: 'name', name: 'api.example.com', subdomains: false });
    expect(parseEgressRule('*.example.com:443')).toEqual({ kind: 'name', name: 'example.com', subdomains: true, port: 443 });
    expect(parseEgressRule('203.0.113.7')).toEqual({ kind: 'cidr', cidr: '203.0.113.7/32' });
    expect(parseEgressRule('10.0.0.0/8:5432')).toEqual({ kind: 'cidr', cidr: '10.0.0.0/8', port: 5432 });
    expect(parseEgressRule('2001:db8::/32')).toEqual({ kind: 'cidr', cidr: '2001:db8::/32' });
    expect(parseEgressRule('2001:db8::1')).toEqual({ kind: 'cidr', cidr: '2001:db8::1/128' });
    expect(parseEgressRule('[2001:db8::1]:443')).toEqual({ kind: 'cidr', cidr: '2001:db8::1/128', port: 443 });
    expect(parseEgressRule('[2001:db8::/48]')).toEqual({ kind: 'cidr', cidr: '2001:db8::/48' });
  });

  it('refuses what is none of those, naming the entry and the problem', () => {
    expect(() => parseEgressRule('db')).toThrow('"db": a host name must be fully qualified');
    expect(() => parseEgressRule('api.example.com:0')).toThrow('port must be 1-65535');
    expect(() => parseEgressRule('api.example.com:https')).toThrow('port must be 1-65535');
    expect(() => parseEgressRule('10.0.0.0/33')).toThrow('prefix length must be 0-32');
    expect(() => parseEgressRule('10.0.0.256')).toThrow('is not a host name');
    expect(() => parseEgressRule('fe80::1%eth0')).toThrow('is not a host name');
    expect(() => parseEgressRule('[api.example.com]:443')).toThrow('only an IPv6 address or CIDR goes in brackets');
    expect(() => parseEgressRule('exa mple.com')).toThrow('is not a host name');
    expect(() => parseEgressRule('-bad.example.com')).toThrow('is not a host name');
    expect(() => parseEgressRule('*.*.example.com')).toThrow('is not a host name');
  });

  it('matches a wildcard below its domain only', () => {
    const wildcard = parseEgressRule('*.example.com');
    const exact = parseEgressRule('example.com');
    if (wildcard.kind !== 'name' || exact.kind !== 'name') throw new Error('not names');
    expect(nameMatches(wildcard, 'a.b.Example.com.')).toBe(true);
    expect(nameMatches(wildcard, 'example.com')).toBe(false);
    expect(nameMatches(wildcard, 'badexample.com')).toBe(false);
    expect(nameMatches(exact, 'EXAMPLE.com')).toBe(true);
    expect(nameMatches(exact, 'a.example.com')).toBe(false);
  });
});

describe('--network and the policy in force', () => {
  it('takes all, none or a comma-separated list', () => {
    expect(parseEgressFlag('all')).toBe('all');
    expect(parseEgressFlag(' none ')).toBe('none');
    expect(parseEgressFlag('api.example.com:443, 10.0.0.5')).toEqual(['api.example.com:443', '10.0.0.5']);
    expect(() => parseEgressFlag(',')).toThrow('--network needs all, none, or a comma-separated list');
    expect(() => parseEgressFlag('api.example.com,db')).toThrow('"db": a host name must be fully qualified');
    expect(() => parseEgressFlag(Array.from({ length: 65 }, (_, i) => `10.0.0.${i}`).join(','))).toThrow('at most 64');
  });

  it('is the first layer that sets one, else all, and says so in one line', () => {
    expect(resolveNetwork(undefined, { egress: 'none' })).toEqual({ egress: 'none' });
    expect(resolveNetwork(undefined, undefined)).toEqual({ egress: 'all' });
    expect(describeNetwork(undefined)).toMatch(/^egress all \(default\): public addresses; private, link-local and host addresses blocked$/);
    expect(describeNetwork({ egress: 'none' })).toBe('egress none: no network device');
    expect(describeNetwork({ egress: ['api.example.com:443'] })).toMatch(/^egress only to api\.example\.com:443 /);
  });

  it('is validated in manifests, each bad entry at its line', () => {
    const text = [
      'apiVersion: aegis.dev/v1',
      'kind: App',
      'metadata: {name: web}',
      'spec:',
      '  image: alpine:3.21',
      '  command: [true]',
      '  network:',
      '    egress: [api.example.com:443, db, 10.0.0.0/40]',
      '---',
      'apiVersion: aegis.dev/v1',
      'kind: Task',
      'metadata: {name: job}',
      'spec: {command: [true], network: {egress: everything}}',
      '',
    ].join('\n');
    const message = formatIssues(invalidFrom(() => parseManifests(text, 'app.yaml')));
    expect(message).toContain('app.yaml:8:35: spec.network.egress.1: "db": a host name must be fully qualified');
    expect(message).toContain('spec.network.egress.2: "10.0.0.0/40": the prefix length must be 0-32');
    expect(message).toMatch(/app\.yaml:13:\d+: spec\.network\.egress: must be "all", "none" or a list of host names, addresses, CIDRs and ports/);
  });
});
