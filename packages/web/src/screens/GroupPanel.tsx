/** A group's members and roles; admins add and remove members and rename; anyone leaves. */
import { useState } from 'react';
import { del, patch, post } from '../api.ts';
import { navigate } from '../router.ts';
import { useSession } from '../session.tsx';
import type { Group } from '../types.ts';
import { Avatar, Status, useAction } from '../ui/kit.tsx';

export function GroupPanel(props: { group: Group; onChanged(): void; onLeft(): void }) {
  const { me, contacts, nameOf } = useSession();
  const { group } = props;
  const admin = group.members.some((m) => m.twin === me.twin && m.role === 'admin');
  const [add, setAdd] = useState('');
  const [role, setRole] = useState<'member' | 'admin'>('member');
  const [name, setName] = useState(group.name);
  const action = useAction(async (f: () => Promise<unknown>) => {
    await f();
    props.onChanged();
  });
  const outside = contacts.filter((c) => !group.members.some((m) => m.twin === c.twin));
  const base = `/api/groups/${group.id}`;
  return (
    <div>
      <ul className="list" aria-label="Members">
        {group.members.map((m) => (
          <li key={m.twin} className="item">
            <Avatar
              name={nameOf(m.twin)}
              size={32}
              online={contacts.find((c) => c.twin === m.twin)?.online}
            />
            <span className="grow">
              {nameOf(m.twin)} <span className="muted">· {m.role}</span>
            </span>
            {admin && m.twin !== me.twin && (
              <button
                type="button"
                className="link"
                aria-label={`Remove ${nameOf(m.twin)} from the group`}
                onClick={() => void action.run(() => del(`${base}/members/${m.twin}`))}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {admin && (
        <>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (add) void action.run(() => post(`${base}/members`, { name: add, role }));
            }}
          >
            <fieldset role="group">
              <select aria-label="Contact to add" value={add} onChange={(e) => setAdd(e.target.value)}>
                <option value="">Add a contact…</option>
                {outside.map((c) => (
                  <option key={c.twin} value={String(c.twin)}>
                    {c.name}
                  </option>
                ))}
              </select>
              <select
                aria-label="Role"
                value={role}
                onChange={(e) => setRole(e.target.value as 'member' | 'admin')}
              >
                <option value="member">member</option>
                <option value="admin">admin</option>
              </select>
              <button type="submit" disabled={!add}>
                Add
              </button>
            </fieldset>
          </form>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void action.run(() => patch(base, { name: name.trim() }));
            }}
          >
            <fieldset role="group">
              <input
                aria-label="Group name"
                value={name}
                maxLength={100}
                onChange={(e) => setName(e.target.value)}
              />
              <button type="submit" className="outline" disabled={!name.trim() || name === group.name}>
                Rename
              </button>
            </fieldset>
          </form>
        </>
      )}
      <button
        type="button"
        className="secondary outline"
        onClick={() =>
          void action.run(async () => {
            await post(`${base}/leave`);
            props.onLeft();
            navigate('/chats');
          })
        }
      >
        Leave the group
      </button>
      <Status s={action.s} pending="Saving…" done="Done." retry={action.retry} />
    </div>
  );
}
