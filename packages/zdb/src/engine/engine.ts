/** The engine: the set of namespaces under a data and an index directory. */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DESCRIPTOR, type Descriptor, NamespaceImpl, writeDescriptor } from './namespace.ts';
import {
  type Engine,
  EngineError,
  type EngineOptions,
  type Namespace,
  type NamespaceProps,
} from './types.ts';

export const DEFAULT_NAMESPACE = 'default';

/** C0 control characters and DEL: never part of a namespace name (they name directories). */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Whether `name` may name a namespace: 1..128 characters, no path separators, no control
 * characters, not `.`/`..` nor a compaction leftover. The server decodes names as strict UTF-8,
 * so two different byte strings never reach here as the same name.
 */
export function validNamespaceName(name: string): boolean {
  return (
    name.length > 0 &&
    !CONTROL.test(name) &&
    name.length <= 128 &&
    !name.includes('/') &&
    !name.includes('\\') &&
    !name.includes('\0') &&
    name !== '.' &&
    name !== '..' &&
    !name.endsWith('.compact') &&
    !name.endsWith('.old')
  );
}

class EngineImpl implements Engine {
  private readonly namespaces = new Map<string, NamespaceImpl>();
  private readonly dirty = new Set<NamespaceImpl>();

  constructor(readonly options: Readonly<EngineOptions>) {}

  open(): void {
    mkdirSync(this.options.dataDir, { recursive: true });
    mkdirSync(this.options.indexDir, { recursive: true });
    for (const name of readdirSync(this.options.indexDir)) {
      const dir = join(this.options.indexDir, name);
      if (name.endsWith('.compact') || name.endsWith('.old')) {
        finishCompaction(this.options, name);
        continue;
      }
      if (!existsSync(join(dir, DESCRIPTOR))) continue;
      if (!validNamespaceName(name)) {
        this.options.onRecovery?.(name, 'not loaded: not a valid namespace name');
        continue;
      }
      const d = JSON.parse(readFileSync(join(dir, DESCRIPTOR), 'utf8')) as Descriptor;
      this.attach(name, d);
    }
    if (!this.namespaces.has(DEFAULT_NAMESPACE)) this.create(DEFAULT_NAMESPACE);
  }

  private attach(name: string, d: Descriptor): NamespaceImpl {
    const ns = new NamespaceImpl(
      name,
      join(this.options.dataDir, name),
      join(this.options.indexDir, name),
      d,
      this.options,
      (n) => this.dirty.add(n),
    );
    ns.load();
    this.namespaces.set(name, ns);
    return ns;
  }

  namespace(name: string): Namespace | undefined {
    return this.namespaces.get(name);
  }

  create(name: string, props?: Partial<NamespaceProps>): Namespace {
    if (!validNamespaceName(name))
      throw new EngineError('invalid_namespace_name', 'This name is not allowed');
    if (this.namespaces.has(name))
      throw new EngineError('namespace_exists', 'This namespace is not available');
    const mode = this.options.mode === 'mix' ? 'user' : this.options.mode;
    const d: Descriptor = {
      maxsize: this.options.maxsize,
      password: '',
      public: true,
      mode,
      locked: false,
      frozen: false,
      ...props,
      created: Math.floor(Date.now() / 1000),
    };
    mkdirSync(join(this.options.indexDir, name), { recursive: true });
    mkdirSync(join(this.options.dataDir, name), { recursive: true });
    writeDescriptor(join(this.options.indexDir, name), d);
    const ns = this.attach(name, d);
    this.options.onHook?.('namespace-created', [name]);
    return ns;
  }

  remove(name: string): void {
    if (name === DEFAULT_NAMESPACE)
      throw new EngineError('invalid_namespace_name', 'Cannot remove default namespace');
    const ns = this.namespaces.get(name);
    if (!ns) throw new EngineError('namespace_not_found', "This namespace doesn't exists");
    ns.close();
    // Sessions still holding it see `removed` and are refused (the server tells them and closes).
    ns.removed = true;
    this.dirty.delete(ns);
    this.namespaces.delete(name);
    // Remove the descriptor first: a crash mid-way leaves no half namespace behind.
    rmSync(join(ns.indexDir, DESCRIPTOR), { force: true });
    rmSync(ns.indexDir, { recursive: true, force: true });
    rmSync(ns.dataDir, { recursive: true, force: true });
    this.options.onHook?.('namespace-deleted', [name]);
  }

  reload(name: string): void {
    const ns = this.namespaces.get(name);
    if (!ns) throw new EngineError('namespace_not_found', 'Namespace not found');
    if (ns.dirty) {
      ns.storage.commit();
      this.dirty.delete(ns);
    }
    ns.reload();
    this.options.onHook?.('namespace-reloaded', [name]);
  }

  /**
   * After a failed commit: what was staged is dropped and the namespace reloaded from its files,
   * so nothing that was not stored can be read (its writes are answered with an error).
   */
  private recover(ns: NamespaceImpl, cause: Error): void {
    this.options.onRecovery?.(ns.name, `write failed (${cause.message}): reloading from the files`);
    try {
      ns.storage.discard();
      ns.reload();
    } catch (e) {
      this.options.onRecovery?.(ns.name, `reload after a failed write failed: ${(e as Error).message}`);
    }
  }

  list(): string[] {
    return [...this.namespaces.keys()];
  }

  /** Commits every dirty namespace; one that fails does not keep the others from committing. */
  commit(): void {
    if (this.dirty.size === 0) return;
    let failure: unknown = null;
    for (const ns of this.dirty) {
      try {
        ns.storage.commit();
      } catch (e) {
        failure ??= e;
        this.recover(ns, e as Error);
      }
      ns.dirty = false;
      this.dirty.delete(ns);
    }
    if (failure !== null) throw failure;
  }

  async sync(): Promise<void> {
    this.commit();
    await Promise.all([...this.namespaces.values()].map((ns) => ns.storage.sync()));
  }

  syncNow(): void {
    this.commit();
    for (const ns of this.namespaces.values()) ns.storage.syncNow();
  }

  close(): void {
    this.commit();
    for (const ns of this.namespaces.values()) ns.close();
    this.namespaces.clear();
  }
}

export function openEngine(options: EngineOptions): Engine {
  const engine = new EngineImpl(options);
  engine.open();
  return engine;
}

/** Completes or rolls back a compaction interrupted by a crash (see compact.ts). */
function finishCompaction(options: Readonly<EngineOptions>, dirName: string): void {
  const compacted = dirName.endsWith('.compact');
  const name = dirName.slice(0, dirName.lastIndexOf('.'));
  const live = join(options.indexDir, name);
  if (compacted) {
    // The new copy never got swapped in: the original is intact, drop the copy.
    rmSync(join(options.indexDir, dirName), { recursive: true, force: true });
    rmSync(join(options.dataDir, dirName), { recursive: true, force: true });
    return;
  }
  // `.old` exists: the swap started. If the new copy is in place, drop the old one; else restore it.
  if (existsSync(join(live, DESCRIPTOR)) && existsSync(join(options.dataDir, name))) {
    rmSync(join(options.indexDir, dirName), { recursive: true, force: true });
    rmSync(join(options.dataDir, dirName), { recursive: true, force: true });
  } else {
    for (const root of [options.indexDir, options.dataDir]) {
      if (existsSync(join(root, dirName))) {
        rmSync(join(root, name), { recursive: true, force: true });
        renameSync(join(root, dirName), join(root, name));
      }
      rmSync(join(root, `${name}.compact`), { recursive: true, force: true });
    }
  }
}
