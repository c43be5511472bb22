/**
 * What create does in bulk rather than per item: the flags, xattrs and ACLs of regular files read
 * by the storing worker (the scan defers them), and trees stored in batches of several
 * directories per native call.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';

import { findArchive, loadArchive } from '../dist/archive/archives.js';
import type { Item } from '../dist/archive/item.js';
import { readTrees } from '../dist/archive/tree-reader.js';
import { lstatPath, scanEntries } from '../dist/native.js';
import { syncChunkIndex } from '../dist/repository/chunk-cache.js';
import { parseRepo } from '../dist/repository/location.js';
import { Repository } from '../dist/repository/repository.js';

import { hoardIn, makeRepo, tempDir, testEnv, walk } from './archive-helpers.js';
import { pastFilesCacheGuard, scanOne } from './helpers.js';

/** `system.posix_acl_access` in the kernel's form: owner rw, user 1000 rw, group r, mask rw, other r. */
const ACL = '\\x02\\x00\\x00\\x00\\x01\\x00\\x06\\x00\\xff\\xff\\xff\\xff\\x02\\x00\\x06\\x00\\xe8\\x03\\x00\\x00\\x04\\x00\\x04\\x00\\xff\\xff\\xff\\xff\\x10\\x00\\x06\\x00\\xff\\xff\\xff\\xff\\x20\\x00\\x04\\x00\\xff\\xff\\xff\\xff';

/**
 * Files with xattrs, an ACL and inode flags (where the file system takes them), a hard-linked pair
 * with an xattr, a symlink and a subdirectory with a default ACL. Returns whether the ACLs and
 * the `nodump` flag could be set.
 */
function makeMetaTree(root: string): { acls: boolean; flags: boolean } {
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  for (const n of ['plain', 'xattrs', 'acl', 'nodump', 'both', 'linked']) writeFileSync(path.join(root, n), `${n}\n`);
  writeFileSync(path.join(root, 'sub', 'deep'), 'deep\n');
  linkSync(path.join(root, 'linked'), path.join(root, 'linked2'));
  symlinkSync('plain', path.join(root, 'link'));
  const out = execFileSync('python3', [
    '-c',
    [
      'import os, sys',
      'r = sys.argv[1]',
      'acl = sys.argv[2].encode("latin1").decode("unicode_escape").encode("latin1")',
      "os.setxattr(os.path.join(r, 'xattrs'), 'user.one', b'1')",
      "os.setxattr(os.path.join(r, 'xattrs'), 'user.two', b'\\x00\\xff')",
      "os.setxattr(os.path.join(r, 'both'), 'user.b', b'b')",
      "os.setxattr(os.path.join(r, 'linked'), 'user.l', b'l')",
      "os.setxattr(os.path.join(r, 'sub', 'deep'), 'user.deep', b'd')",
      'try:',
      "    os.setxattr(os.path.join(r, 'acl'), 'system.posix_acl_access', acl)",
      "    os.setxattr(os.path.join(r, 'both'), 'system.posix_acl_access', acl)",
      "    os.setxattr(os.path.join(r, 'sub'), 'system.posix_acl_default', acl)",
      "    print('acls')",
      'except OSError:',
      '    pass',
    ].join('\n'),
    root,
    ACL,
  ]).toString();
  let flags = true;
  try {
    execFileSync('chattr', ['+d', path.join(root, 'nodump'), path.join(root, 'both')], { stdio: 'ignore' });
  } catch {
    flags = false;
  }
  return { acls: out.includes('acls'), flags };
}

/** Every item below the archive's root, by path. */
async function archiveItems(repoPath: string, env: NodeJS.ProcessEnv, name: string): Promise<{ root: string | undefined; items: Map<string, Item> }> {
  const repo = await Repository.open(parseRepo(repoPath), env, { stdin: new PassThrough(), stderr: new PassThrough() });
  const synced = await syncChunkIndex(repo.storage, repo.key, env, repo.config.id);
  const meta = await loadArchive(repo, findArchive(repo, name));
  const items = new Map<string, Item>();
  const visit = async (tree: Buffer, prefix: string): Promise<void> => {
    const [list = []] = await readTrees(repo, synced.index, [tree]);
    for (const i of list) {
      const p = `${prefix}${i.name.toString('latin1')}`;
      items.set(p, i);
      if (i.tree !== undefined) await visit(i.tree, `${p}/`);
    }
  };
  if (meta.root !== undefined) await visit(Buffer.from(meta.root, 'hex'), '');
  return { root: meta.root, items };
}

test('a scan with deferFiles leaves only single-link regular files to the worker', async (t) => {
  const dir = tempDir('defer');
  makeMetaTree(dir);
  const opts = { xattrs: true, acls: true, flags: true, deferFiles: true };
  const entries = scanEntries(await scanOne(Buffer.from(dir), opts));
  const deferred = entries.filter((e) => e.deferred === true).map((e) => e.name.toString());
  t.deepEqual(deferred, ['acl', 'both', 'nodump', 'plain', 'xattrs']);
  for (const e of entries.filter((x) => x.deferred === true)) t.true(e.flags === undefined && e.xattrs === undefined && e.aclAccess === undefined, e.name.toString());
  // The hard-linked pair and the directory are read as before; lstatPath never defers.
  const linked = entries.find((e) => e.name.toString() === 'linked');
  t.deepEqual(linked?.xattrs?.map((x) => x.name.toString()), ['user.l']);
  t.not((await lstatPath(Buffer.from(path.join(dir, 'xattrs')), opts)).deferred, true);
  // Without flags, xattrs or ACLs to read there is nothing to defer.
  const none = scanEntries(await scanOne(Buffer.from(dir), { deferFiles: true }));
  t.true(none.every((e) => e.deferred === undefined));
});

