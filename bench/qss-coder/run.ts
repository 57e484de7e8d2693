/**
 * bench/qss-coder: Reed-Solomon candidates side by side on one core — encode (k data shards →
 * m parity shards) and rebuild with m data shards missing, 4+2, 1 MiB and 4 MiB blocks. Figures
 * are MB/s of block data (10^6 bytes/s). Every candidate's rebuild is checked against the data
 * before it is timed; a wrong one is reported, never ranked. Reference: qss-js-tables.
 *
 *   node --import tsx bench/qss-coder/run.ts [--json] [--quick] [--k 4 --m 2]
 *
 * The third-party candidates are not dependencies (they lost); without them they are reported as
 * skipped. To include them, install them in a scratch directory and point NODE_PATH at it:
 *   cd "$(mktemp -d)" && npm init -y && npm install @ronomon/reed-solomon @digitaldefiance/reed-solomon-erasure.wasm
 *   npm install-scripts approve @ronomon/reed-solomon && rm node_modules/@ronomon/reed-solomon/binding.node
 *   npm rebuild @ronomon/reed-solomon        # builds the addon from source with node-gyp
 *   NODE_PATH=<that directory>/node_modules node --import tsx bench/qss-coder/run.ts
 */
import { randomBytes } from 'node:crypto';
import { type Candidate, loadCandidates } from './candidates.ts';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const k = flag('--k', 4);
const m = flag('--m', 2);
const seconds = quick ? 0.3 : 2;
const log = (s: string) => process.stderr.write(`${s}\n`);

async function timed(bytes: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    await fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return (bytes * n) / elapsed / 1e6;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

interface Row {
  candidate: string;
  kind: string;
  k: number;
  m: number;
  blockBytes: number;
  encodeMBs: number | null;
  rebuildMBs: number | null;
  correct: boolean | null;
  note?: string;
}

const rows: Row[] = [];
for (const blockBytes of [1 << 20, 4 << 20]) {
  const shardBytes = Math.ceil(blockBytes / k);
  const data = Array.from({ length: k }, () => new Uint8Array(randomBytes(shardBytes)));
  const lost = [...Array(Math.min(m, k)).keys()];
  for (const c of loadCandidates(k, m)) {
    const base = { candidate: c.name, k, m, blockBytes };
    if ('skipped' in c) {
      rows.push({ ...base, kind: '', encodeMBs: null, rebuildMBs: null, correct: null, note: c.skipped });
      continue;
    }
    const cand: Candidate = c;
    const parity = await cand.encode(data);
    const survivors = [...data, ...parity].map((s, i) => (lost.includes(i) ? undefined : s));
    const rebuilt = await cand.rebuild(survivors);
    const correct = rebuilt.length === lost.length && lost.every((i, n) => same(rebuilt[n]!, data[i]!));
    if (!correct) {
      rows.push({ ...base, kind: cand.kind, encodeMBs: null, rebuildMBs: null, correct });
      continue;
    }
    const encodeMBs = await timed(blockBytes, () => cand.encode(data));
    const rebuildMBs = await timed(blockBytes, () => cand.rebuild(survivors));
    rows.push({ ...base, kind: cand.kind, encodeMBs, rebuildMBs, correct });
    log(
      `${cand.name.padEnd(44)} ${String(blockBytes >> 20).padStart(2)} MiB  encode ${encodeMBs.toFixed(0).padStart(6)} MB/s  rebuild(${lost.length} lost) ${rebuildMBs.toFixed(0).padStart(6)} MB/s`,
    );
  }
}

if (json)
  console.log(JSON.stringify({ bench: 'qss-coder', reference: 'qss-js-tables', seconds, rows }, null, 2));
else {
  log('');
  for (const r of rows) {
    const figures =
      r.encodeMBs === null
        ? (r.note ?? (r.correct === false ? 'WRONG RESULT' : ''))
        : `encode ${r.encodeMBs.toFixed(0)} MB/s, rebuild ${r.rebuildMBs!.toFixed(0)} MB/s`;
    log(`${r.k}+${r.m} ${r.blockBytes >> 20} MiB  ${r.candidate}: ${figures}`);
  }
}
