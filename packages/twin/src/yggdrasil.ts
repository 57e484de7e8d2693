/** The Planetary Network: Yggdrasil gives each host an address in 200::/7 on its TUN interface. */
import { createServer } from 'node:net';
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
