/**
 * The app's few building blocks on top of Pico's styled HTML: an action's visible state (pending,
 * done, failed with a reason and a retry), empty states, avatars, a modal on the native <dialog>,
 * toasts in a live region, and relative times.
 */
import { type ReactNode, useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { ApiError, reason } from '../api.ts';

export type ActionState =
  | { state: 'idle' }
  | { state: 'pending' }
  | { state: 'done' }
  | { state: 'failed'; reason: string; unavailable: boolean };

/** Runs one action at a time and tells what became of it; `retry` runs the last one again. */
export function useAction<A extends unknown[]>(f: (...args: A) => Promise<unknown>) {
  const [s, setS] = useState<ActionState>({ state: 'idle' });
  const last = useRef<A | null>(null);
  const fn = useRef(f);
  fn.current = f;
  const run = useCallback(async (...args: A): Promise<boolean> => {
    last.current = args;
    setS({ state: 'pending' });
    try {
      await fn.current(...args);
      setS({ state: 'done' });
      return true;
    } catch (e) {
      setS({ state: 'failed', reason: reason(e), unavailable: e instanceof ApiError && e.unavailable });
      return false;
    }
  }, []);
  const retry = useCallback(() => (last.current ? run(...last.current) : Promise.resolve(false)), [run]);
  const reset = useCallback(() => setS({ state: 'idle' }), []);
  return { ...s, s, run, retry, reset, pending: s.state === 'pending' };
}

/** One line telling an action's state; a failure has its reason and a Retry button. */
export function Status(props: {
  s: ActionState;
  pending?: string;
  done?: string;
  retry?: () => void;
}): ReactNode {
  const { s } = props;
  if (s.state === 'pending')
    return (
      <p className="status" role="status" aria-busy="true">
        {props.pending ?? 'Working…'}
      </p>
    );
  if (s.state === 'done' && props.done)
    return (
      <p className="status ok" role="status">
        {props.done}
      </p>
    );
  if (s.state === 'failed')
    return (
      <p className="status failed" role="alert">
        {s.reason}
        {props.retry && !s.unavailable && (
          <button type="button" className="link" onClick={props.retry}>
            Retry
          </button>
        )}
      </p>
    );
  return null;
}

/** What a screen shows when it has nothing yet: what it is and what to do next. */
export function Empty(props: { title: string; children?: ReactNode }): ReactNode {
  return (
    <div className="empty">
      <p>
        <strong>{props.title}</strong>
      </p>
      {props.children}
    </div>
  );
}

/** A loading line, a failure with retry, or the content. */
export function Loaded<T>(props: {
  data: Loadable<T>;
  what: string;
  children: (data: T) => ReactNode;
}): ReactNode {
  const d = props.data;
  if (d.state === 'loading')
    return (
      <p className="status" aria-busy="true">
        Loading {props.what}…
      </p>
    );
  if (d.state === 'failed')
    return d.unavailable ? (
      <Empty title={`Your twin does not offer ${props.what} yet`}>
        <p>This twin's version has no {props.what}. Update the twin and reload this page.</p>
      </Empty>
    ) : (
      <p className="status failed" role="alert">
        Could not load {props.what}: {d.reason}{' '}
        <button type="button" className="link" onClick={d.reload}>
          Retry
        </button>
      </p>
    );
  return props.children(d.value);
}

export type Loadable<T> =
  | { state: 'loading' }
  | { state: 'failed'; reason: string; unavailable: boolean; reload: () => void }
  | { state: 'ready'; value: T; reload: () => void };

/** Loads `f()` now and whenever `deps` change or `reload` is called; keeps the last value while reloading. */
export function useLoad<T>(
  f: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
): Loadable<T> & { set: (v: T) => void; reload: () => void } {
  const [d, setD] = useState<Loadable<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const fn = useRef(f);
  fn.current = f;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads on the caller's deps and on reload()
  useEffect(() => {
    const ac = new AbortController();
    fn.current(ac.signal).then(
      (value) => !ac.signal.aborted && setD({ state: 'ready', value, reload }),
      (e) => {
        if (ac.signal.aborted) return;
        setD((prev) =>
          prev.state === 'ready'
            ? prev
            : {
                state: 'failed',
                reason: reason(e),
                unavailable: e instanceof ApiError && e.unavailable,
                reload,
              },
        );
      },
    );
    return () => ac.abort();
  }, [...deps, tick]);
  const set = useCallback((value: T) => setD({ state: 'ready', value, reload }), [reload]);
  return { ...d, set, reload };
}

export function Avatar(props: {
  name: string;
  src?: string | null | undefined;
  size?: number;
  online?: boolean;
}) {
  const size = props.size ?? 40;
  const initials = (props.name || '?')
    .split(/\s+/)
    .map((w) => w[0])
    .join('')
    .slice(0, 2)
    .toUpperCase();
  let hue = 0;
  for (const c of props.name) hue = (hue * 31 + c.charCodeAt(0)) % 360;
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.4 }} aria-hidden="true">
      {props.src ? (
        <img src={props.src} alt="" />
      ) : (
        <span style={{ background: `hsl(${hue} 55% 42%)` }}>{initials}</span>
      )}
      {props.online !== undefined && <i className={props.online ? 'dot online' : 'dot'} />}
    </span>
  );
}

/** A modal dialog on the native <dialog>: focus is trapped and Escape closes it. */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onClose={props.onClose} aria-label={props.title}>
      <article>
        <header>
          <button type="button" aria-label="Close" rel="prev" onClick={props.onClose} />
          <h2 className="dialog-title">{props.title}</h2>
        </header>
        {props.open && props.children}
      </article>
    </dialog>
  );
}

// Toasts: short notices about things that happened elsewhere (a request arrived, a retry worked).
type Toast = { id: number; text: string };
let toasts: Toast[] = [];
let nextToast = 1;
const toastListeners = new Set<() => void>();
export function toast(text: string): void {
  const id = nextToast++;
  toasts = [...toasts, { id, text }].slice(-3);
  for (const l of toastListeners) l();
  setTimeout(() => {
    toasts = toasts.filter((t) => t.id !== id);
    for (const l of toastListeners) l();
  }, 5000);
}
export function Toasts() {
  const list = useSyncExternalStore(
    (l) => {
      toastListeners.add(l);
      return () => toastListeners.delete(l);
    },
    () => toasts,
  );
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <p key={t.id}>{t.text}</p>
      ))}
    </div>
  );
}

export function ago(ms: number | null | undefined): string {
  if (!ms) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function clock(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
