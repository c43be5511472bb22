//! Tests of fsmeta on real files in a temporary directory, checked against `std::fs`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::beneath::{mkdir_beneath_with, open_beneath_with, resolve_parent_with};
use super::*;
use crate::ErrorKind;

/// A directory under /var/tmp (a disk file system, so xattrs, ACLs and inode flags work where
/// the machine allows them), removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = if Path::new("/var/tmp").is_dir() {
            PathBuf::from("/var/tmp")
        } else {
            std::env::temp_dir()
        };
        let p = base.join(format!(
            "hoard-fsmeta-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("mkdir temp");
        Self(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_os_str().as_bytes()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0
}

fn root_fd(t: &TempDir) -> std::os::fd::OwnedFd {
    open_root(t.bytes()).expect("open root")
}

/// Whether user xattrs work under `dir`; prints a note when they do not.
fn user_xattrs_work(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    fs::write(&probe, b"").expect("probe");
    let ok = rustix::fs::setxattr(&probe, "user.hoard", b"1", rustix::fs::XattrFlags::empty());
    let _ = fs::remove_file(&probe);
    match ok {
        Ok(()) => true,
        Err(e) => {
            println!(
                "note: user xattrs unsupported under {}: {e}; skipping",
                dir.display()
            );
            false
        }
    }
}

// ---- paths beneath the root ----

#[test]
fn components_refuse_escapes_and_normalise_the_rest() {
    for bad in [
        &b""[..],
        b"/etc/x",
        b"../x",
        b"a/../b",
        b"a/..",
        b"a\0b",
        b".",
        b"./",
        b"//",
    ] {
        let e = beneath::components(bad).expect_err("refused");
        assert_eq!(
            e.kind,
            ErrorKind::InvalidArgument,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        beneath::components(b"a//b/./c/").unwrap(),
        vec![&b"a"[..], b"b", b"c"]
    );
    assert_eq!(
        beneath::components(b"..a/b..").unwrap(),
        vec![&b"..a"[..], b"b.."]
    );
}

#[test]
fn open_beneath_creates_inside_and_refuses_every_escape() {
    for use_openat2 in [true, false] {
        let t = TempDir::new("escape");
        let outside = TempDir::new("outside");
        let root = root_fd(&t);
        fs::create_dir(t.path().join("d")).unwrap();
        let create = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
        let mode = Mode::from_raw_mode(0o644);

        let fd = open_beneath_with(root.as_fd(), b"d/new", create, mode, use_openat2).unwrap();
        rustix::io::write(&fd, b"inside").unwrap();
        assert_eq!(fs::read(t.path().join("d/new")).unwrap(), b"inside");

        // `..` and absolute paths are refused before any system call.
        for bad in [&b"../x"[..], b"d/../../x"] {
            let e = open_beneath_with(root.as_fd(), bad, create, mode, use_openat2).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument);
        }
        let e = open_beneath_with(root.as_fd(), b"/etc/hoard-x", create, mode, use_openat2)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        assert!(!Path::new("/etc/hoard-x").exists());

        // A symlinked parent pointing outside.
        symlink(outside.path(), t.path().join("link")).unwrap();
        let e = open_beneath_with(root.as_fd(), b"link/x", create, mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
        assert!(!outside.path().join("x").exists());
        // Deeper, and through a symlink that stays inside the root: refused too.
        symlink("d", t.path().join("inner")).unwrap();
        let e = open_beneath_with(root.as_fd(), b"inner/y", create, mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(!t.path().join("d/y").exists());

        // A symlink as the final component is not followed.
        fs::write(outside.path().join("target"), b"keep").unwrap();
        symlink(outside.path().join("target"), t.path().join("evil")).unwrap();
        let e = open_beneath_with(root.as_fd(), b"evil", create, mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(fs::read(outside.path().join("target")).unwrap(), b"keep");

        // O_PATH | O_NOFOLLOW opens the symlink itself.
        let fd = open_beneath_with(
            root.as_fd(),
            b"evil",
            OFlags::PATH,
            Mode::empty(),
            use_openat2,
        )
        .unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::Symlink);

        // A missing parent is NotFound.
        let e = open_beneath_with(root.as_fd(), b"nope/x", create, mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}

use rustix::fs::FileType;

#[test]
fn resolve_parent_refuses_symlinked_parents_by_both_routes() {
    for use_openat2 in [true, false] {
        let t = TempDir::new("parent");
        let outside = TempDir::new("outside");
        let root = root_fd(&t);
        fs::create_dir_all(t.path().join("a/b")).unwrap();
        symlink(outside.path(), t.path().join("a/out")).unwrap();
        let p = resolve_parent_with(root.as_fd(), b"a/b/c", use_openat2).unwrap();
        assert_eq!(p.name.as_bytes(), b"c");
        let e = resolve_parent_with(root.as_fd(), b"a/out/c", use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        // The final component may be anything, even a symlink: it is acted on, not followed.
        let p = resolve_parent_with(root.as_fd(), b"a/out", use_openat2).unwrap();
        assert_eq!(p.name.as_bytes(), b"out");
    }
}

#[test]
fn mkdir_beneath_makes_parents_keeps_existing_and_refuses_symlinks() {
    for use_openat2 in [true, false] {
        let t = TempDir::new("mkdir");
        let outside = TempDir::new("outside");
        let root = root_fd(&t);
        let mode = Mode::from_raw_mode(0o755);
        mkdir_beneath_with(root.as_fd(), b"a/b/c", mode, use_openat2).unwrap();
        assert!(t.path().join("a/b/c").is_dir());
        // Again: kept.
        let fd = mkdir_beneath_with(root.as_fd(), b"a/b/c", mode, use_openat2).unwrap();
        assert!(rustix::fs::fstat(&fd).is_ok());
        // A file in the way.
        fs::write(t.path().join("a/file"), b"").unwrap();
        let e = mkdir_beneath_with(root.as_fd(), b"a/file", mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Exists, "{e}");
        // A symlink in the way, as the last component or as a parent.
        symlink(outside.path(), t.path().join("a/link")).unwrap();
        let e = mkdir_beneath_with(root.as_fd(), b"a/link", mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
        let e = mkdir_beneath_with(root.as_fd(), b"a/link/x/y", mode, use_openat2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}

#[test]
fn make_special_symlink_and_hard_link_beneath_the_root() {
    let t = TempDir::new("make");
    let outside = TempDir::new("outside");
    let root = root_fd(&t);
    fs::create_dir(t.path().join("d")).unwrap();

    make_special(root.as_fd(), b"d/fifo", SpecialKind::Fifo, 0o640, 0).unwrap();
    let m = fs::symlink_metadata(t.path().join("d/fifo")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()));

    make_special(root.as_fd(), b"d/sock", SpecialKind::Socket, 0o600, 0).unwrap();
    let m = fs::symlink_metadata(t.path().join("d/sock")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));

    if is_root() {
        let dev = rustix::fs::makedev(1, 3);
        make_special(root.as_fd(), b"d/null", SpecialKind::Char, 0o666, dev).unwrap();
        let m = fs::symlink_metadata(t.path().join("d/null")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_char_device(
            &m.file_type()
        ));
        assert_eq!(m.rdev(), dev);
        make_special(
            root.as_fd(),
            b"d/blk",
            SpecialKind::Block,
            0o600,
            rustix::fs::makedev(7, 9),
        )
        .unwrap();
        let m = fs::symlink_metadata(t.path().join("d/blk")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_block_device(
            &m.file_type()
        ));
        assert_eq!(m.rdev(), rustix::fs::makedev(7, 9));
    } else {
        let e = make_special(root.as_fd(), b"d/null", SpecialKind::Char, 0o666, 259).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
    }

    // The target is stored as given, even one pointing outside: it is never followed here.
    let target = b"../../\xffanything";
    make_symlink(root.as_fd(), b"d/link", target).unwrap();
    assert_eq!(
        fs::read_link(t.path().join("d/link"))
            .unwrap()
            .as_os_str()
            .as_bytes(),
        target
    );
    let e = make_symlink(root.as_fd(), b"d/link", b"x").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Exists);

    fs::write(t.path().join("d/file"), b"data").unwrap();
    make_hard_link(root.as_fd(), b"d/file", b"hard").unwrap();
    let a = fs::metadata(t.path().join("d/file")).unwrap();
    let b = fs::metadata(t.path().join("hard")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    // A hard link to a symlink links the symlink.
    make_hard_link(root.as_fd(), b"d/link", b"link2").unwrap();
    assert!(
        fs::symlink_metadata(t.path().join("link2"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // Nothing is made through a symlinked parent, nor linked from outside.
    symlink(outside.path(), t.path().join("out")).unwrap();
    fs::write(outside.path().join("secret"), b"s").unwrap();
    for e in [
        make_special(root.as_fd(), b"out/fifo", SpecialKind::Fifo, 0o600, 0).unwrap_err(),
        make_symlink(root.as_fd(), b"out/l", b"x").unwrap_err(),
        make_hard_link(root.as_fd(), b"out/secret", b"stolen").unwrap_err(),
        make_hard_link(root.as_fd(), b"d/file", b"out/planted").unwrap_err(),
        make_symlink(root.as_fd(), b"../escape", b"x").unwrap_err(),
    ] {
        assert!(
            matches!(
                e.kind,
                ErrorKind::PermissionDenied | ErrorKind::InvalidArgument
            ),
            "{e}"
        );
    }
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    assert!(!t.path().join("stolen").exists());
}

// ---- restoring metadata ----

fn item(path: &str) -> ItemMeta {
    ItemMeta {
        path: path.as_bytes().to_vec(),
        ..ItemMeta::default()
    }
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

/// A POSIX ACL in the kernel's xattr form: `u::rw-,u:1234:r--,g::r--,m::r--,o::---`.
fn sample_acl() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 1234),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
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
    let acl = sample_acl();
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

use restore::USER_MODIFIABLE_FLAGS;

// ---- scanning ----

#[test]
fn scan_matches_lstat_for_every_kind_of_entry() {
    let t = TempDir::new("scan");
    let root = root_fd(&t);
    let p = t.path();
    fs::write(p.join("file"), vec![7u8; 10_000]).unwrap();
    fs::create_dir(p.join("dir")).unwrap();
    symlink("file", p.join("link")).unwrap();
    symlink(OsStr::from_bytes(b"/nowhere/\xfe"), p.join("dangling")).unwrap();
    fs::hard_link(p.join("file"), p.join("hard")).unwrap();
    fs::write(p.join(OsStr::from_bytes(b"\xff\xfename")), b"").unwrap();
    make_special(root.as_fd(), b"fifo", SpecialKind::Fifo, 0o600, 0).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(p.join("sock")).unwrap();
    if is_root() {
        make_special(
            root.as_fd(),
            b"chr",
            SpecialKind::Char,
            0o600,
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
    }

    let opts = ScanOptions {
        atime: true,
        birthtime: true,
        ..Default::default()
    };
    let entries = scan_directory(t.bytes(), &opts).unwrap();
    let names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
    let mut expected: Vec<Vec<u8>> = fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    expected.sort();
    assert_eq!(
        names,
        expected.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );
    assert_eq!(*names.last().unwrap(), b"\xff\xfename", "sorted by bytes");

    for e in &entries {
        let m = e.meta.as_ref().unwrap();
        let path = p.join(OsStr::from_bytes(&e.name));
        let s = fs::symlink_metadata(&path).unwrap();
        let what = String::from_utf8_lossy(&e.name);
        assert_eq!(m.mode, s.mode(), "{what}");
        assert_eq!((m.uid, m.gid), (s.uid(), s.gid()), "{what}");
        assert_eq!(
            (m.ino, m.dev, m.nlink),
            (s.ino(), s.dev(), s.nlink()),
            "{what}"
        );
        assert_eq!(
            (m.size, m.rdev, m.blocks),
            (s.size(), s.rdev(), s.blocks()),
            "{what}"
        );
        assert_eq!(
            m.mtime_ns,
            s.mtime() * 1_000_000_000 + s.mtime_nsec(),
            "{what}"
        );
        assert_eq!(
            m.ctime_ns,
            s.ctime() * 1_000_000_000 + s.ctime_nsec(),
            "{what}"
        );
        // Reading a symlink's target (after its lstat) may move its atime, so std's later lstat
        // can see a newer one.
        if !s.file_type().is_symlink() {
            assert_eq!(
                m.atime_ns,
                Some(s.atime() * 1_000_000_000 + s.atime_nsec()),
                "{what}"
            );
        }
        if let Ok(created) = s.created() {
            let d = created.duration_since(std::time::UNIX_EPOCH).unwrap();
            assert_eq!(
                m.birthtime_ns,
                Some(i64::try_from(d.as_nanos()).unwrap()),
                "{what}"
            );
        }
        if s.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap();
            assert_eq!(
                m.link_target.as_deref(),
                Some(target.as_os_str().as_bytes())
            );
        } else {
            assert_eq!(m.link_target, None);
        }
        assert!(m.warnings.is_empty(), "{what}: {:?}", m.warnings);
    }

    // Without atime and birthtime, they are absent.
    let bare = scan_directory(t.bytes(), &ScanOptions::default()).unwrap();
    assert!(bare.iter().all(|e| {
        let m = e.meta.as_ref().unwrap();
        m.atime_ns.is_none() && m.birthtime_ns.is_none()
    }));

    // lstat_path gives the same for one path (but the atime, which reading the target moved).
    let mut one = lstat_path(p.join("link").as_os_str().as_bytes(), &opts).unwrap();
    let from_scan = entries.iter().find(|e| e.name == b"link").unwrap();
    let from_scan = from_scan.meta.as_ref().unwrap();
    assert!(one.atime_ns.is_some());
    one.atime_ns = from_scan.atime_ns;
    assert_eq!(&one, from_scan);
    let file = lstat_path(p.join("file").as_os_str().as_bytes(), &opts).unwrap();
    assert_eq!(
        Some(&file),
        entries
            .iter()
            .find(|e| e.name == b"file")
            .unwrap()
            .meta
            .as_ref()
            .ok()
    );
}

#[test]
fn scan_fails_whole_only_for_the_directory_itself() {
    let t = TempDir::new("scanerr");
    fs::write(t.path().join("file"), b"").unwrap();
    symlink(".", t.path().join("self")).unwrap();
    let opts = ScanOptions::default();
    let missing = t.path().join("missing");
    let e = scan_directory(missing.as_os_str().as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let e = scan_directory(t.path().join("file").as_os_str().as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io, "{e}");
    let e = scan_directory(t.path().join("self").as_os_str().as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    let e = lstat_path(missing.as_os_str().as_bytes(), &opts).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(e.message.contains("missing"), "{e}");

    if !is_root() {
        let locked = t.path().join("locked");
        fs::create_dir(&locked).unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        let e = scan_directory(locked.as_os_str().as_bytes(), &opts).unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    }
}

#[test]
fn scan_of_an_empty_and_of_a_large_directory() {
    let t = TempDir::new("large");
    assert!(
        scan_directory(t.bytes(), &ScanOptions::default())
            .unwrap()
            .is_empty()
    );
    // More names than one getdents buffer holds.
    for i in 0..3000 {
        fs::write(
            t.path().join(format!("entry-with-a-longish-name-{i:05}")),
            b"",
        )
        .unwrap();
    }
    let entries = scan_directory(t.bytes(), &ScanOptions::default()).unwrap();
    assert_eq!(entries.len(), 3000);
    assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
    assert!(entries.iter().all(|e| e.meta.is_ok()));
}

// ---- sparse files ----

/// Allocated bytes of `path`.
fn allocated(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

#[test]
fn segments_find_data_and_holes() {
    let t = TempDir::new("segments");
    let path = t.path().join("sparse");
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(&[1u8; 4096]).unwrap();
    f.seek(SeekFrom::Start(1 << 20)).unwrap();
    f.write_all(&[2u8; 8192]).unwrap();
    f.set_len((1 << 20) + 8192 + (1 << 20)).unwrap();
    let f = fs::File::open(&path).unwrap();
    let segs = segments(&f).unwrap();
    if segs.len() == 1 {
        println!("note: this file system does not report holes; skipping");
        return;
    }
    let want = [
        Segment {
            offset: 0,
            len: 4096,
            data: true,
        },
        Segment {
            offset: 4096,
            len: (1 << 20) - 4096,
            data: false,
        },
        Segment {
            offset: 1 << 20,
            len: 8192,
            data: true,
        },
        Segment {
            offset: (1 << 20) + 8192,
            len: 1 << 20,
            data: false,
        },
    ];
    assert_eq!(segs, want);

    let dense = t.path().join("dense");
    fs::write(&dense, vec![3u8; 10_000]).unwrap();
    let segs = segments(fs::File::open(&dense).unwrap()).unwrap();
    assert_eq!(
        segs,
        vec![Segment {
            offset: 0,
            len: 10_000,
            data: true
        }]
    );
    let empty = t.path().join("empty");
    fs::write(&empty, b"").unwrap();
    assert!(
        segments(fs::File::open(&empty).unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sparse_writer_leaves_holes_and_reads_back_the_same() {
    let t = TempDir::new("writer");
    // 4 MiB: data, a 1 MiB zero run, data with small zero gaps, 1 MiB of trailing zeros.
    let mut want = vec![0u8; 4 << 20];
    for (i, b) in want.iter_mut().enumerate().take(1 << 20) {
        *b = (i % 251) as u8 + 1;
    }
    for (i, b) in want.iter_mut().enumerate().skip(2 << 20).take(1 << 20) {
        // Zero gaps of 100 bytes every 1000: too short to skip.
        *b = if i % 1000 < 100 {
            0
        } else {
            (i % 13) as u8 + 1
        };
    }
    let path = t.path().join("restored");
    let f = fs::File::create(&path).unwrap();
    let mut w = SparseWriter::new(&f).unwrap();
    // Chunks at unaligned boundaries, out of order.
    let cuts = [
        0usize,
        777,
        5000,
        1_048_000,
        2_000_001,
        2_100_000,
        3_500_000,
        4 << 20,
    ];
    let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|c| (c[0], c[1])).collect();
    pieces.reverse();
    for (a, b) in pieces {
        w.write_at(a as u64, &want[a..b]).unwrap();
    }
    let written = w.written();
    w.finish(want.len() as u64).unwrap();
    drop(f);

    let mut got = Vec::new();
    fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "contents differ");
    // Only the 2 MiB of data (block-rounded) was written.
    assert!(written <= (2 << 20) + 8 * 4096, "{written}");
    assert!(written >= 2 << 20);
    let dense = t.path().join("dense");
    fs::write(&dense, &want).unwrap();
    let (a, d) = (allocated(&path), allocated(&dense));
    assert!(d >= 4 << 20, "dense file allocates it all: {d}");
    assert!(
        a <= (2 << 20) + (256 << 10),
        "sparse file allocates only its data: {a} of {d}"
    );
}

#[test]
fn sparse_writer_of_all_zeros_allocates_nothing_and_refuses_a_non_empty_file() {
    let t = TempDir::new("zeros");
    let path = t.path().join("z");
    let f = fs::File::create(&path).unwrap();
    let mut w = SparseWriter::new(&f).unwrap();
    w.write_at(0, &vec![0u8; 1 << 20]).unwrap();
    assert_eq!(w.written(), 0);
    w.finish(3 << 20).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 3 << 20);
    assert_eq!(allocated(&path), 0);

    fs::write(&path, b"old").unwrap();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    let e = SparseWriter::new(&f).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}

#[test]
fn xattrs_of_a_directory_moved_during_a_scan_are_read_through_proc() {
    let t = TempDir::new("moved");
    if !user_xattrs_work(t.path()) {
        return;
    }
    let before = t.path().join("before");
    fs::create_dir(&before).unwrap();
    fs::write(before.join("f"), b"").unwrap();
    rustix::fs::setxattr(
        before.join("f"),
        "user.k",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let dir = rustix::fs::open(&before, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    let opts = ScanOptions {
        xattrs: true,
        ..Default::default()
    };
    let entries = vec![ScanEntry {
        name: b"f".to_vec(),
        meta: Ok(Meta::default()),
    }];
    let path = before.as_os_str().as_bytes();
    assert!(!scan::moved(path, &dir));
    fs::rename(&before, t.path().join("after")).unwrap();
    assert!(scan::moved(path, &dir));
    let mut bufs = xattr::Bufs::new();
    let by_path = scan::read_all_xattrs(&entries, path, path, &opts, &mut bufs);
    let set = by_path[0].as_ref().unwrap();
    assert!(set.xattrs.is_empty());
    assert_eq!(set.warnings[0].kind, ErrorKind::NotFound);
    let proc_dir = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
    let by_proc = scan::read_all_xattrs(&entries, proc_dir.as_bytes(), path, &opts, &mut bufs);
    let set = by_proc[0].as_ref().unwrap();
    assert_eq!(
        set.xattrs,
        vec![Xattr {
            name: b"user.k".to_vec(),
            value: b"v".to_vec()
        }]
    );
    assert!(set.warnings.is_empty());
}
