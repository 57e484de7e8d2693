/**
 * The deployment format. A deployment is canonical JSON:
 *
 *   {version, twin, node, metadata, workloads: [{name, type, version, data}],
 *    signatureRequirement?, signatures: [{twin, signature}]}
 *
 * Its hash is SHA-256 over `DEPLOYMENT_HASH_CONTEXT`, a newline, and the canonical bytes of
 * everything but `signatures` (a result is never part of a deployment; nodes keep results beside
 * it). Canonical JSON is delimited by construction (no field boundary is ambiguous, unlike a
 * concatenation), and the domain prefix keeps the hash from ever meaning anything else.
 *
 * Signatures are ed25519 over the 32 hash bytes with the identity package's domain separation
 * (`DEPLOYMENT_SIGN_CONTEXT`). Without a `signatureRequirement`, exactly the deployment's twin
 * must sign. With one, `{requests: [{twin, weight}], weightRequired}`: every signature present
 * must be by a listed twin and must verify (a bad signature is refused, never skipped); a listed
 * twin that did not sign simply adds no weight (optional signers never break verification); the
 * weights of the valid signatures must reach `weightRequired`. The deployment's twin must be
 * listed, so nobody deploys in its name without it.
 */
import { createHash } from 'node:crypto';
import { type TwinIdentity, verify } from '@twin/identity';
import { canonical } from '@twin/phonebook';
import { z } from 'zod';
import { GridError } from './errors.ts';
import { MAX_DEPLOYMENT_BYTES, MAX_METADATA, MAX_SIGNERS, MAX_WORKLOADS } from './limits.ts';
import { checkWorkload, WORKLOAD_NAME } from './workloads/types.ts';

type Json = Parameters<typeof canonical>[0];

export const DEPLOYMENT_HASH_CONTEXT = 'twin/grid/deployment/v1';
export const DEPLOYMENT_SIGN_CONTEXT = 'twin/grid/deployment-signature/v1';

const id = z.number().int().positive();
const signature = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a base64 64-byte signature');

export const workloadSchema = z.strictObject({
  name: z.string().regex(WORKLOAD_NAME, 'a workload name: 1-32 lowercase letters, digits or -'),
  type: z.string().max(32),
  version: z.number().int().nonnegative(),
  data: z.record(z.string(), z.unknown()),
});
export type Workload = z.infer<typeof workloadSchema>;

export const deploymentSchema = z.strictObject({
  version: z.number().int().nonnegative(),
  twin: id,
  node: id,
  metadata: z.string().max(MAX_METADATA),
  workloads: z.array(workloadSchema).max(MAX_WORKLOADS),
  signatureRequirement: z
    .strictObject({
      requests: z
        .array(z.strictObject({ twin: id, weight: z.number().int().positive() }))
        .min(1)
        .max(MAX_SIGNERS),
      weightRequired: z.number().int().positive(),
    })
    .optional(),
  signatures: z.array(z.strictObject({ twin: id, signature })).max(MAX_SIGNERS),
});
export type Deployment = z.infer<typeof deploymentSchema>;
/** A deployment before it is signed. */
export type UnsignedDeployment = Omit<Deployment, 'signatures'> & { signatures?: Deployment['signatures'] };

/** The bytes a deployment's hash covers: everything but its signatures, canonical. */
export function hashedBytes(d: UnsignedDeployment): Buffer {
  const { signatures: _s, ...rest } = d;
  return Buffer.from(`${DEPLOYMENT_HASH_CONTEXT}\n${canonical(rest as unknown as Json)}`);
}

/** The deployment's hash, lowercase hex (what its contract holds). */
export function deploymentHash(d: UnsignedDeployment): string {
  return createHash('sha256').update(hashedBytes(d)).digest('hex');
}

/** Adds (or replaces) `signer`'s signature over the deployment's hash. `twin` is the signer's id. */
export function signDeployment(d: UnsignedDeployment, signer: TwinIdentity, twin: number): Deployment {
  const hash = Buffer.from(deploymentHash(d), 'hex');
  const sig = Buffer.from(signer.sign(DEPLOYMENT_SIGN_CONTEXT, hash)).toString('base64');
  const others = (d.signatures ?? []).filter((s) => s.twin !== twin);
  return { ...d, signatures: [...others, { twin, signature: sig }].sort((a, b) => a.twin - b.twin) };
}

export function encodeDeployment(d: Deployment): Buffer {
  return Buffer.from(canonical(d as unknown as Json));
}

/**
 * Parses a deployment from its bytes: size, JSON, schema, canonical encoding, workload names
 * unique, each workload's type and data valid (checkWorkload), workload versions not past the
 * deployment's. Throws GridError bad_deployment / invalid_workload.
 */
export function decodeDeployment(bytes: Buffer): Deployment {
  if (bytes.length > MAX_DEPLOYMENT_BYTES)
    throw new GridError(
      'bad_deployment',
      `deployment is ${bytes.length} bytes, over ${MAX_DEPLOYMENT_BYTES}`,
    );
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new GridError('bad_deployment', 'deployment is not JSON');
  }
  const parsed = deploymentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    const workload = issue?.path[0] === 'workloads';
    throw new GridError(
      workload ? 'invalid_workload' : 'bad_deployment',
      `invalid deployment${where}: ${issue?.message ?? 'schema'}`,
    );
  }
  if (canonical(json as Json) !== bytes.toString('utf8'))
    throw new GridError('bad_deployment', 'deployment bytes are not canonical JSON');
  const d = parsed.data;
  const names = new Set<string>();
  for (const w of d.workloads) {
    if (names.has(w.name)) throw new GridError('invalid_workload', `workload name "${w.name}" is used twice`);
    names.add(w.name);
    if (w.version > d.version)
      throw new GridError(
        'invalid_workload',
        `workload "${w.name}" has version ${w.version}, past the deployment's`,
      );
    checkWorkload(w);
  }
  return d;
}

/**
 * Checks the signatures against the requirement (see the module doc). `keyOf` returns a twin's
 * current signing key (base64), or null when there is no such twin; `hashHex` is the deployment's
 * hash when the caller already computed it.
 */
export async function verifySignatures(
  d: Deployment,
  keyOf: (twin: number) => Promise<string | null>,
  hashHex: string = deploymentHash(d),
): Promise<void> {
  const req = d.signatureRequirement ?? { requests: [{ twin: d.twin, weight: 1 }], weightRequired: 1 };
  const weights = new Map(req.requests.map((r) => [r.twin, r.weight]));
  if (!weights.has(d.twin))
    throw new GridError('bad_signature', `the deployment's twin ${d.twin} is not among its required signers`);
  const hash = Buffer.from(hashHex, 'hex');
  let weight = 0;
  const seen = new Set<number>();
  for (const s of d.signatures) {
    if (seen.has(s.twin)) throw new GridError('bad_signature', `twin ${s.twin} signed twice`);
    seen.add(s.twin);
    const w = weights.get(s.twin);
    if (w === undefined) throw new GridError('bad_signature', `twin ${s.twin} is not a requested signer`);
    const key = await keyOf(s.twin);
    if (
      !key ||
      !verify(DEPLOYMENT_SIGN_CONTEXT, hash, Buffer.from(s.signature, 'base64'), Buffer.from(key, 'base64'))
    )
      throw new GridError('bad_signature', `twin ${s.twin}'s signature does not verify`);
    weight += w;
  }
  if (weight < req.weightRequired)
    throw new GridError(
      'bad_signature',
      `signatures weigh ${weight}, the deployment requires ${req.weightRequired}`,
    );
}
