// A set of client addresses and CIDR ranges (for example the monitoring probes and the
// registrar, exempt from the per-IP budget). IPv4 clients of a dual-stack listener appear
// as `::ffff:a.b.c.d`; they are matched as the IPv4 address they are.
import { BlockList, isIP } from "node:net";

/** Parses `10.0.0.0/8, 192.0.2.7, fd00::/8` (or a list of such) into checked entries. */
export function parseAddressList(raw: string | readonly string[]): string[] {
  const items = typeof raw === "string" ? raw.split(",") : raw;
  const out: string[] = [];
  for (const item of items) {
    const entry = item.trim();
    if (entry === "") continue;
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address ?? "");
    if (family === 0 || extra !== undefined) {
      throw new Error(`"${entry}" is not an IP address or CIDR range`);
    }
    if (prefix !== undefined) {
      const max = family === 4 ? 32 : 128;
      if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) {
        throw new Error(`"${entry}": prefix length must be 0-${max}`);
      }
    }
    out.push(entry);
  }
  return out;
}

export class AddressList {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    for (const entry of parseAddressList(entries)) {
      const [address, prefix] = entry.split("/") as [string, string | undefined];
      const type = isIP(address) === 4 ? "ipv4" : "ipv6";
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
    this.empty = entries.length === 0;
  }

  contains(ip: string): boolean {
    if (this.empty) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    const address = mapped ? mapped[1]! : ip;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}
