/**
 * The node's durable state (SQLite): every deployment it holds with its exact signed bytes, its
 * workloads' results, the provisioning queue (jobs survive a crash and run again on restart),
 * and a bounded change log per deployment.
 */
import Database from 'better-sqlite3';
import type { WorkloadResult } from './workloads/types.ts';

/** Changes kept per deployment (the oldest dropped first). */
export const MAX_CHANGES = 200;

export interface StoredDeployment {
  contract: number;
  twin: number;
  version: number;
  hash: string;
  /** The signed deployment, canonical bytes. */
  bytes: Buffer;
  state: 'active' | 'deleted';
  results: Record<string, WorkloadResult>;
  updated: number;
}

export interface Job {
  id: number;
  contract: number;
  op: 'deploy' | 'update' | 'delete';
  bytes: Buffer | null;
}

export interface Change {
  contract: number;
  at: number;
  workload: string;
  state: string;
  message: string;
}

export class NodeStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS deployments (
        contract INTEGER PRIMARY KEY, twin INTEGER NOT NULL, version INTEGER NOT NULL,
        hash TEXT NOT NULL, bytes BLOB NOT NULL, state TEXT NOT NULL, results TEXT NOT NULL,
        updated INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, contract INTEGER NOT NULL, op TEXT NOT NULL, bytes BLOB);
      CREATE TABLE IF NOT EXISTS changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, contract INTEGER NOT NULL, at INTEGER NOT NULL,
        workload TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS changes_by_contract ON changes (contract, id);`);
  }

  get(contract: number): StoredDeployment | null {
    const row = this.db.prepare('SELECT * FROM deployments WHERE contract = ?').get(contract) as
      | (Omit<StoredDeployment, 'results'> & { results: string })
      | undefined;
    return row ? { ...row, results: JSON.parse(row.results) } : null;
  }

  list(state?: 'active' | 'deleted'): StoredDeployment[] {
    const rows = (
      state
        ? this.db.prepare('SELECT * FROM deployments WHERE state = ? ORDER BY contract').all(state)
        : this.db.prepare('SELECT * FROM deployments ORDER BY contract').all()
    ) as (Omit<StoredDeployment, 'results'> & { results: string })[];
    return rows.map((r) => ({ ...r, results: JSON.parse(r.results) }));
  }

  put(d: StoredDeployment): void {
    this.db
      .prepare(
        `INSERT INTO deployments (contract, twin, version, hash, bytes, state, results, updated)
         VALUES (@contract, @twin, @version, @hash, @bytes, @state, @results, @updated)
         ON CONFLICT (contract) DO UPDATE SET twin = @twin, version = @version, hash = @hash,
           bytes = @bytes, state = @state, results = @results, updated = @updated`,
      )
      .run({ ...d, results: JSON.stringify(d.results) });
  }

  setResult(contract: number, workload: string, result: WorkloadResult): void {
    const d = this.get(contract);
    if (!d) return;
    d.results[workload] = result;
    this.db
      .prepare('UPDATE deployments SET results = ?, updated = ? WHERE contract = ?')
      .run(JSON.stringify(d.results), Date.now(), contract);
    this.db
      .prepare('INSERT INTO changes (contract, at, workload, state, message) VALUES (?, ?, ?, ?, ?)')
      .run(contract, result.created, workload, result.state, result.message);
    this.db
      .prepare(
        'DELETE FROM changes WHERE contract = ? AND id <= (SELECT id FROM changes WHERE contract = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      )
      .run(contract, contract, MAX_CHANGES);
  }

  setState(contract: number, state: 'active' | 'deleted'): void {
    this.db
      .prepare('UPDATE deployments SET state = ?, updated = ? WHERE contract = ?')
      .run(state, Date.now(), contract);
  }

  changes(contract: number): Change[] {
    return this.db
      .prepare('SELECT contract, at, workload, state, message FROM changes WHERE contract = ? ORDER BY id')
      .all(contract) as Change[];
  }

  enqueue(contract: number, op: Job['op'], bytes: Buffer | null): number {
    return Number(
      this.db.prepare('INSERT INTO jobs (contract, op, bytes) VALUES (?, ?, ?)').run(contract, op, bytes)
        .lastInsertRowid,
    );
  }

  jobs(): Job[] {
    return this.db.prepare('SELECT * FROM jobs ORDER BY id').all() as Job[];
  }

  done(job: number): void {
    this.db.prepare('DELETE FROM jobs WHERE id = ?').run(job);
  }

  close(): void {
    this.db.close();
  }
}
