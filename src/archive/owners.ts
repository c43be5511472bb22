import { readFileSync } from 'node:fs';

/** Names and ids of one database (`/etc/passwd` or `/etc/group`), both ways. */
interface Table {
  byId: Map<number, string>;
  byName: Map<string, number>;
}

function load(file: string): Table {
  const t: Table = { byId: new Map(), byName: new Map() };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return t;
  }
  for (const line of text.split('\n')) {
    const [name, , idText] = line.split(':');
    const id = Number(idText);
    if (name === undefined || name === '' || !Number.isInteger(id)) continue;
    if (!t.byId.has(id)) t.byId.set(id, name);
    if (!t.byName.has(name)) t.byName.set(name, id);
  }
  return t;
}

let users: Table | undefined;
let groups: Table | undefined;

/**
 * The local user and group databases, read once from `/etc/passwd` and `/etc/group` (what Node
 * cannot ask the system for; names only in other NSS sources stay unknown and are stored as ids).
 */
export const owners = {
  /** The user name of `uid`, if known. */
  userName(uid: number): string | undefined {
    users ??= load('/etc/passwd');
    return users.byId.get(uid);
  },
  /** The group name of `gid`, if known. */
  groupName(gid: number): string | undefined {
    groups ??= load('/etc/group');
    return groups.byId.get(gid);
  },
  /** The uid of user `name` on this system, if it exists. */
  uid(name: string): number | undefined {
    users ??= load('/etc/passwd');
    return users.byName.get(name);
  },
  /** The gid of group `name` on this system, if it exists. */
  gid(name: string): number | undefined {
    groups ??= load('/etc/group');
    return groups.byName.get(name);
  },
};
