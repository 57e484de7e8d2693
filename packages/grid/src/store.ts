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

type Row = Omit<StoredDeployment, 'results'> & { results: string };
const fromRow = (r: Row): StoredDeployment => ({ ...r, results: JSON.parse(r.results) });

export class NodeStore {
  private readonly db: Database.Database;
  /** Every statement, compiled once. */
  private readonly q: ReturnType<NodeStore['prepare']>;

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
    this.q = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare('SELECT * FROM deployments WHERE contract = ?'),
      listAll: db.prepare('SELECT * FROM deployments ORDER BY contract'),
      listIn: db.prepare('SELECT * FROM deployments WHERE state = ? ORDER BY contract'),
      put: db.prepare(
        `INSERT INTO deployments (contract, twin, version, hash, bytes, state, results, updated)
         VALUES (@contract, @twin, @version, @hash, @bytes, @state, @results, @updated)
         ON CONFLICT (contract) DO UPDATE SET twin = @twin, version = @version, hash = @hash,
           bytes = @bytes, state = @state, results = @results, updated = @updated`,
      ),
      setResults: db.prepare('UPDATE deployments SET results = ?, updated = ? WHERE contract = ?'),
      addChange: db.prepare(
        'INSERT INTO changes (contract, at, workload, state, message) VALUES (?, ?, ?, ?, ?)',
      ),
      trimChanges: db.prepare(
        'DELETE FROM changes WHERE contract = ? AND id <= (SELECT id FROM changes WHERE contract = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
      ),
      setState: db.prepare('UPDATE deployments SET state = ?, updated = ? WHERE contract = ?'),
      changes: db.prepare(
        'SELECT contract, at, workload, state, message FROM changes WHERE contract = ? ORDER BY id',
      ),
      enqueue: db.prepare('INSERT INTO jobs (contract, op, bytes) VALUES (?, ?, ?)'),
      jobs: db.prepare('SELECT * FROM jobs ORDER BY id'),
      done: db.prepare('DELETE FROM jobs WHERE id = ?'),
    };
  }

  get(contract: number): StoredDeployment | null {
    const row = this.q.get.get(contract) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  list(state?: 'active' | 'deleted'): StoredDeployment[] {
    const rows = (state ? this.q.listIn.all(state) : this.q.listAll.all()) as Row[];
    return rows.map(fromRow);
  }

  put(d: StoredDeployment): void {
    this.q.put.run({ ...d, results: JSON.stringify(d.results) });
  }

  /** Records a workload's result and its change (the log trimmed to MAX_CHANGES), atomically. */
  setResult(contract: number, workload: string, result: WorkloadResult): void {
    this.db.transaction(() => {
      const d = this.get(contract);
      if (!d) return;
      d.results[workload] = result;
      this.q.setResults.run(JSON.stringify(d.results), Date.now(), contract);
      this.q.addChange.run(contract, result.created, workload, result.state, result.message);
      this.q.trimChanges.run(contract, contract, MAX_CHANGES);
    })();
  }

  setState(contract: number, state: 'active' | 'deleted'): void {
    this.q.setState.run(state, Date.now(), contract);
  }

  changes(contract: number): Change[] {
    return this.q.changes.all(contract) as Change[];
  }

  enqueue(contract: number, op: Job['op'], bytes: Buffer | null): number {
    return Number(this.q.enqueue.run(contract, op, bytes).lastInsertRowid);
  }

  jobs(): Job[] {
    return this.q.jobs.all() as Job[];
  }

  done(job: number): void {
    this.q.done.run(job);
  }

  close(): void {
    this.db.close();
  }
}
