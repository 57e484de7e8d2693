/**
 * Who is signed in and the people around them: the twin's id and name, contacts with presence and
 * pending requests, kept live from the event stream. Every screen reads names from here.
 */
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { get } from './api.ts';
import { events } from './events.ts';
import type { Contact, ContactRequest, Me } from './types.ts';
import { toast } from './ui/kit.tsx';

export interface Session {
  me: Me;
  contacts: Contact[];
  requests: ContactRequest[];
  reload(): void;
  nameOf(twin: number): string;
}

const Ctx = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

export function SessionProvider(props: { me: Me; children: ReactNode }) {
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [requests, setRequests] = useState<ContactRequest[]>([]);
  const reload = useCallback(() => {
    get<{ contacts: Contact[] }>('/api/contacts').then(
      (r) => setContacts(r.contacts),
      () => {},
    );
    get<{ requests: ContactRequest[] }>('/api/contacts/requests').then(
      (r) => setRequests(r.requests),
      () => {},
    );
  }, []);
  useEffect(() => {
    reload();
    return events.on((e) => {
      if (e.type === 'presence')
        setContacts((cs) =>
          cs.map((c) => (c.twin === e.twin ? { ...c, online: e.online, lastSeen: e.lastSeen } : c)),
        );
      else if (e.type === 'contact.request') {
        toast(`${e.name} asks to be your contact`);
        reload();
      } else if (e.type === 'contact.accepted') {
        toast(`${e.name} accepted your contact request`);
        reload();
      } else if (e.type === 'contact.declined' || e.type === 'contact.removed' || e.type === 'refresh')
        reload();
    });
  }, [reload]);
  const value = useMemo<Session>(() => {
    const names = new Map<number, string>();
    for (const r of requests) names.set(r.twin, r.name);
    for (const c of contacts) names.set(c.twin, c.name);
    names.set(props.me.twin, props.me.name);
    return {
      me: props.me,
      contacts,
      requests,
      reload,
      nameOf: (twin) => (twin === props.me.twin ? 'You' : (names.get(twin) ?? `twin ${twin}`)),
    };
  }, [props.me, contacts, requests, reload]);
  return <Ctx.Provider value={value}>{props.children}</Ctx.Provider>;
}
