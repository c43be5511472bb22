/** Users and groups by name, from /etc/passwd and /etc/group (borg's `user2uid`, `group2gid`). */
import { readFileSync } from 'node:fs';

/** The id field of the line of `file` (colon-separated, id in the third field) named `name`, if any. */
function idIn(file: string, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return undefined;
}

/** The uid of user `name` in /etc/passwd, or undefined. */
export function uidOfUser(name: string): number | undefined {
  return idIn('/etc/passwd', name);
}

/** The gid of group `name` in /etc/group, or undefined. */
export function gidOfGroup(name: string): number | undefined {
  return idIn('/etc/group', name);
}
