//! Restoring metadata: times, mode, owner, xattrs, ACLs, flags, and bad items.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::super::restore::USER_MODIFIABLE_FLAGS;
use super::super::*;
use super::{TempDir, extended_acl, is_root, root_fd, user_xattrs_work};
use crate::ErrorKind;

fn item(path: &str) -> ItemMeta {
    ItemMeta {
        path: path.as_bytes().to_vec(),
        ..ItemMeta::default()
    }
}

#[test]
fn dot_is_the_root_itself() {
    let t = TempDir::new("dot");
    let root = root_fd(&t);
    fs::create_dir(t.path().join("sub")).unwrap();
    let m = 1_111_111_111_222_333_444_i64;
    let warnings = apply_metadata(
        root.as_fd(),
        &[ItemMeta {
            mode: Some(0o40750),
            mtime_ns: Some(m),
            ..item(".")
        }],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = fs::metadata(t.path()).unwrap();
    assert_eq!(r.mode() & 0o7777, 0o750);
    assert_eq!(r.mtime() * 1_000_000_000 + r.mtime_nsec(), m);
    // Only the root: its subdirectory kept its mode.
    let sub = fs::metadata(t.path().join("sub")).unwrap();
    assert_ne!(sub.mode() & 0o7777, 0o750);
    // Other paths that name no entry are still refused.
    let refused = apply_metadata(root.as_fd(), &[item("./"), item("a/..")]);
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|w| w.op == Op::Open));
}

#[test]
fn times_round_trip_in_nanoseconds_without_following_symlinks() {
    let t = TempDir::new("times");
    let root = root_fd(&t);
    fs::write(t.path().join("f"), b"x").unwrap();
    fs::write(t.path().join("target"), b"t").unwrap();
    symlink("target", t.path().join("l")).unwrap();
    let before = fs::metadata(t.path().join("target")).unwrap();

    let m1 = 1_234_567_890_123_456_789_i64;
    let a1 = 1_000_000_000_000_000_001_i64;
    let old = -1_500_000_000_987_654_321_i64; // 1922
    let warnings = apply_metadata(
        root.as_fd(),
        &[
            ItemMeta {
                atime_ns: Some(a1),
                mtime_ns: Some(m1),
                ..item("f")
            },
            ItemMeta {
                mtime_ns: Some(old),
                ..item("l")
            },
        ],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let f = fs::symlink_metadata(t.path().join("f")).unwrap();
    assert_eq!(f.mtime() * 1_000_000_000 + f.mtime_nsec(), m1);
    assert_eq!(f.atime() * 1_000_000_000 + f.atime_nsec(), a1);
    let l = fs::symlink_metadata(t.path().join("l")).unwrap();
    assert_eq!(l.mtime() * 1_000_000_000 + l.mtime_nsec(), old);
    // atime defaults to mtime.
    assert_eq!(l.atime() * 1_000_000_000 + l.atime_nsec(), old);
    // The symlink's target kept its times.
    let after = fs::metadata(t.path().join("target")).unwrap();
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (before.mtime(), before.mtime_nsec())
    );

    // Read back through the scan as well.
    let entries = scan_directory(
        t.bytes(),
        &ScanOptions {
            atime: true,
            ..Default::default()
        },
    )
    .unwrap();
    let f = entries
        .iter()
        .find(|e| e.name == b"f")
        .unwrap()
        .meta
        .as_ref()
        .unwrap();
    assert_eq!((f.mtime_ns, f.atime_ns), (m1, Some(a1)));
}

