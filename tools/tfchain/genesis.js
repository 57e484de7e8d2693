/**
 * Builds a raw genesis chain spec for TFChain's runtime (runtime-144.wasm) that chopsticks can run:
 * funded dev accounts, Alice as the single aura/grandpa/session authority, the runtime upgrade
 * marker of this very spec (so no migration runs at block 1), and the grid's pricing and farming
 * policies, prices and fees, modelled on tfchain's own development config.
 *
 * How: a chopsticks started on a genesis holding only `:code` serves the runtime's metadata;
 * every storage key and SCALE value below is computed from that metadata (never hand-encoded),
 * then the spec is written with sorted keys. The result is deterministic: the same wasm gives
 * byte-identical JSON (its sha256 is printed).
 *
 * Usage: node genesis.js [out.json]   (default: genesis.json beside this file)
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const RUNTIME = join(here, 'runtime-144.wasm');
export const RUNTIME_SHA256 = '6be30d4fd224b5eebc0aea36f0bd6baec296aff0bf1859507aa0bd926b3dd47b';
/** Every dev account gets this much (7 decimals: 1e9 TFT). */
const ENDOWMENT = 10n ** 16n;
const DEV_ACCOUNTS = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];
const SPEC = { name: 'TFChain (local test)', id: 'tfchain_local_test', chainType: 'Development' };
const PROPERTIES = { tokenDecimals: 7, tokenSymbol: 'TFT', ss58Format: 42 };

function readRuntime() {
  const bytes = readFileSync(RUNTIME);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== RUNTIME_SHA256)
    throw new Error(`runtime-144.wasm has sha256 ${sha}, expected ${RUNTIME_SHA256}`);
  return `0x${bytes.toString('hex')}`;
}

