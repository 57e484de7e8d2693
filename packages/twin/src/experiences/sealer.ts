/**
 * Message payloads sealed end to end to the recipient's encryption key (x25519, from its verified
 * phonebook record): the bus's outbox on the sender's side and its inbox on the receiver's keep
 * only ciphertext, and so does every relay. The bus envelope around it stays signed by the sender.
 */
import { seal, type TwinIdentity } from '@twin/identity';
import type { TwinBus } from '@twin/network';
import { z } from 'zod';
import { TwinError } from '../errors.ts';
import { encode, parsePayload } from './protocol.ts';

const Sealed = z.strictObject({ sealed: z.string().max(8 * 1024 * 1024) });

export class Sealer {
  constructor(
    private readonly identity: TwinIdentity,
    private readonly bus: TwinBus,
  ) {}

  /** The payload for `twin`, sealed to its encryption key. */
  async seal(twin: number, value: unknown): Promise<Buffer> {
    const record = await this.bus.phonebookTwin(twin);
    return encode({
      sealed: seal(encode(value), Buffer.from(record.encryptionKey, 'base64')).toString('base64'),
    });
  }

  /** Opens and validates a sealed payload; TwinError `bad_request` when it is not one for us. */
  open<T>(schema: z.ZodType<T>, payload: Buffer): T {
    const { sealed } = parsePayload(Sealed, payload);
    let plain: Buffer;
    try {
      plain = this.identity.open(Buffer.from(sealed, 'base64'));
    } catch {
      throw new TwinError('bad_request', 'a sealed payload that does not open with this twin key');
    }
    return parsePayload(schema, plain);
  }
}