#[test]
fn mode_and_owner_are_set_and_symlinks_keep_their_targets_mode() {
    let t = TempDir::new("mode");
    let root = root_fd(&t);
    fs::write(t.path().join("f"), b"x").unwrap();
    fs::create_dir(t.path().join("d")).unwrap();
    fs::write(t.path().join("target"), b"t").unwrap();
    fs::set_permissions(t.path().join("target"), fs::Permissions::from_mode(0o644)).unwrap();
    symlink("target", t.path().join("l")).unwrap();

    let (uid, gid) = if is_root() {
        (4242, 4343)
    } else {
        let m = fs::metadata(t.path()).unwrap();
        (m.uid(), m.gid())
    };
    let warnings = apply_metadata(
        root.as_fd(),
        &[
            ItemMeta {
                mode: Some(0o100_4751),
                uid: Some(uid),
                gid: Some(gid),
                ..item("f")
            },
            ItemMeta {
                mode: Some(0o041_777),
                ..item("d")
            },
            ItemMeta {
                mode: Some(0o120_000),
                uid: Some(uid),
                gid: Some(gid),
                ..item("l")
            },
        ],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let f = fs::symlink_metadata(t.path().join("f")).unwrap();
    // chown before chmod, so the set-uid bit survives.
    assert_eq!(f.mode() & 0o7777, 0o4751);
    assert_eq!((f.uid(), f.gid()), (uid, gid));
    assert_eq!(
        fs::metadata(t.path().join("d")).unwrap().mode() & 0o7777,
        0o1777
    );
    let l = fs::symlink_metadata(t.path().join("l")).unwrap();
    assert_eq!((l.uid(), l.gid()), (uid, gid));
    let target = fs::metadata(t.path().join("target")).unwrap();
    assert_eq!(target.mode() & 0o7777, 0o644);
    if is_root() {
        assert_eq!(target.uid(), 0, "lchown must not follow the symlink");
    }
}

#[test]
fn bad_items_are_warnings_and_the_batch_goes_on() {
    let t = TempDir::new("batch");
    let outside = TempDir::new("outside");
    let root = root_fd(&t);
    fs::write(t.path().join("ok"), b"x").unwrap();
    fs::write(outside.path().join("victim"), b"v").unwrap();
    fs::set_permissions(
        outside.path().join("victim"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink(outside.path(), t.path().join("out")).unwrap();
    let warnings = apply_metadata(
        root.as_fd(),
        &[
            ItemMeta {
                mode: Some(0o777),
                ..item("../x")
            },
            ItemMeta {
                mode: Some(0o777),
                ..item("out/victim")
            },
            ItemMeta {
                mode: Some(0o777),
                ..item("missing")
            },
            ItemMeta {
                mode: Some(0o640),
                ..item("ok")
            },
        ],
    );
    let got: Vec<(usize, Op, ErrorKind)> = warnings
        .iter()
        .map(|w| (w.index, w.op, w.error.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, Op::Open, ErrorKind::InvalidArgument),
            (1, Op::Open, ErrorKind::PermissionDenied),
            (2, Op::Open, ErrorKind::NotFound),
        ]
    );
    assert_eq!(
        fs::metadata(t.path().join("ok")).unwrap().mode() & 0o777,
        0o640
    );
    assert_eq!(
        fs::metadata(outside.path().join("victim")).unwrap().mode() & 0o777,
        0o600
    );
}

#[test]
fn xattrs_and_acls_round_trip_and_stay_apart() {
    let t = TempDir::new("xattr");
    if !user_xattrs_work(t.path()) {
        return;
    }
    let root = root_fd(&t);
    fs::write(t.path().join("f"), b"x").unwrap();
    fs::create_dir(t.path().join("d")).unwrap();
    symlink("f", t.path().join("l")).unwrap();
    let x = |n: &str, v: &[u8]| Xattr {
        name: n.as_bytes().to_vec(),
        value: v.to_vec(),
    };
    let mut xattrs = vec![
        x("user.a", b"1"),
        x("user.empty", b""),
        x("user.bin", &[0, 255, 0]),
    ];
    if is_root() {
        xattrs.push(x("trusted.t", b"root only"));
    }
    let acl = extended_acl(1234);
    let warnings = apply_metadata(
        root.as_fd(),
        &[
            ItemMeta {
                xattrs: xattrs.clone(),
                acl_access: Some(acl.clone()),
                ..item("f")
            },
            ItemMeta {
                acl_access: Some(acl.clone()),
                acl_default: Some(acl.clone()),
                ..item("d")
            },
            // user. xattrs are not allowed on symlinks: a warning, not a failure.
            ItemMeta {
                xattrs: vec![x("user.nope", b"1")],
                acl_access: Some(acl.clone()),
                ..item("l")
            },
        ],
    );
    let acls_work = !warnings.iter().any(|w| w.op == Op::Acl);
    if !acls_work {
        println!("note: POSIX ACLs unsupported here: {warnings:?}");
    }
    assert!(
        warnings
            .iter()
            .all(|w| w.op == Op::Acl || (w.index == 2 && w.op == Op::Xattr)),
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w.index == 2 && w.op == Op::Xattr));

    let all = ScanOptions {
        xattrs: true,
        acls: true,
        ..Default::default()
    };
    let entries = scan_directory(t.bytes(), &all).unwrap();
    let meta = |n: &[u8]| {
        entries
            .iter()
            .find(|e| e.name == n)
            .unwrap()
            .meta
            .clone()
            .unwrap()
    };
    let f = meta(b"f");
    let mut got = f.xattrs.clone();
    got.sort_by(|a, b| a.name.cmp(&b.name));
    xattrs.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got, xattrs);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    if acls_work {
        assert_eq!(f.acl_access.as_deref(), Some(&acl[..]));
        assert_eq!(f.acl_default, None);
        let d = meta(b"d");
        assert_eq!(d.acl_access.as_deref(), Some(&acl[..]));
        assert_eq!(d.acl_default.as_deref(), Some(&acl[..]));
        assert!(d.xattrs.is_empty(), "ACLs are not xattrs: {:?}", d.xattrs);
        // The ACL's mask is the group bits of the mode.
        assert_eq!(f.mode & 0o070, 0o040);
    }
    // Asked for neither: none read.
    let bare = scan_directory(t.bytes(), &ScanOptions::default()).unwrap();
    let f = bare
        .iter()
        .find(|e| e.name == b"f")
        .unwrap()
        .meta
        .as_ref()
        .unwrap();
    assert!(f.xattrs.is_empty() && f.acl_access.is_none());
    // Only ACLs asked for.
    let only = scan_directory(
        t.bytes(),
        &ScanOptions {
            acls: true,
            ..Default::default()
        },
    )
    .unwrap();
    let f = only
        .iter()
        .find(|e| e.name == b"f")
        .unwrap()
        .meta
        .as_ref()
        .unwrap();
    assert!(f.xattrs.is_empty());
    assert_eq!(f.acl_access.is_some(), acls_work);
}

