/**
 * `GET /api/storage`: the twin's Quantum Safe Storage as the settings screen shows it. Whether QSS
 * is configured; each backend (data and metadata) with its address, namespace, group and state
 * (`ok`, `full`: reachable with no free space, `down`: unreachable); whether reads and writes can
 * proceed now; and the latest repair sweep. Asking the backends is one NSINFO each (QSS's
 * status()); the object count is the latest sweep's.
 */
import type { Qss, RepairReport } from '@twin/qss';
import { z } from 'zod';
import type { Route } from './routes.ts';

/** What the daemon knows of its storage when the request comes (QSS opens after the API). */
export interface StorageSource {
  qss?: Qss;
  lastRepair?: { at: number; report: RepairReport };
}

export type BackendState = 'ok' | 'full' | 'down';

export interface StorageBackend {
  address: string;
  namespace: string;
  group: string;
  role: 'data' | 'meta';
  state: BackendState;
  used?: number;
  free?: number;
  entries?: number;
  latencyMs?: number;
  error?: string;
}

/** Errors of the latest sweep shown at most (the log has them all). */
const MAX_REPAIR_ERRORS = 10;

/** `zdb://host:port/ns` → address and namespace. */
function split(backend: string): { address: string; namespace: string } {
  const m = /^zdb:\/\/(.+)\/([^/]+)$/.exec(backend);
  return m ? { address: m[1]!, namespace: m[2]! } : { address: backend, namespace: '' };
}

export function storageRoutes(source: () => StorageSource): Route[] {
  return [
    {
      method: 'GET',
      url: '/api/storage',
      tag: 'storage',
      summary:
        "QSS status: configured or not; each backend's address, namespace, group, role and state (ok, full, down); k, m, readable, writable; the latest repair sweep",
      query: z.strictObject({}),
      handler: async () => {
        const { qss, lastRepair } = source();
        if (!qss) return { configured: false, backends: [] };
        const s = await qss.status();
        const view =
          (role: 'data' | 'meta') =>
          (b: (typeof s.data)[number]): StorageBackend => ({
            ...split(b.backend),
            group: b.group,
            role,
            state: !b.reachable ? 'down' : b.freeBytes === 0 ? 'full' : 'ok',
            ...(b.usedBytes !== undefined ? { used: b.usedBytes } : {}),
            ...(b.freeBytes !== undefined && Number.isFinite(b.freeBytes) ? { free: b.freeBytes } : {}),
            ...(b.entries !== undefined ? { entries: b.entries } : {}),
            ...(b.latencyMs !== undefined ? { latencyMs: Math.round(b.latencyMs * 100) / 100 } : {}),
            ...(b.error ? { error: b.error } : {}),
          });
        return {
          configured: true,
          k: s.k,
          m: s.m,
          tolerate: s.tolerate,
          readable: s.readable,
          writable: s.writable,
          metaQuorum: s.metaQuorum,
          backends: [...s.data.map(view('data')), ...s.meta.map(view('meta'))],
          ...(lastRepair
            ? {
                objects: lastRepair.report.objects,
                lastRepair: {
                  at: lastRepair.at,
                  ...lastRepair.report,
                  errors: lastRepair.report.errors.slice(0, MAX_REPAIR_ERRORS),
                },
              }
            : {}),
        };
      },
    },
  ];
}
