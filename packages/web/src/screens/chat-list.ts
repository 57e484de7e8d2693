/**
 * The chat list and the groups, kept live: reloaded (coalesced) on every event that changes them.
 * The Shell owns one copy, so the unread badge and the list agree.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { get } from '../api.ts';
import { events } from '../events.ts';
import type { ChatSummary, Group } from '../types.ts';

export interface ChatList {
  list: ChatSummary[];
  groups: Group[];
  loaded: boolean;
  error: string | null;
  reload(): void;
  /** Marks a chat read in the list at once (the twin is told by the conversation). */
  seen(chat: string): void;
}

const COALESCE_MS = 60;

type Lists = [{ chats: ChatSummary[] }, { groups: Group[] }];
const fetchLists = (): Promise<Lists> =>
  Promise.all([get<{ chats: ChatSummary[] }>('/api/chats'), get<{ groups: Group[] }>('/api/groups')]);
let early: Promise<Lists> | null = null;

/**
 * Starts loading the chat list at once, alongside `/api/me` (the list is the first screen): the
 * first useChats() takes this answer instead of asking again.
 */
export function prefetchChats(): void {
  early = fetchLists();
  early.catch(() => {}); // a failure is reported by useChats' own request
}

export function useChats(): ChatList {
  const [list, setList] = useState<ChatSummary[]>([]);
  const [groups, setGroups] = useState<Group[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = useCallback(async () => {
    try {
      const first = early;
      early = null;
      const [c, g] = await (first?.catch(fetchLists) ?? fetchLists());
      setList(c.chats);
      setGroups(g.groups);
      setError(null);
    } catch (e) {
      setError((e as Error).message || 'Your twin did not answer.');
    } finally {
      setLoaded(true);
    }
  }, []);

  const reload = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void load();
    }, COALESCE_MS);
  }, [load]);

  useEffect(() => {
    void load();
    return events.on((e) => {
      if (
        e.type === 'message' ||
        e.type === 'message.edited' ||
        e.type === 'message.deleted' ||
        e.type === 'receipt' ||
        e.type === 'group' ||
        e.type === 'contact.accepted' ||
        e.type === 'contact.removed' ||
        e.type === 'refresh'
      )
        reload();
    });
  }, [load, reload]);

  const seen = useCallback(
    (chat: string) => setList((l) => l.map((c) => (c.chat === chat && c.unread ? { ...c, unread: 0 } : c))),
    [],
  );
  return { list, groups, loaded, error, reload, seen };
}