/// `FS_NODUMP_FL`: settable by a file's owner without privilege.
const NODUMP: u32 = 0x40;

#[test]
fn inode_flags_round_trip_where_the_file_system_has_them() {
    let t = TempDir::new("flags");
    let root = root_fd(&t);
    fs::write(t.path().join("f"), b"x").unwrap();
    fs::create_dir(t.path().join("d")).unwrap();
    symlink("f", t.path().join("l")).unwrap();
    let opts = ScanOptions {
        flags: true,
        ..Default::default()
    };
    let before = scan_directory(t.bytes(), &opts).unwrap();
    let Some(orig) = before[1].meta.as_ref().unwrap().flags else {
        println!("note: no inode flags on this file system; skipping");
        return;
    };
    // Symlinks have none.
    assert_eq!(before[2].meta.as_ref().unwrap().flags, None);
    let warnings = apply_metadata(
        root.as_fd(),
        &[
            ItemMeta {
                flags: Some(NODUMP),
                ..item("f")
            },
            ItemMeta {
                flags: Some(NODUMP),
                ..item("d")
            },
            ItemMeta {
                flags: Some(NODUMP),
                ..item("l")
            },
        ],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let after = scan_directory(t.bytes(), &opts).unwrap();
    let f = after[1].meta.as_ref().unwrap().flags.unwrap();
    assert_eq!(f & NODUMP, NODUMP);
    // Flags outside the user-modifiable set (ext4's extents flag, ...) were kept.
    assert_eq!(f & !USER_MODIFIABLE_FLAGS, orig & !USER_MODIFIABLE_FLAGS);
    assert_eq!(
        after[0].meta.as_ref().unwrap().flags.unwrap() & NODUMP,
        NODUMP
    );
    // And cleared again.
    let warnings = apply_metadata(
        root.as_fd(),
        &[ItemMeta {
            flags: Some(0),
            ..item("f")
        }],
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    let f = scan_directory(t.bytes(), &opts).unwrap()[1]
        .meta
        .as_ref()
        .unwrap()
        .flags
        .unwrap();
    assert_eq!(f & NODUMP, 0);
}
