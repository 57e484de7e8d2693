/**
 * Multi-host test on the Planetary Network: two network namespaces joined only by a veth pair,
 * each running Debian's yggdrasil with a TUN interface. The phonebook runs in host A on A's
 * Yggdrasil address; twin alice runs in A, twin bob's CLI in B. Each namespace has its own
 * loopback, so the only way from B to anything in A is the veth — and the twins and the
 * phonebook are only reachable there on their 200::/7 Yggdrasil addresses.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const TWIN = new URL('../../cli/bin/twin.js', import.meta.url).pathname;

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/dev/net/tun')) return 'needs /dev/net/tun';
  if (spawnSync('ip', ['-V']).status !== 0) return "needs iproute2's ip";
  if (spawnSync('yggdrasil', ['-version']).status !== 0)
    return "needs Debian's yggdrasil (apt-get install yggdrasil)";
  return null;
}

const skip = missing();

test('two twins in separate network namespaces reach each other over Yggdrasil only', {
  skip: skip ?? false,
}, async () => {
  const tag = Math.random().toString(36).slice(2, 7);
  const nsA = `twa-${tag}`;
  const nsB = `twb-${tag}`;
  const dir = mkdtempSync(join(tmpdir(), 'ygg-'));
  const procs: ChildProcess[] = [];
  const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);
  try {
    sh('ip', 'netns', 'add', nsA);
    sh('ip', 'netns', 'add', nsB);
    sh('ip', 'link', 'add', `va-${tag}`, 'type', 'veth', 'peer', 'name', `vb-${tag}`);
    sh('ip', 'link', 'set', `va-${tag}`, 'netns', nsA);
    sh('ip', 'link', 'set', `vb-${tag}`, 'netns', nsB);
    inNs(nsA, 'ip', 'addr', 'add', '10.231.7.1/30', 'dev', `va-${tag}`);
    inNs(nsB, 'ip', 'addr', 'add', '10.231.7.2/30', 'dev', `vb-${tag}`);
    for (const [ns, dev] of [
      [nsA, `va-${tag}`],
      [nsB, `vb-${tag}`],
    ] as const) {
      inNs(ns, 'ip', 'link', 'set', dev, 'up');
      inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    }

    // yggdrasil in each namespace: B listens on the veth, A peers with it; no multicast, no admin socket
    const addresses: Record<string, string> = {};
    for (const [ns, listen, peers] of [
      [nsA, [], ['tcp://10.231.7.2:14000']],
      [nsB, ['tcp://10.231.7.2:14000'], []],
    ] as const) {
      const conf = JSON.parse(sh('yggdrasil', '-genconf', '-json')) as Record<string, unknown>;
      Object.assign(conf, {
        Peers: peers,
        Listen: listen,
        MulticastInterfaces: [],
        AdminListen: 'none',
        IfName: 'ygg0',
      });
      const file = join(dir, `${ns}.conf`);
      writeFileSync(file, JSON.stringify(conf));
      addresses[ns] = sh('yggdrasil', '-useconffile', file, '-address').trim();
      procs.push(
        spawn(
          'ip',
          ['netns', 'exec', ns, 'yggdrasil', '-useconffile', file, '-logto', join(dir, `${ns}.log`)],
          { stdio: 'ignore' },
        ),
      );
    }
    const a = addresses[nsA]!;
    const b = addresses[nsB]!;
    assert.match(a, /^2[0-9a-f]{2}:/);
    // wait until both TUN interfaces carry their Yggdrasil address
    for (const [ns, addr] of [
      [nsA, a],
      [nsB, b],
    ] as const) {
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = spawnSync('ip', ['netns', 'exec', ns, 'ip', '-6', 'addr', 'show', 'dev', 'ygg0'], {
          encoding: 'utf8',
        }).stdout.includes(addr);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, `yggdrasil TUN up in ${ns}`);
    }
    const node = (ns: string, ...args: string[]) => [
      'ip',
      'netns',
      'exec',
      ns,
      process.execPath,
      TWIN,
      ...args,
    ];
    const run = (argv: string[]) => {
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const phonebook = `http://[${a}]:8730`;
    const pbArgs = node(nsA, 'phonebook', 'serve', '--host', a, '--port', '8730', '--data', join(dir, 'pb'));
    procs.push(spawn(pbArgs[0]!, pbArgs.slice(1), { stdio: 'ignore' }));
    const alice = join(dir, 'alice');
    const bob = join(dir, 'bob');
    assert.equal(run(node(nsA, 'init', '--home', alice, '--name', 'alice')).code, 0);
    assert.equal(run(node(nsB, 'init', '--home', bob, '--name', 'bob')).code, 0);
    // bob registers through the phonebook over Yggdrasil (retry while the server starts)
    let reg = run(node(nsB, 'phonebook', 'register', '--home', bob, '--phonebook', phonebook));
    for (let i = 0; i < 150 && reg.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      reg = run(node(nsB, 'phonebook', 'register', '--home', bob, '--phonebook', phonebook));
    }
    assert.equal(reg.code, 0, reg.stderr);
    // alice runs her twin; it detects the Yggdrasil address on its own and publishes it
    const startArgs = node(nsA, 'start', '--home', alice, '--phonebook', phonebook);
    const aliceProc = spawn(startArgs[0]!, startArgs.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    let aliceLog = '';
    aliceProc.stderr?.on('data', (d) => {
      aliceLog += d;
    });
    procs.push(aliceProc);
    let record: { addresses: string[] } | null = null;
    for (let i = 0; i < 30; i++) {
      const r = run(node(nsB, 'lookup', 'alice', '--phonebook', phonebook, '--json'));
      if (r.code === 0) {
        record = JSON.parse(r.stdout) as { addresses: string[] };
        if (record.addresses.some((x) => x.startsWith(`/ip6/${a}/`))) break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(
      record?.addresses.some((x) => x.startsWith(`/ip6/${a}/tcp/`)),
      `alice publishes her Yggdrasil address: ${record?.addresses}\n${aliceLog}`,
    );
    // bob pings alice: from namespace B the only way to alice is her Yggdrasil address
    const ping = run(
      node(nsB, 'ping', 'alice', '--home', bob, '--phonebook', phonebook, '--count', '3', '--json'),
    );
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal((JSON.parse(ping.stdout) as { rttMs: number[] }).rttMs.length, 3);
    const sent = run(
      node(
        nsB,
        'send',
        'alice',
        'note',
        'over the planetary network',
        '--home',
        bob,
        '--phonebook',
        phonebook,
        '--json',
      ),
    );
    assert.equal(JSON.parse(sent.stdout).status, 'delivered', sent.stderr);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
    rmSync(dir, { recursive: true, force: true });
  }
});
