// The egress filter's bytecode, assembled by hand from the uapi (linux/bpf.h): a cgroup sock_addr program
// that answers 0 (the kernel fails the connect or sendmsg with EPERM) when the destination lies in a blocked
// range and 1 otherwise. No maps and no helper calls: a straight run of masked compares over the context,
// so the verifier has nothing to object to and the program needs no BTF.

import os from 'node:os';

export type Family = 4 | 6;

/** Loopback, "this network" (connect(0.0.0.0) reaches loopback), RFC 1918, link-local, CGNAT, and
 * multicast/broadcast, which only ever reach the local network. */
export const BLOCKED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '255.255.255.255/32',
];

/** Unspecified (connect(::) reaches loopback), loopback, unique-local, link-local, multicast. The v4 ranges
 * are added as IPv4-mapped addresses: a v6 socket connecting to ::ffff:127.0.0.1 passes the v6 hook only. */
export const BLOCKED_V6 = ['::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8'];

/** DNS: slirp forwards the guest's queries to the host's resolver, often on a loopback or private address. */
export const ALLOWED_PORTS = [53];

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

/** ::ffff:a.b.c.d/(96+n): how a v6 socket names a v4 destination. */
export function v4Mapped(range: AddressRange): AddressRange {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(range.bytes, 12);
  return { bytes, prefix: 96 + range.prefix };
}

/** The fixed ranges plus `extra` CIDRs (the host's own addresses: services bound to 0.0.0.0 answer there too). */
export function blockedRanges(family: Family, extra: string[] = []): AddressRange[] {
  const all = [...BLOCKED_V4, ...BLOCKED_V6, ...extra].map(parseCidr);
  const v4 = all.filter((r) => r.bytes.length === 4);
  const v6 = all.filter((r) => r.bytes.length === 16);
  return family === 4 ? v4 : [...v6, ...v4.map(v4Mapped)];
}

/** The host's non-loopback addresses as single-address CIDRs. */
export function hostAddressCidrs(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && !a.internal)
    .map((a) => (a.family === 'IPv4' ? `${a.address}/32` : `${a.address.split('%')[0]}/128`));
}

/** True when the address (v4 dotted quad or v6 text) falls in a blocked range for its family: the same
 * decision the bytecode makes, for callers that want to explain or pre-check a destination. */
export function isBlockedDestination(address: string, port: number, extra: string[] = []): boolean {
  if (ALLOWED_PORTS.includes(port)) return false;
  const bytes = address.includes(':') ? parseV6(address) : parseV4(address);
  if (!bytes) throw new Error(`bad address ${address}`);
  return blockedRanges(bytes.length === 4 ? 4 : 6, extra).some((r) => {
    for (let bit = 0; bit < r.prefix; bit++) {
      const mask = 0x80 >> bit % 8;
      if ((bytes[bit >> 3] & mask) !== (r.bytes[bit >> 3] & mask)) return false;
    }
    return true;
  });
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

/** The program for a v4 hook (INET4_CONNECT, UDP4_SENDMSG) or a v6 one: the kernel refuses user_ip4 reads
 * in a v6 program and the other way round, so each family gets its own. */
export function buildEgressProgram(family: Family, extra: string[] = []): Buffer {
  const items: Item[] = [insn(LDX_MEM_W, R2, R1, CTX_USER_PORT, 0)];
  for (const port of ALLOWED_PORTS) {
    const netOrder = Buffer.alloc(2);
    netOrder.writeUInt16BE(port);
    items.push(insn(JMP32_JEQ_K, R2, 0, 0, netOrder.readUInt16LE(0), 'allow'));
  }
  const base = family === 4 ? CTX_USER_IP4 : CTX_USER_IP6;
  blockedRanges(family, extra).forEach((range, r) => {
    const mask = prefixMask(range.prefix, range.bytes.length);
    for (let w = 0; w * 4 < range.bytes.length; w++) {
      const m = word(mask, w * 4);
      if (m === 0) continue;
      items.push(insn(LDX_MEM_W, R2, R1, base + w * 4, 0));
      if (m !== 0xffffffff) items.push(insn(ALU32_AND_K, R2, 0, 0, m));
      items.push(insn(JMP32_JNE_K, R2, 0, 0, word(range.bytes, w * 4) & m, `next${r}`));
    }
    items.push(insn(JMP_JA, 0, 0, 0, 0, 'deny'), { label: `next${r}` });
  });
  items.push(
    { label: 'allow' },
    insn(ALU64_MOV_K, R0, 0, 0, 1),
    insn(JMP_EXIT, 0, 0, 0, 0),
    { label: 'deny' },
    insn(ALU64_MOV_K, R0, 0, 0, 0),
    insn(JMP_EXIT, 0, 0, 0, 0),
  );
  return assemble(items);
}