function spec(top) {
  const sorted = Object.fromEntries(Object.entries(top).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { ...SPEC, properties: PROPERTIES, genesis: { raw: { top: sorted, childrenDefault: {} } } };
}

/** The storage of the genesis, computed with `api` (connected to the runtime) and `Keyring`. */
function storage(api, Keyring) {
  const top = {};
  const set = (entry, value, ...keys) => {
    top[entry.key(...keys)] = value.toHex();
  };
  const make = (entry, value) => {
    const t = entry.creator.meta.type;
    return api.registry.createType(
      api.registry.lookup.getTypeDef(t.isPlain ? t.asPlain : t.asMap.value).type,
      value,
    );
  };
  const q = api.query;
  const hex = (v) => `0x${Buffer.from(v).toString('hex')}`;
  const sr = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const ed = new Keyring({ type: 'ed25519', ss58Format: 42 });
  const accounts = DEV_ACCOUNTS.map((n) => sr.addFromUri(`//${n}`));
  const alice = accounts[0];
  const aliceEd = ed.addFromUri('//Alice');

  for (const a of accounts)
    set(
      q.system.account,
      make(q.system.account, {
        nonce: 0,
        consumers: 0,
        providers: 1,
        sufficients: 0,
        data: { free: ENDOWMENT },
      }),
      a.address,
    );
  set(q.balances.totalIssuance, make(q.balances.totalIssuance, ENDOWMENT * BigInt(accounts.length)));
  set(
    q.system.lastRuntimeUpgrade,
    make(q.system.lastRuntimeUpgrade, {
      specVersion: api.runtimeVersion.specVersion,
      specName: api.runtimeVersion.specName,
    }),
  );
  set(q.system.upgradedToU32RefCount, make(q.system.upgradedToU32RefCount, true));
  set(q.system.upgradedToTripleRefCount, make(q.system.upgradedToTripleRefCount, true));

  // Consensus: Alice alone authors (aura) and finalises (grandpa); the session and validator set agree.
  set(q.aura.authorities, make(q.aura.authorities, [alice.publicKey]));
  const keys = { aura: alice.publicKey, grandpa: aliceEd.publicKey };
  set(q.session.validators, make(q.session.validators, [alice.address]));
  set(q.session.queuedKeys, make(q.session.queuedKeys, [[alice.address, keys]]));
  set(q.session.nextKeys, make(q.session.nextKeys, keys), alice.address);
  set(q.session.keyOwner, make(q.session.keyOwner, alice.address), [hex('aura'), hex(alice.publicKey)]);
  set(q.session.keyOwner, make(q.session.keyOwner, alice.address), [hex('gran'), hex(aliceEd.publicKey)]);
  if (q.validatorSet?.validators)
    set(q.validatorSet.validators, make(q.validatorSet.validators, [alice.address]));
  if (q.grandpa?.authorities)
    set(q.grandpa.authorities, make(q.grandpa.authorities, [[aliceEd.publicKey, 1]]));
  // Grandpa's well-known key (VersionedAuthorityList: version 1, then the list).
  top['0x3a6772616e6470615f617574686f726974696573'] = api.registry
    .createType('(u8, Vec<([u8;32], u64)>)', [1, [[aliceEd.publicKey, 1]]])
    .toHex();
  if (q.council?.members) set(q.council.members, make(q.council.members, [alice.address]));
  if (q.councilMembership?.members)
    set(q.councilMembership.members, make(q.councilMembership.members, [alice.address]));

  // The grid: one pricing policy and two farming policies (DIY and certified), as tfchain's dev config.
  const g = q.tfgridModule;
  const unit = (value) => ({ value, unit: 'Gigabytes' });
  set(
    g.pricingPolicies,
    make(g.pricingPolicies, {
      version: 1,
      id: 1,
      name: 'policy_1',
      su: unit(50000),
      cu: unit(100000),
      nu: unit(15000),
      ipu: { value: 40000, unit: 'Gigabytes' },
      uniqueName: { value: 2500, unit: 'Gigabytes' },
      domainName: { value: 5000, unit: 'Gigabytes' },
      foundationAccount: alice.address,
      certifiedSalesAccount: alice.address,
      discountForDedicationNodes: 50,
    }),
    1,
  );
  if (g.pricingPolicyIdByName) set(g.pricingPolicyIdByName, make(g.pricingPolicyIdByName, 1), 'policy_1');
  set(g.pricingPolicyID, make(g.pricingPolicyID, 1));
  const farming = (id, name, certified) => ({
    version: 1,
    id,
    name,
    cu: 500,
    su: 300,
    nu: 10,
    ipv4: 5,
    minimalUptime: 95,
    policyCreated: 0,
    policyEnd: 0,
    immutable: false,
    default: true,
    nodeCertification: certified ? 'Certified' : 'Diy',
    farmCertification: certified ? 'Gold' : 'NotCertified',
  });
  set(g.farmingPoliciesMap, make(g.farmingPoliciesMap, farming(1, 'farming_policy_diy', false)), 1);
  set(g.farmingPoliciesMap, make(g.farmingPoliciesMap, farming(2, 'farming_policy_certified', true)), 2);
  set(g.farmingPolicyID, make(g.farmingPolicyID, 2));
  set(g.connectionPrice, make(g.connectionPrice, 80));

  const sc = q.smartContractModule;
  set(sc.billingFrequency, make(sc.billingFrequency, 10));

  const p = q.tftPriceModule;
  set(p.tftPrice, make(p.tftPrice, 500));
  set(p.averageTftPrice, make(p.averageTftPrice, 500));
  set(p.minTftPrice, make(p.minTftPrice, 10));
  set(p.maxTftPrice, make(p.maxTftPrice, 1000));

  const b = q.tftBridgeModule;
  if (b?.withdrawFee) set(b.withdrawFee, make(b.withdrawFee, 10_000_000));
  if (b?.depositFee) set(b.depositFee, make(b.depositFee, 10_000_000));
  if (b?.feeAccount) set(b.feeAccount, make(b.feeAccount, alice.address));
  if (b?.validators) set(b.validators, make(b.validators, [alice.address]));
  return top;
}

/** Runs `fn(chopsticksContext, api, polkadot)` against a chopsticks serving `genesis` on a free port. */
export async function withChain(genesis, fn) {
  const { setupWithServer } = await import('@acala-network/chopsticks');
  const polkadot = await import('@polkadot/api');
  const ctx = await setupWithServer({
    genesis,
    port: 0,
    host: '127.0.0.1',
    'build-block-mode': 'Instant',
    'runtime-log-level': 0,
  });
  const api = await polkadot.ApiPromise.create({
    provider: new polkadot.WsProvider(`ws://${ctx.addr}`),
    noInitWarn: true,
  });
  try {
    return await fn(ctx, api, polkadot);
  } finally {
    await api.disconnect();
    await ctx.close();
  }
}

/** The raw genesis spec as an object (see the module doc). */
export async function buildGenesis() {
  const code = readRuntime();
  const bare = spec({ '0x3a636f6465': code });
  const top = await withChain(bare, (_ctx, api, polkadot) => storage(api, polkadot.Keyring));
  return spec({ ...top, '0x3a636f6465': code });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(here, 'genesis.json');
  const json = `${JSON.stringify(await buildGenesis(), null, 1)}\n`;
  writeFileSync(out, json);
  console.log(`${out} sha256 ${createHash('sha256').update(json).digest('hex')}`);
  process.exit(0);
}
