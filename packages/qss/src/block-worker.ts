/**
 * Body of a block worker thread: runs BlockCodec.encode/decode for the pool in runner.ts and
 * transfers the resulting buffers back (they are owned by this thread, so no copy is made).
 */
import { parentPort } from 'node:worker_threads';
import { blockCodec } from './block.ts';
import { QssError } from './errors.ts';
import { type BlockRequest, type BlockResponse, transferList } from './runner-protocol.ts';

parentPort!.on('message', (req: BlockRequest) => {
  let res: BlockResponse;
  try {
    if (req.op === 'encode') {
      const block = blockCodec(req.k, req.m).encode(req.plain, req.index, req.key, req.policy);
      res = { id: req.id, ok: true, op: 'encode', block };
      parentPort!.postMessage(res, transferList(block.shards));
    } else {
      const block = blockCodec(req.k, req.m).decode(req.layout, req.shards, req.key);
      res = { id: req.id, ok: true, op: 'decode', block };
      parentPort!.postMessage(res, transferList([block.plain]));
    }
  } catch (e) {
    const code = e instanceof QssError ? e.code : undefined;
    parentPort!.postMessage({
      id: req.id,
      ok: false,
      code,
      message: (e as Error).message,
    } satisfies BlockResponse);
  }
});
