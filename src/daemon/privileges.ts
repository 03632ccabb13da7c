/** Dropping root after the ports are bound (`setuid` / `setuid_username`), as the C gmetad does. */
import * as fs from 'node:fs';

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

/** Looks a user up in /etc/passwd (no native getpwnam in Node). */
export function lookupUser(username: string, passwd = '/etc/passwd'): UserIds | null {
  for (const line of fs.readFileSync(passwd, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === username && fields.length >= 4) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  return null;
}

/**
 * Switches to `username` if we are root; a no-op otherwise (like the C gmetad, which only
 * complains when it cannot). Throws with a one-line message if the user does not exist.
 */
export function dropPrivileges(username: string): UserIds | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const ids = lookupUser(username);
  if (!ids) throw new Error(`setuid_username "${username}": no such user`);
  (process as { initgroups?: (user: string, gid: number) => void }).initgroups?.(username, ids.gid);
  process.setgid?.(ids.gid);
  process.setuid?.(ids.uid);
  return ids;
}
