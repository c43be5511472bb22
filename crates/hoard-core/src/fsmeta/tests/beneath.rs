//! Paths beneath the root: what is refused, by openat2 and by the walk.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;

use rustix::fs::FileType;

use super::super::beneath::{
    mkdir_beneath, mkdir_beneath_with, open_beneath_with, resolve_parent_with,
};
use super::super::*;
use super::{TempDir, is_root, root_fd};
use crate::ErrorKind;

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
fn mkdir_beneath_replaces_what_is_in_its_own_place_only() {
    let t = TempDir::new("mkdir-replace");
    let outside = TempDir::new("outside");
    let root = root_fd(&t);
    let mode = Mode::from_raw_mode(0o755);
    fs::create_dir(t.path().join("a")).unwrap();
    fs::write(t.path().join("a/file"), b"x").unwrap();
    symlink(outside.path(), t.path().join("a/link")).unwrap();
    fs::write(t.path().join("parent"), b"y").unwrap();
    for name in ["a/file", "a/link"] {
        mkdir_beneath(root.as_fd(), name.as_bytes(), mode, true).unwrap();
        let st = fs::symlink_metadata(t.path().join(name)).unwrap();
        assert!(st.is_dir(), "{name}");
    }
    // Followed nowhere: the link's target is untouched.
    assert!(outside.path().is_dir());
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    // A file in the way of a parent stays, and the directory is not made.
    let e = mkdir_beneath(root.as_fd(), b"parent/d", mode, true).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Exists, "{e}");
    assert_eq!(fs::read(t.path().join("parent")).unwrap(), b"y");
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
