// The egress filter's bytecode, assembled by hand from the uapi (linux/bpf.h): a cgroup sock_addr program
// that answers 0 (the kernel fails the connect or sendmsg with EPERM) when the destination is refused and 1
// otherwise. No maps and no helper calls: a straight run of masked compares over the context, so the
// verifier has nothing to object to and the program needs no BTF. A policy change (an allow-list's DNS
// answers) is a new program, attached before the old one is detached (egress-filter.ts).

import fs from 'node:fs';
import os from 'node:os';

export type Family = 4 | 6;

/**
 * IPv4 destinations that are the host, its networks or nothing public, checked against the IANA special-purpose
 * registry: "this network" (connect(0.0.0.0) reaches loopback), RFC 1918, CGNAT (where Alibaba's metadata
 * service sits), loopback, Azure's host endpoint, link-local (cloud metadata at 169.254.169.254), IETF
 * protocol assignments (Oracle's metadata at 192.0.0.192), the documentation and benchmarking nets (198.18/15
 * is where fake-IP DNS proxies on the host answer), multicast, and the reserved 240/4 with the broadcast address.
 * The registry's globally reachable entries (AS112, AMT) stay open.
 */
export const BLOCKED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '168.63.129.16/32',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

/**
 * IPv6 likewise: ::/96 (unspecified, loopback, the deprecated IPv4-compatible form), local-use NAT64,
 * discard-only, benchmarking, documentation, SRv6 SIDs, unique-local (AWS's metadata at fd00:ec2::254),
 * link-local, the deprecated site-local, multicast. Every blocked v4 range is blocked again in each v6 form
 * that reaches it (see v6FormsOf).
 */
export const BLOCKED_V6 = [
  '::/96',
  '64:ff9b:1::/48',
  '100::/64',
  '2001:2::/48',
  '2001:db8::/32',
  '3fff::/20',
  '5f00::/16',
  'fc00::/7',
  'fe80::/10',
  'fec0::/10',
  'ff00::/8',
];

/**
 * DNS: qemu's slirp and slirp4netns forward the guest's queries (to 10.0.2.3) to the first nameserver of a resolv.conf:
 * the host's, which is often on loopback (systemd-resolved's 127.0.0.53) or the LAN, or the machine's DNS gate
 * in the daemon (on loopback too). Port 53 of exactly those resolvers stays open; port 53 anywhere else in a
 * blocked range is refused like any other port.
 */
export const DNS_PORT = 53;

/**
 * The host itself, which no policy opens: "this network" (connect(0.0.0.0) reaches loopback), loopback, and
 * on IPv6 ::/96 (unspecified, loopback, the IPv4-compatible form), with every v6 form of the v4 ones.
 */
export const HOST_V4 = ['0.0.0.0/8', '127.0.0.0/8'];
export const HOST_V6 = ['::/96'];

/** A destination an allow-list opens: a CIDR, on one port or all. */
export interface AllowedDestination {
  cidr: string;
  port?: number;
}

/** What the filter decides beyond the fixed ranges. */
export interface EgressPolicy {
  /**
   * More CIDRs never to reach, whatever `allowed` says: the host's own addresses (services bound to
   * 0.0.0.0 answer there too).
   */
  blocked: string[];
  /** Resolver addresses whose port 53 stays reachable even inside a blocked range. */
  resolvers: string[];
  /** Reachable even inside the blocked ranges (an allow-list's addresses, and the DNS answers for its names). */
  allowed?: AllowedDestination[];
  /** Only `allowed` (and the resolvers' port 53) is reachable: public addresses are refused too. */
  allowedOnly?: boolean;
}

export const EMPTY_POLICY: EgressPolicy = { blocked: [], resolvers: [] };

export interface AddressRange {
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  prefix: number;
}

function parseV4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return Uint8Array.from(parts.map(Number));
}

