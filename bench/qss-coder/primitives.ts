/**
 * bench/qss-coder/primitives: the per-block choices of the QSS pipeline, measured here.
 * - shard checksum: SHA-256 vs BLAKE2b-512 (truncated to 256 bits) vs BLAKE2s-256, 1 MiB shards;
 * - compression: brotli quality 0/1 vs deflate level 1 on text-like, JSON-like and random 4 MiB
 *   blocks (speed and ratio), and the cost of the sampled decision on a random block;
 * - AES-256-GCM encrypt and decrypt, 4 MiB.
 * One core; MB/s = 10^6 bytes of input per second.
 *
 *   node --import tsx bench/qss-coder/primitives.ts [--json] [--quick]
 */
import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';
import { brotliCompressSync, constants, deflateRawSync } from 'node:zlib';
import { compressBlock } from '../../packages/qss/src/compression.ts';

const json = process.argv.includes('--json');
const seconds = process.argv.includes('--quick') ? 0.2 : 1;
const log = (s: string) => process.stderr.write(`${s}\n`);
const MiB = 1 << 20;

function timed(bytes: number, fn: () => unknown): number {
  fn();
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    fn();
    n++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return (bytes * n) / elapsed / 1e6;
}

const rows: Array<{ group: string; name: string; input?: string; MBs: number; ratio?: number }> = [];
const row = (r: (typeof rows)[number]) => {
  rows.push(r);
  log(
    `${r.group.padEnd(12)} ${r.name.padEnd(22)} ${(r.input ?? '').padEnd(6)} ${r.MBs.toFixed(0).padStart(6)} MB/s${r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(3)}`}`,
  );
};

const shard = randomBytes(MiB);
row({ group: 'checksum', name: 'sha256', MBs: timed(MiB, () => hash('sha256', shard, 'buffer')) });
row({
  group: 'checksum',
  name: 'blake2b512/256',
  MBs: timed(MiB, () => hash('blake2b512', shard, 'buffer').subarray(0, 32)),
});
row({ group: 'checksum', name: 'blake2s256', MBs: timed(MiB, () => hash('blake2s256', shard, 'buffer')) });

const words = 'twin shard block zdb namespace contract node farm envelope phonebook ledger the of and'.split(
  ' ',
);
// Words in a pseudo-random order (a linear congruential sequence), so the text is not periodic.
let t = '';
for (let i = 0, x = 1; t.length < 4 * MiB; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  t += `${words[(x >>> 16) % words.length]}${(x >>> 8) % 13 === 0 ? `.\n${i} ` : ' '}`;
}
let j = '';
for (let i = 0; j.length < 4 * MiB; i++)
  j += `${JSON.stringify({ id: i, twin: `twin-${i % 977}`, seq: i * 3, tags: [words[i % words.length]] })}\n`;
const inputs: Record<string, Buffer> = {
  text: Buffer.from(t).subarray(0, 4 * MiB),
  json: Buffer.from(j).subarray(0, 4 * MiB),
  random: randomBytes(4 * MiB),
};
const brotli = (q: number) => (d: Buffer) =>
  brotliCompressSync(d, {
    params: { [constants.BROTLI_PARAM_QUALITY]: q, [constants.BROTLI_PARAM_SIZE_HINT]: d.length },
  });
const compressors: Record<string, (d: Buffer) => Buffer> = {
  'brotli q0': brotli(0),
  'brotli q1': brotli(1),
  'deflate l1': (d) => deflateRawSync(d, { level: 1 }),
};
for (const [input, data] of Object.entries(inputs))
  for (const [name, fn] of Object.entries(compressors))
    row({
      group: 'compress',
      name,
      input,
      MBs: timed(data.length, () => fn(data)),
      ratio: fn(data).length / data.length,
    });
row({
  group: 'decide',
  name: 'sampled auto',
  input: 'random',
  MBs: timed(4 * MiB, () => compressBlock(inputs.random!, 'auto')),
});
row({
  group: 'decide',
  name: 'sampled auto',
  input: 'text',
  MBs: timed(4 * MiB, () => compressBlock(inputs.text!, 'auto')),
  ratio: compressBlock(inputs.text!, 'auto').payload.length / (4 * MiB),
});

const key = randomBytes(32);
const iv = randomBytes(12);
const block = inputs.random!;
let tag = Buffer.alloc(16);
let ct = Buffer.alloc(0);
row({
  group: 'cipher',
  name: 'aes-256-gcm encrypt',
  MBs: timed(block.length, () => {
    const c = createCipheriv('aes-256-gcm', key, iv);
    ct = c.update(block);
    c.final();
    tag = c.getAuthTag();
  }),
});
row({
  group: 'cipher',
  name: 'aes-256-gcm decrypt',
  MBs: timed(block.length, () => {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag);
    d.update(ct);
    d.final();
  }),
});

if (json) console.log(JSON.stringify({ bench: 'qss-primitives', seconds, rows }, null, 2));
