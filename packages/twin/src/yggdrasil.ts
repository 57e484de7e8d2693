/** The Planetary Network: Yggdrasil gives each host an address in 200::/7 on its TUN interface. */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';

/** True for an IPv6 address in Yggdrasil's 200::/7. */
export function isYggdrasilAddress(ip: string): boolean {
  const first = Number.parseInt(ip.split(':')[0] ?? '', 16);
  return ip.includes(':') && (first & 0xfe00) === 0x0200;
}

/** The host's Yggdrasil addresses (empty when no Yggdrasil daemon runs here). */
export function yggdrasilAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv6' && isYggdrasilAddress(a.address)) out.push(a.address);
  }
  return out;
}

/** A free TCP port on `ip` (so the listen address, port included, can be announced up front). */
/** The lowest port the OS hands out for port 0 (Linux: ip_local_port_range; 32768 elsewhere). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * The first of `n` consecutive ports free on `ip`, from below the range the OS hands out for
 * port 0: a port checked free here cannot be taken meanwhile by some process listening on port 0
 * (a twin, a 0-db), only by one that picks fixed ports the same way.
 */
export async function freePortRange(n: number, ip = '127.0.0.1'): Promise<number> {
  const top = ephemeralLow() - n;
  for (;;) {
    const base = 10_000 + Math.floor(Math.random() * (top - 10_000));
    const held: Server[] = [];
    for (let i = 0; i < n; i++) {
      const s = await new Promise<Server | undefined>((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(undefined));
        server.listen({ host: ip, port: base + i, exclusive: true }, () => resolve(server));
      });
      if (!s) break;
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (held.length === n) return base;
  }
}

export function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, ip, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
