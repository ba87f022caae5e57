/**
 * Who may report over SL 651 (issue 23 §4): the registry's stations, each the sensors that name
 * its address, with the hash of its password and the networks it may connect from. A frame is
 * admitted when its station is known, its password matches and it came from an allowed network;
 * the connection then belongs to that station and a frame for another is refused.
 */
import { BlockList, isIP } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { verifySecret, type Registry } from '../config/registry.ts';
import type { SensorKind } from '../contracts/index.ts';

export interface Station {
  address: string;
  /** The station's sensors by kind (revoked ones left out). */
  sensors: Partial<Record<SensorKind, string>>;
  passwordHash: string | undefined;
  /** Allowed source networks; undefined: any. */
  networks: BlockList | undefined;
}

/** Why a frame was refused: the label of floodgate_sl651_refused_total, and what the log says. */
export type RefusalReason = 'unknown_station' | 'no_password' | 'wrong_password' | 'network' | 'other_station';
export interface Refusal {
  reason: RefusalReason;
  message: string;
}

function blockList(networks: string[]): BlockList {
  const list = new BlockList();
  for (const n of networks) {
    const [addr, bits] = n.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export function indexStations(registry: Registry): Map<string, Station> {
  const stations = new Map<string, Station>();
  for (const s of registry.sensors) {
    if (!s.sl651 || s.revoked) continue;
    let st = stations.get(s.sl651.station);
    if (!st) {
      st = { address: s.sl651.station, sensors: {}, passwordHash: s.sl651.passwordHash, networks: s.sl651.networks ? blockList(s.sl651.networks) : undefined };
      stations.set(st.address, st);
    }
    st.sensors[s.kind] = s.id;
  }
  return stations;
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is 10.1.2.3. */
function plainAddress(remote: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (v4) return { address: v4[1]!, type: 'ipv4' };
  return { address: remote, type: isIP(remote) === 6 ? 'ipv6' : 'ipv4' };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface StationCheck {
  /** The station a frame from `remote` claiming `address` with `password` may speak for, or why not. */
  admit(address: string, password: string, remote: string): Promise<Station | Refusal>;
}

export function createStationCheck(stations: () => Map<string, Station>): StationCheck {
  // A password that matched a stored hash once is remembered as a digest keyed by that hash (a
  // new password changes the hash): every frame is checked, at the cost of a lookup.
  const verified = new Map<string, Buffer>();
  return {
    async admit(address, password, remote) {
      const st = stations().get(address);
      if (!st) return { reason: 'unknown_station', message: `station ${address} is not in the registry (floodgate devices add … --sl651-station ${address})` };
      if (!st.passwordHash) return { reason: 'no_password', message: `station ${address} has no password set in the registry` };
      if (st.networks) {
        const { address: ip, type } = plainAddress(remote);
        if (!st.networks.check(ip, type)) return { reason: 'network', message: `station ${address} may not connect from ${ip}` };
      }
      const digest = sha256(password.toUpperCase());
      const known = verified.get(st.passwordHash);
      const ok = known ? timingSafeEqual(known, digest) : await verifySecret(password.toUpperCase(), st.passwordHash);
      if (!ok) return { reason: 'wrong_password', message: `station ${address}: wrong password` };
      if (!known) verified.set(st.passwordHash, digest);
      return st;
    },
  };
}

export const isRefusal = (x: Station | Refusal): x is Refusal => 'reason' in x;