function parseV6(text: string): Uint8Array | undefined {
  // A trailing dotted quad (::ffff:127.0.0.1) stands for the last two groups.
  const quad = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = parseV4(quad[2]);
    if (!v4) return undefined;
    text = `${quad[1]}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return bytes;
}

/** Parses "a.b.c.d/n" or an IPv6 "x::y/n" into bytes and a prefix length. */
export function parseCidr(cidr: string): AddressRange {
  const [addr, len, ...rest] = cidr.split('/');
  const bytes = addr.includes(':') ? parseV6(addr) : parseV4(addr);
  const prefix = Number(len);
  if (!bytes || rest.length || !/^\d+$/.test(len ?? '') || prefix > bytes.length * 8) throw new Error(`bad CIDR ${cidr}`);
  return { bytes, prefix };
}

/** A v4 range placed at `bitOffset` inside an otherwise given v6 prefix. */
function embedV4(range: AddressRange, head: number[], bitOffset: number): AddressRange {
  const bytes = new Uint8Array(16);
  bytes.set(head);
  bytes.set(range.bytes, bitOffset / 8);
  return { bytes, prefix: bitOffset + range.prefix };
}

/** ::ffff:a.b.c.d/(96+n): how a v6 socket names a v4 destination. */
export const v4Mapped = (range: AddressRange) => embedV4(range, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96);

/**
 * The v6 names of a v4 range: v4-mapped (a v6 socket connecting to ::ffff:127.0.0.1 passes the v6 hook only),
 * NAT64's well-known 64:ff9b::a.b.c.d and 6to4's 2002:aabb:ccdd::/48 (a host with a NAT64 route or a 6to4
 * tunnel would carry those to the v4 address).
 */
export function v6FormsOf(range: AddressRange): AddressRange[] {
  return [v4Mapped(range), embedV4(range, [0, 0x64, 0xff, 0x9b], 96), embedV4(range, [0x20, 0x02], 16)];
}

/** CIDRs as one family's hook sees them: a v6 hook also meets v4 destinations in their v6 forms. */
function rangesFor(family: Family, cidrs: string[], v6Forms: (r: AddressRange) => AddressRange[]): AddressRange[] {
  const all = cidrs.map(parseCidr);
  const v4 = all.filter((r) => r.bytes.length === 4);
  const v6 = all.filter((r) => r.bytes.length === 16);
  return family === 4 ? v4 : [...v6, ...v4.flatMap(v6Forms)];
}

const isHostRange = (cidr: string) => HOST_V4.includes(cidr) || HOST_V6.includes(cidr);

/** What no policy opens, for one family's hook: the host's loopback and `extra` (its own addresses). */
export function hostRanges(family: Family, extra: string[] = []): AddressRange[] {
  return rangesFor(family, [...HOST_V4, ...HOST_V6, ...extra], v6FormsOf);
}

/** The rest of the fixed ranges: refused unless a policy's `allowed` names them. */
export function blockedRanges(family: Family): AddressRange[] {
  return rangesFor(family, [...BLOCKED_V4, ...BLOCKED_V6].filter((c) => !isHostRange(c)), v6FormsOf);
}

/** An allowed destination's ranges for one family's hook (a v4 one also v4-mapped, as a v6 socket names it). */
export function allowedRanges(family: Family, allowed: AllowedDestination): AddressRange[] {
  return rangesFor(family, [allowed.cidr], (r) => [v4Mapped(r)]);
}

/** The resolvers as single addresses for one family's hook (v4 ones also v4-mapped for a v6 socket). */
export function resolverAddresses(family: Family, resolvers: string[]): AddressRange[] {
  const all = resolvers.map((a) => parseCidr(`${a}/${a.includes(':') ? 128 : 32}`));
  const v4 = all.filter((r) => r.bytes.length === 4);
  return family === 4 ? v4 : [...all.filter((r) => r.bytes.length === 16), ...v4.map(v4Mapped)];
}

/** The host's non-loopback addresses as single-address CIDRs. */
export function hostAddressCidrs(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && !a.internal)
    .map((a) => (a.family === 'IPv4' ? `${a.address}/32` : `${a.address.split('%')[0]}/128`));
}

/** The nameservers of a resolv.conf, in its order; a missing file or unparsable line gives none. */
export function hostResolvers(resolvConf = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = fs.readFileSync(resolvConf, 'utf8');
  } catch {
    return [];
  }
  const addresses = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1].split('%')[0]);
  return [...new Set(addresses.filter((a) => (a.includes(':') ? parseV6(a) : parseV4(a))))];
}

/** The host's addresses and resolvers as they are now: the daemon reads them once, at start. */
export function hostEgressPolicy(): EgressPolicy {
  return { blocked: hostAddressCidrs(), resolvers: hostResolvers() };
}

function inRange(bytes: Uint8Array, r: AddressRange): boolean {
  if (bytes.length !== r.bytes.length) return false;
  for (let bit = 0; bit < r.prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((bytes[bit >> 3] & mask) !== (r.bytes[bit >> 3] & mask)) return false;
  }
  return true;
}

/** True when the filter refuses this destination (v4 dotted quad or v6 text): the same decision the bytecode
 * makes, for callers that want to explain or pre-check a destination. */
export function isBlockedDestination(address: string, port: number, policy: EgressPolicy = EMPTY_POLICY): boolean {
  const bytes = address.includes(':') ? parseV6(address) : parseV4(address);
  if (!bytes) throw new Error(`bad address ${address}`);
  // The v4 hook sees a v4 socket's destinations, the v6 one those of v6 sockets, v4-mapped ones included.
  const family: Family = bytes.length === 4 ? 4 : 6;
  const within = (ranges: AddressRange[]) => ranges.some((r) => inRange(bytes, r));
  if (port === DNS_PORT && within(resolverAddresses(family, policy.resolvers))) return false;
  if (within(hostRanges(family, policy.blocked))) return true;
  if ((policy.allowed ?? []).some((a) => (a.port === undefined || a.port === port) && within(allowedRanges(family, a)))) return false;
  return policy.allowedOnly === true || within(blockedRanges(family));
}

// struct bpf_sock_addr: user_ip4 at 4, user_ip6[4] at 8, user_port at 24, all in network byte order.
const CTX_USER_IP4 = 4;
const CTX_USER_IP6 = 8;
const CTX_USER_PORT = 24;

// Opcodes: class | size/op | mode/source.
const LDX_MEM_W = 0x01 | 0x00 | 0x60;
const ALU32_AND_K = 0x04 | 0x50 | 0x00;
const ALU64_MOV_K = 0x07 | 0xb0 | 0x00;
// JMP32 compares the low 32 bits with imm unextended; 64-bit JEQ would sign-extend imm and miss 0x80000000+.
const JMP32_JEQ_K = 0x06 | 0x10 | 0x00;
const JMP32_JNE_K = 0x06 | 0x50 | 0x00;
const JMP_JA = 0x05 | 0x00;
const JMP_EXIT = 0x05 | 0x90;

const R0 = 0;
const R1 = 1; // the context pointer on entry; never clobbered since no helper is called
const R2 = 2;
const R3 = 3;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** A jump's target label, resolved into `off` when assembling. */
  to?: string;
}
type Item = Insn | { label: string };

const insn = (code: number, dst: number, src: number, off: number, imm: number, to?: string): Insn => ({ code, dst, src, off, imm, to });

/**
 * The ctx fields are network-order bytes in memory; a 32-bit load reads them in host order. Building each
 * constant from the same bytes the same way keeps the compare byte-for-byte (this assumes a little-endian
 * host, which every architecture the filter loads on is).
 */
function word(bytes: Uint8Array, offset: number): number {
  return Buffer.from(bytes.subarray(offset, offset + 4)).readUInt32LE(0);
}

/** Where every program ends: `allow` returns 1 (the hook lets the call through), `deny` returns 0 (EPERM). */
const VERDICTS: Item[] = [
  { label: 'allow' },
  insn(ALU64_MOV_K, R0, 0, 0, 1),
  insn(JMP_EXIT, 0, 0, 0, 0),
  { label: 'deny' },
  insn(ALU64_MOV_K, R0, 0, 0, 0),
  insn(JMP_EXIT, 0, 0, 0, 0),
];

function prefixMask(prefix: number, byteLength: number): Uint8Array {
  const mask = new Uint8Array(byteLength);
  for (let bit = 0; bit < prefix; bit++) mask[bit >> 3] |= 0x80 >> bit % 8;
  return mask;
}

function assemble(items: Item[]): Buffer {
  const labels = new Map<string, number>();
  const code: Insn[] = [];
  for (const item of items) {
    if ('label' in item) labels.set(item.label, code.length);
    else code.push(item);
  }
  const out = Buffer.alloc(code.length * 8);
  code.forEach((ins, i) => {
    let off = ins.off;
    if (ins.to !== undefined) {
      const target = labels.get(ins.to);
      if (target === undefined) throw new Error(`BPF label ${ins.to} undefined`);
      off = target - (i + 1);
    }
    out.writeUInt8(ins.code, i * 8);
    out.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    out.writeInt16LE(off, i * 8 + 2);
    out.writeInt32LE(ins.imm | 0, i * 8 + 4);
  });
  return out;
}

/** user_port as a 32-bit load reads it: the port's two network-order bytes, in host order. */
function portWord(port: number): number {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(port);
  return b.readUInt16LE(0);
}

/** Jumps to `onMatch` when the destination lies in `range` (and is on `port`, if given), falls through otherwise. */
function matchRange(items: Item[], base: number, range: AddressRange, onMatch: string, label: string, port?: number): void {
  const mask = prefixMask(range.prefix, range.bytes.length);
  for (let w = 0; w * 4 < range.bytes.length; w++) {
    const m = word(mask, w * 4);
    if (m === 0) continue;
    items.push(insn(LDX_MEM_W, R2, R1, base + w * 4, 0));
    if (m !== 0xffffffff) items.push(insn(ALU32_AND_K, R2, 0, 0, m));
    items.push(insn(JMP32_JNE_K, R2, 0, 0, word(range.bytes, w * 4) & m, label));
  }
  if (port !== undefined) items.push(insn(LDX_MEM_W, R2, R1, CTX_USER_PORT, 0), insn(JMP32_JNE_K, R2, 0, 0, portWord(port), label));
  items.push(insn(JMP_JA, 0, 0, 0, 0, onMatch), { label });
}

/**
 * The program for a v4 hook (INET4_CONNECT, UDP4_SENDMSG) or a v6 one: the kernel refuses user_ip4 reads
 * in a v6 program and the other way round, so each family gets its own. In order: port 53 of a resolver is
 * allowed; the host's own ranges are denied; an allowed destination is allowed; then, with `allowedOnly`,
 * everything else is denied, else any blocked range denies and the rest is allowed.
 */
export function buildEgressProgram(family: Family, policy: EgressPolicy = EMPTY_POLICY): Buffer {
  const base = family === 4 ? CTX_USER_IP4 : CTX_USER_IP6;
  const resolvers = resolverAddresses(family, policy.resolvers);
  const allowed = policy.allowed ?? [];
  // The verifier refuses unreachable code: with nothing to allow, the allow exit would be.
  if (policy.allowedOnly && resolvers.length === 0 && allowed.length === 0) return assemble([insn(ALU64_MOV_K, R0, 0, 0, 0), insn(JMP_EXIT, 0, 0, 0, 0)]);
  const items: Item[] = [insn(LDX_MEM_W, R2, R1, CTX_USER_PORT, 0), insn(JMP32_JNE_K, R2, 0, 0, portWord(DNS_PORT), 'host')];
  resolvers.forEach((address, i) => matchRange(items, base, address, 'allow', `resolver${i}`));
  items.push({ label: 'host' });
  hostRanges(family, policy.blocked).forEach((range, i) => matchRange(items, base, range, 'deny', `host${i}`));
  allowed.forEach((a, i) => allowedRanges(family, a).forEach((range, j) => matchRange(items, base, range, 'allow', `allowed${i}_${j}`, a.port)));
  if (policy.allowedOnly) items.push(insn(JMP_JA, 0, 0, 0, 0, 'deny'));
  else blockedRanges(family).forEach((range, i) => matchRange(items, base, range, 'deny', `range${i}`));
  items.push(...VERDICTS);
  return assemble(items);
}

// struct bpf_sock, as the INET_SOCK_CREATE hook sees it: type at 8, protocol at 12 (host order).
const CTX_SOCK_TYPE = 8;
const CTX_SOCK_PROTOCOL = 12;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/**
 * The program for the socket-creation hook (INET_SOCK_CREATE): a process in the cgroup may make TCP and UDP
 * sockets only, the two kinds whose destinations the connect and sendmsg hooks see. ICMP echo ("ping")
 * sockets and raw sockets pass neither hook: a user-mode network stack that forwards the guest's pings
 * through one (libslirp does, wherever net.ipv4.ping_group_range admits its group) would reach any address.
 * Refused, slirp falls back to a UDP datagram to the echo port, which the sendmsg hook filters.
 */
export function buildSocketProgram(): Buffer {
  return assemble([
    insn(LDX_MEM_W, R2, R1, CTX_SOCK_TYPE, 0),
    insn(LDX_MEM_W, R3, R1, CTX_SOCK_PROTOCOL, 0),
    insn(JMP32_JNE_K, R2, 0, 0, SOCK_STREAM, 'dgram'),
    insn(JMP32_JNE_K, R3, 0, 0, IPPROTO_TCP, 'deny'),
    insn(JMP_JA, 0, 0, 0, 0, 'allow'),
    { label: 'dgram' },
    insn(JMP32_JNE_K, R2, 0, 0, SOCK_DGRAM, 'deny'),
    insn(JMP32_JNE_K, R3, 0, 0, IPPROTO_UDP, 'deny'),
    ...VERDICTS,
  ]);
}
