/**
 * bench/qss-coder/pipeline: the whole block pipeline (compression decision, AES-256-GCM, RS 4+2,
 * SHA-256 per shard) as a stream, no storage: encodeStream, decode with every shard, and decode
 * with 2 data shards lost per block. Each on this thread (reference: inline) and on a pool of
 * 2 worker threads; random (incompressible) and text-like input; 4 MiB blocks. MB/s = 10^6 bytes
 * of object per second. Peak RSS is the whole process's (worker threads included, 16 MiB of source
 * pattern and 8 held blocks included), sampled per block.
 *
 *   node --import tsx bench/qss-coder/pipeline.ts [--json] [--quick]
 */
import { randomBytes } from 'node:crypto';
import type { EncodedBlock } from '../../packages/qss/src/block.ts';
import { decodeStream, encodeStream } from '../../packages/qss/src/pipeline.ts';
import { type BlockRunner, InlineRunner, WorkerPool } from '../../packages/qss/src/runner.ts';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const log = (s: string) => process.stderr.write(`${s}\n`);
const MiB = 1 << 20;
const objectBytes = (quick ? 64 : 512) * MiB;
const blockSize = 4 * MiB;
const k = 4;
const m = 2;
const key = randomBytes(32);

/** A lazily generated object: `objectBytes` in 1 MiB chunks, cycling through one 16 MiB pattern. */
function source(kind: 'random' | 'text'): () => Generator<Uint8Array> {
  const pattern =
    kind === 'random'
      ? randomBytes(16 * MiB)
      : Buffer.from(
          Array.from(
            { length: (16 * MiB) / 64 },
            (_, i) => `line ${i}: twin ${i % 977} stored shard ${i * 7}\n`,
          )
            .join('')
            .slice(0, 16 * MiB),
        );
  return function* () {
    for (let pos = 0; pos < objectBytes; pos += MiB)
      yield pattern.subarray(pos % pattern.length, (pos % pattern.length) + MiB);
  };
}

async function rate(fn: () => Promise<number>): Promise<number> {
  const start = process.hrtime.bigint();
  const bytes = await fn();
  return bytes / (Number(process.hrtime.bigint() - start) / 1e9) / 1e6;
}

interface Row {
  runner: string;
  input: string;
  parallelism: number;
  encodeMBs: number;
  decodeMBs: number;
  decodeLost2MBs: number;
  peakRssMiB: number;
}
const rows: Row[] = [];
let peak = 0;
const sampleRss = () => {
  peak = Math.max(peak, process.memoryUsage.rss());
};

const pool = new WorkerPool(2);
const runners: Array<[string, BlockRunner]> = [
  ['inline', new InlineRunner()],
  ['workers(2)', pool],
];
for (const input of ['random', 'text'] as const) {
  const make = source(input);
  for (const [name, runner] of runners)
    for (const parallelism of [2, 4]) {
      peak = 0;
      // Warm up (worker start, JIT), then keep 8 encoded blocks to decode, so decoding is measured
      // without storage.
      for await (const _ of encodeStream(make(), key, { k, m, blockSize, runner, parallelism }))
        if (_.index > 8) break;
      const sample: EncodedBlock[] = [];
      const encodeMBs = await rate(async () => {
        let n = 0;
        for await (const b of encodeStream(make(), key, { k, m, blockSize, runner, parallelism })) {
          n += b.plainSize;
          sampleRss();
          if (sample.length < 8) sample.push(b);
        }
        return n;
      });
      const rounds = Math.ceil(objectBytes / blockSize / sample.length);
      const sets = (lost: number) =>
        (function* () {
          for (let r = 0; r < rounds; r++)
            for (const b of sample)
              yield { layout: b, shards: b.shards.map((s, i) => (i < lost ? undefined : s)) };
        })();
      const decode = (lost: number) =>
        rate(async () => {
          let n = 0;
          for await (const d of decodeStream(sets(lost), key, { k, m, runner, parallelism })) {
            n += d.plain.length;
            sampleRss();
          }
          return n;
        });
      const decodeMBs = await decode(0);
      const decodeLost2MBs = await decode(2);
      const row = {
        runner: name,
        input,
        parallelism,
        encodeMBs,
        decodeMBs,
        decodeLost2MBs,
        peakRssMiB: peak / MiB,
      };
      rows.push(row);
      log(
        `${name.padEnd(11)} ${input.padEnd(6)} par ${parallelism}  encode ${encodeMBs.toFixed(0).padStart(5)} MB/s  decode ${decodeMBs.toFixed(0).padStart(5)} MB/s  decode(2 lost) ${decodeLost2MBs.toFixed(0).padStart(5)} MB/s  peak RSS ${row.peakRssMiB.toFixed(0)} MiB`,
      );
    }
}
await pool.close();
if (json)
  console.log(
    JSON.stringify(
      { bench: 'qss-pipeline', reference: 'inline', objectBytes, blockSize, k, m, rows },
      null,
      2,
    ),
  );
