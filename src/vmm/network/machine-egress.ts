// One machine's egress: a cgroup of its own (`<cgroup2>/aegis-egress/<id>-<hash>-<nonce>`) for the host process
// that makes the machine's outside connections (slirp4netns for a sandbox, qemu for a VM), whose BPF filter holds
// the machine's policy; and, for an allow-list that names hosts, the DNS gate whose answers extend that
// filter. Its state (the gate's address, the admitted answers) is recorded in the machine's dir, so that a
// restarted daemon takes it over with the machine.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { nameMatches, parseEgressRule, type EgressRule } from '../../resources/egress-rule.js';
import { EGRESS_NONE, resolveNetwork, type NetworkPolicy } from '../../resources/network-policy.js';
import { readRecord, writeRecord } from '../record-file.js';
import { DnsGate } from './dns-gate.js';
import type { DnsAnswer } from './dns-message.js';
import { isBlockedDestination, type AllowedDestination, type EgressPolicy } from './egress-bpf.js';
import { cgroup2Root, ensureEgressCgroup, removeEgressCgroup } from './egress-filter.js';

/** Under the cgroup2 root; each machine's group below it carries only its own filter. */
export const EGRESS_PARENT = 'aegis-egress';
const RECORD = 'egress.json';
/** An answer's address stays allowed this long at least, whatever its TTL (clients cache a little). */
const MIN_ADMIT_SECONDS = 300;
/** Addresses admitted from answers, at most: the oldest go first. Each one costs filter instructions. */
const MAX_ADMITTED = 256;
/** The gate listens on 127.83.X.Y: out of the ways of 127.0.0.1, systemd-resolved's 127.0.0.53 and Debian's 127.0.1.1. */
const GATE_NET = [127, 83];

interface Admitted extends AllowedDestination {
  /** Epoch ms after which the address is dropped at the next change. */
  until: number;
}

interface EgressRecord {
  /** The cgroup's name below the cgroup2 root. */
  cgroup: string;
  /** Where the DNS gate listens (the machine's network stack forwards the guest's DNS there). */
  gateAddress?: string;
  admitted: Admitted[];
}

type NameRule = Extract<EgressRule, { kind: 'name' }>;

/**
 * How the egress cgroups of a machine id are named: after the id and the machine's dir, so machines of two
 * AEGIS_HOMEs never share one. Each start adds a nonce: the group of a machine that just died (whose cleanup
 * may still be running) is never the one its successor of the same id is using.
 */
export function egressCgroupPrefix(machineDir: string, id: string): string {
  return `${EGRESS_PARENT}/${id}-${crypto.createHash('sha256').update(machineDir).digest('hex').slice(0, 8)}-`;
}

/** Removes every egress cgroup of a machine id (killing what is left in them), once the machine is gone. */
export async function removeMachineEgress(machineDir: string, id: string): Promise<void> {
  const root = cgroup2Root();
  if (!root) return;
  const prefix = egressCgroupPrefix(machineDir, id);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(path.join(root, EGRESS_PARENT));
  } catch {
    return; // no egress cgroup was ever made here
  }
  for (const e of entries.filter((e) => `${EGRESS_PARENT}/${e}`.startsWith(prefix))) await removeEgressCgroup(path.join(root, EGRESS_PARENT, e));
}

