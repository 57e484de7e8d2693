/**
 * Profile and settings: name, status line and avatar (sent to every contact); the twin's id, keys
 * and addresses; the health of its storage (each QSS backend's state); signing out.
 */
import { useEffect, useState } from 'react';
import { get, put } from '../api.ts';
import { useSession } from '../session.tsx';
import type { Profile, Storage } from '../types.ts';
import { Avatar, ago, bytes, Loaded, Status, useAction, useLoad } from '../ui/kit.tsx';

/** Avatars are scaled down to this many pixels a side before they are sent (the twin caps them at 256 KiB). */
const AVATAR_PX = 160;

async function avatarFrom(file: File): Promise<string> {
  if (!/^image\//.test(file.type)) throw new Error('Pick an image (PNG, JPEG or WebP).');
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, AVATAR_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL('image/jpeg', 0.85);
}

export default function Settings(props: { onSignOut(): void }) {
  const { me } = useSession();
  const profile = useLoad(() => get<Profile>('/api/profile'), []);
  const storage = useLoad(() => get<Storage>('/api/storage'), []);
  return (
    <main className="pane scroll settings" aria-labelledby="settings-title">
      <h1 id="settings-title">Profile & settings</h1>
      <section aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <Loaded data={profile} what="your profile">
          {(p) => <ProfileForm profile={p} onSaved={profile.set} />}
        </Loaded>
      </section>
      <section aria-labelledby="twin-title">
        <h2 id="twin-title">Your twin</h2>
        <dl className="facts">
          <dt>Name</dt>
          <dd>{me.name}</dd>
          <dt>Twin id</dt>
          <dd data-testid="twin-id">{me.twin}</dd>
          {(me.signingKey ?? me.key) && (
            <>
              <dt>Signing key</dt>
              <dd>
                <code>{me.signingKey ?? me.key}</code>
              </dd>
            </>
          )}
          {me.encryptionKey && (
            <>
              <dt>Encryption key</dt>
              <dd>
                <code>{me.encryptionKey}</code>
              </dd>
            </>
          )}
          <dt>Planetary Network address</dt>
          <dd>
            {me.yggdrasil ? (
              <code>{me.yggdrasil}</code>
            ) : (
              <span className="muted">not on the Planetary Network</span>
            )}
          </dd>
          {me.addresses && me.addresses.length > 0 && (
            <>
              <dt>Addresses</dt>
              <dd>
                <ul className="plain">
                  {me.addresses.map((a) => (
                    <li key={a}>
                      <code>{a}</code>
                    </li>
                  ))}
                </ul>
              </dd>
            </>
          )}
        </dl>
        <p className="muted">
          Your recovery words (mnemonic) are shown only by the <code>twin</code> command on your twin’s
          machine, after your passphrase.
        </p>
      </section>
      <section aria-labelledby="storage-title">
        <h2 id="storage-title">Storage health</h2>
        <Loaded data={storage} what="storage health">
          {(s) =>
            !s.configured ? (
              <p>Quantum Safe Storage is not set up for this twin: files stay on this machine only.</p>
            ) : (
              <>
                <p>
                  {s.backends.filter((b) => b.state === 'ok').length} of {s.backends.length} backends healthy
                  {s.objects !== undefined && ` · ${s.objects} objects`}
                  {s.lastRepair ? ` · last repair ${ago(s.lastRepair)}` : ''}
                </p>
                {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a region that scrolls sideways on a phone must take focus to be scrolled with the keyboard */}
                <div className="table-wrap" tabIndex={0} role="region" aria-label="Storage backends">
                  <table>
                    <caption className="sr-only">Storage backends</caption>
                    <thead>
                      <tr>
                        <th scope="col">Backend</th>
                        <th scope="col">Group</th>
                        <th scope="col">State</th>
                        <th scope="col">Used</th>
                      </tr>
                    </thead>
                    <tbody>
                      {s.backends.map((b) => (
                        <tr key={`${b.address}/${b.namespace}`}>
                          <td>
                            <code>
                              {b.address}/{b.namespace}
                            </code>
                          </td>
                          <td>{b.group}</td>
                          <td className={b.state === 'ok' ? 'ok' : 'failed'}>{b.state}</td>
                          <td>{b.used !== undefined ? bytes(b.used) : '—'}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )
          }
        </Loaded>
      </section>
      <section>
        <button type="button" className="secondary" onClick={props.onSignOut}>
          Sign out
        </button>
      </section>
    </main>
  );
}

function ProfileForm(props: { profile: Profile; onSaved(p: Profile): void }) {
  const [name, setName] = useState(props.profile.name);
  const [status, setStatus] = useState(props.profile.status);
  const [avatar, setAvatar] = useState(props.profile.avatar);
  const [avatarError, setAvatarError] = useState<string | null>(null);
  const save = useAction(async () =>
    props.onSaved(await put<Profile>('/api/profile', { name, status, avatar })),
  );
  useEffect(() => {
    setName(props.profile.name);
    setStatus(props.profile.status);
    setAvatar(props.profile.avatar);
  }, [props.profile]);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <div className="row">
        <Avatar name={name || '?'} src={avatar || null} size={64} />
        <label className="outline attach-label">
          Change picture
          <input
            type="file"
            accept="image/png,image/jpeg,image/webp"
            onChange={(e) => {
              const f = e.target.files?.[0];
              setAvatarError(null);
              if (f) avatarFrom(f).then(setAvatar, (err) => setAvatarError((err as Error).message));
            }}
          />
        </label>
        {avatar && (
          <button type="button" className="link" onClick={() => setAvatar('')}>
            Remove picture
          </button>
        )}
      </div>
      {avatarError && (
        <p className="status failed" role="alert">
          {avatarError}
        </p>
      )}
      <label>
        Display name
        <input value={name} maxLength={64} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Status
        <input
          value={status}
          maxLength={280}
          placeholder="What are you up to?"
          onChange={(e) => setStatus(e.target.value)}
        />
      </label>
      <button type="submit" aria-busy={save.pending} disabled={save.pending}>
        Save profile
      </button>
      <Status s={save.s} pending="Saving and telling your contacts…" done="Saved." retry={save.retry} />
    </form>
  );
}