for (const options of [[], ['--noflags'], ['--noacls', '--noxattrs'], ['--exclude-nodump']]) {
  test(`the flags, xattrs and ACLs the storing workers read are those the walk reads (${options.join(' ') || 'defaults'})`, async (t) => {
    const env = testEnv();
    const repo = await makeRepo(env);
    const base = tempDir('src');
    const src = path.join(base, 'src');
    mkdirSync(src);
    const made = makeMetaTree(src);
    await pastFilesCacheGuard();
    // A first create (files read), an unchanged one (files from the files cache, their metadata
    // read through a descriptor opened for it) and one without the files cache.
    for (const [name, extra] of [['a1', []], ['a2', []], ['a3', ['--files-cache=disabled']]] as const) {
      const c = await hoardIn(env, ['create', '--list', ...options, ...extra, `${repo}::${name}`, 'src'], base);
      t.is(c.code, 0, c.stderr);
      // borg's --list: A added, U unchanged (taken from the files cache).
      t.regex(c.stderr, name === 'a2' ? /^U src\/xattrs$/m : /^A src\/xattrs$/m, name);
    }
    const a1 = await archiveItems(repo, env, 'a1');
    // The same items, byte for byte, whichever way the files came.
    t.is((await archiveItems(repo, env, 'a2')).root, a1.root);
    t.is((await archiveItems(repo, env, 'a3')).root, a1.root);
    const read = { xattrs: !options.includes('--noxattrs'), acls: !options.includes('--noacls'), flags: !options.includes('--noflags') };
    const nodumpOut = options.includes('--exclude-nodump') && made.flags;
    for (const n of ['plain', 'xattrs', 'acl', 'linked', 'linked2', 'sub/deep', ...(nodumpOut ? [] : ['nodump', 'both'])]) {
      const item = a1.items.get(`src/${n}`);
      t.truthy(item, n);
      const e = await lstatPath(Buffer.from(path.join(src, n)), read);
      t.deepEqual(item?.xattrs, e.xattrs, `${n}: xattrs`);
      t.deepEqual(item?.aclAccess, e.aclAccess, `${n}: ACL`);
      t.is(item?.flags, e.flags === 0 || !read.flags ? undefined : e.flags, `${n}: flags`);
    }
    t.is(a1.items.has('src/nodump'), !nodumpOut);
    if (read.xattrs) t.deepEqual(a1.items.get('src/xattrs')?.xattrs?.map((x) => x.name.toString()), ['user.one', 'user.two']);
    if (made.acls && read.acls) t.truthy(a1.items.get('src/acl')?.aclAccess);
    if (made.flags && read.flags && !options.includes('--exclude-nodump')) t.is((a1.items.get('src/nodump')?.flags ?? 0) & 0x40, 0x40);
  });
}

test('trees stored in batches of many directories list and extract as the tree; check --verify-data is clean', async (t) => {
  const env = testEnv();
  const repo = await makeRepo(env);
  const base = tempDir('src');
  const src = path.join(base, 'src');
  // 150 directories (more than one batch of trees), nested two deep, two empty ones, and one
  // directory large enough to be stored in pieces under a head.
  for (let i = 0; i < 150; i += 1) {
    const d = path.join(src, `d${i % 10}`, `e${i}`);
    mkdirSync(d, { recursive: true });
    if (i % 75 !== 0) writeFileSync(path.join(d, 'f'), `file in ${i}\n`);
  }
  mkdirSync(path.join(src, 'big'));
  for (let i = 0; i < 700; i += 1) writeFileSync(path.join(src, 'big', `n${i}`), `${i}`);
  const c = await hoardIn(env, ['create', `${repo}::a1`, 'src'], base);
  t.is(c.code, 0, c.stderr);
  const listed = await hoardIn(env, ['list', '--short', `${repo}::a1`]);
  t.is(listed.code, 0, listed.stderr);
  t.is(listed.stdout.trimEnd().split('\n').length, 1 + 10 + 150 + 148 + 1 + 700);
  const out = tempDir('out');
  const x = await hoardIn(env, ['extract', `${repo}::a1`], out);
  t.is(x.code, 0, x.stderr);
  const want = walk(src);
  const got = walk(path.join(out, 'src'));
  t.deepEqual([...got.keys()], [...want.keys()]);
  for (const [k, w] of want) t.deepEqual(got.get(k), w, k);
  const check = await hoardIn(env, ['check', '--verify-data', repo]);
  t.is(check.code, 0, check.stderr);
  // A second create stores no tree again: the same root.
  t.is((await hoardIn(env, ['create', `${repo}::a2`, 'src'], base)).code, 0);
  t.is((await archiveItems(repo, env, 'a2')).root, (await archiveItems(repo, env, 'a1')).root);
});