export class MachineEgress {
  private readonly names: NameRule[];
  private readonly fixed: AllowedDestination[];
  private admitted: Admitted[];
  private gate: DnsGate | undefined;
  /** Filter updates, one at a time. */
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly machineDir: string,
    private readonly policy: NetworkPolicy,
    private readonly host: EgressPolicy,
    private record: EgressRecord,
  ) {
    const rules = Array.isArray(policy.egress) ? policy.egress.map(parseEgressRule) : [];
    this.names = rules.filter((r): r is NameRule => r.kind === 'name');
    this.fixed = rules.flatMap((r) => (r.kind === 'cidr' ? [{ cidr: r.cidr, ...(r.port !== undefined ? { port: r.port } : {}) }] : []));
    this.admitted = record.admitted;
  }

  /**
   * Sets up the egress of a machine about to start, or undefined when its policy is `none` (no network).
   * `host` is the host's own addresses and resolvers, as the backend read them at start.
   */
  static async open(opts: { machineDir: string; id: string; network: NetworkPolicy | undefined; host: EgressPolicy }): Promise<MachineEgress | undefined> {
    const policy = resolveNetwork(opts.network);
    if (policy.egress === EGRESS_NONE) return undefined;
    // What an earlier machine of this id left (its daemon died with it) goes first.
    await removeMachineEgress(opts.machineDir, opts.id);
    const cgroup = `${egressCgroupPrefix(opts.machineDir, opts.id)}${crypto.randomBytes(4).toString('hex')}`;
    const egress = new MachineEgress(opts.machineDir, policy, opts.host, { cgroup, admitted: [] });
    try {
      if (egress.names.length > 0) await egress.openGate();
      ensureEgressCgroup(egress.cgroupName, egress.filterPolicy());
      egress.save();
      return egress;
    } catch (err) {
      await egress.close().catch(() => undefined);
      throw err;
    }
  }

  /** Takes over the egress of a machine an earlier daemon started (its cgroup and filter are still in place). */
  static async adopt(opts: { machineDir: string; id: string; network: NetworkPolicy | undefined; host: EgressPolicy }): Promise<MachineEgress | undefined> {
    const policy = resolveNetwork(opts.network);
    const record = readRecord<EgressRecord>(path.join(opts.machineDir, RECORD));
    if (policy.egress === EGRESS_NONE || !record?.cgroup) return undefined;
    const egress = new MachineEgress(opts.machineDir, policy, opts.host, record);
    // At the same address as before: the machine's network stack was told it at start. Without the gate the
    // guest's lookups go unanswered, and nothing more becomes reachable.
    if (record.gateAddress) await egress.openGate(record.gateAddress).catch(() => undefined);
    return egress;
  }

  /** The cgroup's name below the cgroup2 root. */
  private get cgroupName(): string {
    return this.record.cgroup;
  }

  /** The cgroup directory the egress process joins. */
  get cgroup(): string {
    return path.join(cgroup2Root() ?? '/sys/fs/cgroup', this.cgroupName);
  }

  /** True when the guest's DNS goes to the host's resolvers as /etc/resolv.conf names them (egress all). */
  get hostResolvers(): boolean {
    return !Array.isArray(this.policy.egress);
  }

  /** The nameservers the machine's network stack forwards the guest's DNS to: the host's, or the gate. */
  get resolvers(): string[] {
    if (!Array.isArray(this.policy.egress)) return this.host.resolvers;
    return this.record.gateAddress ? [this.record.gateAddress] : [];
  }

  /** Stops the DNS gate and removes the cgroup, killing what still runs in it. */
  async close(): Promise<void> {
    this.gate?.close();
    this.gate = undefined;
    await this.chain.catch(() => undefined);
    await removeEgressCgroup(this.cgroup);
  }

  /** What the filter enforces now: the host's own addresses always refused; with a list, its entries and answers only. */
  filterPolicy(): EgressPolicy {
    if (!Array.isArray(this.policy.egress)) return { blocked: this.host.blocked, resolvers: this.host.resolvers };
    return {
      blocked: this.host.blocked,
      resolvers: this.resolvers,
      allowed: [...this.fixed, ...this.admitted.map(({ cidr, port }) => ({ cidr, ...(port !== undefined ? { port } : {}) }))],
      allowedOnly: true,
    };
  }

  private async openGate(address?: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const candidate = address ?? [...GATE_NET, crypto.randomInt(0, 256), crypto.randomInt(1, 255)].join('.');
      try {
        this.gate = await DnsGate.open({
          address: candidate,
          upstreams: this.host.resolvers,
          allows: (name) => this.names.some((r) => nameMatches(r, name)),
          admit: (name, addresses) => this.admit(name, addresses),
        });
        this.record = { ...this.record, gateAddress: candidate };
        return;
      } catch (err) {
        if (address || attempt >= 20 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  /**
   * Lets the machine reach the public addresses DNS gave for a listed name (on the ports its rules name), for
   * the answer's TTL but at least MIN_ADMIT_SECONDS; expired ones go with the next change. Private and host
   * addresses in an answer are not admitted: a name the guest may look up must not become a way into the LAN
   * (list the address itself for that).
   */
  private admit(name: string, addresses: DnsAnswer['addresses']): Promise<void> {
    const rules = this.names.filter((r) => nameMatches(r, name));
    const ports = rules.some((r) => r.port === undefined) ? [undefined] : [...new Set(rules.map((r) => r.port))];
    const now = Date.now();
    const key = (a: AllowedDestination) => `${a.cidr} ${a.port ?? '*'}`;
    const next = new Map(this.admitted.filter((a) => a.until > now).map((a) => [key(a), a]));
    const before = [...next.keys()].sort().join();
    for (const { address, ttl } of addresses) {
      if (isBlockedDestination(address, 0, { blocked: this.host.blocked, resolvers: [] })) continue;
      const cidr = `${address}/${address.includes(':') ? 128 : 32}`;
      const until = now + Math.max(ttl, MIN_ADMIT_SECONDS) * 1000;
      for (const port of ports) {
        const a = { cidr, ...(port !== undefined ? { port } : {}), until };
        next.set(key(a), a);
      }
    }
    this.admitted = [...next.values()].sort((a, b) => b.until - a.until).slice(0, MAX_ADMITTED);
    if (this.admitted.map(key).sort().join() === before) return this.chain;
    // Attached before the old program is detached: meanwhile both run, and a destination passes only if both allow it.
    this.chain = this.chain
      .catch(() => undefined)
      .then(() => {
        ensureEgressCgroup(this.cgroupName, this.filterPolicy());
        this.save();
      });
    return this.chain;
  }

  /** Records the gate's address and the admitted answers in the machine's dir, for a later daemon. */
  save(): void {
    writeRecord(path.join(this.machineDir, RECORD), { ...this.record, admitted: this.admitted } satisfies EgressRecord);
  }
}
