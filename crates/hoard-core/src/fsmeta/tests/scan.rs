//! Scanning: every kind of entry against std, errors, large directories, a moved directory.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::super::*;
use super::{TempDir, extended_acl, is_root, root_fd, user_xattrs_work};
use crate::ErrorKind;

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
    let by_path = scan::read_all_xattrs(&entries, &[true], path, path, &opts, &mut bufs);
    let set = by_path[0].as_ref().unwrap();
    assert!(set.xattrs.is_empty());
    assert_eq!(set.warnings[0].kind, ErrorKind::NotFound);
    let proc_dir = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
    let by_proc = scan::read_all_xattrs(
        &entries,
        &[true],
        proc_dir.as_bytes(),
        path,
        &opts,
        &mut bufs,
    );
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

#[test]
fn xattrs_read_through_the_flags_descriptor_match_those_read_by_path() {
    use rustix::fs::{XattrFlags, lsetxattr, setxattr};
    let t = TempDir::new("scanx");
    if !user_xattrs_work(t.path()) {
        return;
    }
    let p = t.path();
    fs::write(p.join("f"), b"x").unwrap();
    fs::create_dir(p.join("d")).unwrap();
    symlink("f", p.join("l")).unwrap();
    fs::write(p.join("plain"), b"").unwrap();
    let none = XattrFlags::empty();
    setxattr(p.join("f"), "user.a", b"1", none).unwrap();
    setxattr(p.join("f"), "user.bin", &[0, 255, 0], none).unwrap();
    setxattr(p.join("f"), "user.empty", b"", none).unwrap();
    setxattr(p.join("d"), "user.d", b"dir", none).unwrap();
    let acl = extended_acl(1000);
    let acls_work = setxattr(p.join("f"), "system.posix_acl_access", &acl, none).is_ok()
        && setxattr(p.join("d"), "system.posix_acl_default", &acl, none).is_ok();
    if is_root() {
        lsetxattr(p.join("l"), "trusted.l", b"link", none).unwrap();
    }

    // Without flags every entry is read by path; with them (create's default) the file and the
    // directory are read through the descriptor opened for their flags, the symlink by path.
    let by_path = ScanOptions {
        xattrs: true,
        acls: true,
        ..Default::default()
    };
    let by_fd = ScanOptions {
        flags: true,
        ..by_path
    };
    let a = scan_directory(t.bytes(), &by_path).unwrap();
    let b = scan_directory(t.bytes(), &by_fd).unwrap();
    assert_eq!(a.len(), 4);
    for (x, y) in a.iter().zip(&b) {
        let (mx, my) = (x.meta.as_ref().unwrap(), y.meta.as_ref().unwrap());
        let what = String::from_utf8_lossy(&x.name);
        assert_eq!(mx.xattrs, my.xattrs, "{what}");
        assert_eq!(
            (&mx.acl_access, &mx.acl_default),
            (&my.acl_access, &my.acl_default),
            "{what}"
        );
        assert!(my.warnings.is_empty(), "{what}: {:?}", my.warnings);
        // lstat_path reads the same way.
        let one = lstat_path(
            p.join(OsStr::from_bytes(&x.name)).as_os_str().as_bytes(),
            &by_fd,
        )
        .unwrap();
        assert_eq!(
            (&one.xattrs, &one.acl_access, &one.acl_default),
            (&my.xattrs, &my.acl_access, &my.acl_default),
            "{what}"
        );
    }
    let meta = |n: &[u8]| {
        b.iter()
            .find(|e| e.name == n)
            .unwrap()
            .meta
            .clone()
            .unwrap()
    };
    let names = |m: &Meta| {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = m
            .xattrs
            .iter()
            .map(|x| (x.name.clone(), x.value.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&meta(b"f")),
        vec![
            (b"user.a".to_vec(), b"1".to_vec()),
            (b"user.bin".to_vec(), vec![0, 255, 0]),
            (b"user.empty".to_vec(), Vec::new()),
        ]
    );
    assert_eq!(
        names(&meta(b"d")),
        vec![(b"user.d".to_vec(), b"dir".to_vec())]
    );
    assert!(meta(b"plain").xattrs.is_empty());
    if is_root() {
        assert_eq!(
            names(&meta(b"l")),
            vec![(b"trusted.l".to_vec(), b"link".to_vec())]
        );
    }
    if acls_work {
        assert_eq!(meta(b"f").acl_access.as_deref(), Some(&acl[..]));
        assert_eq!(meta(b"d").acl_default.as_deref(), Some(&acl[..]));
        assert!(
            meta(b"d")
                .xattrs
                .iter()
                .all(|x| !x.name.starts_with(b"system."))
        );
    } else {
        println!("note: POSIX ACLs unsupported here");
    }
}

#[test]
fn deferred_files_read_by_the_caller_match_the_scan() {
    use rustix::fs::{XattrFlags, setxattr};
    let t = TempDir::new("scandefer");
    let p = t.path();
    fs::write(p.join("f"), b"x").unwrap();
    fs::write(p.join("g"), b"y").unwrap();
    fs::write(p.join("linked"), b"z").unwrap();
    fs::hard_link(p.join("linked"), p.join("linked2")).unwrap();
    fs::create_dir(p.join("d")).unwrap();
    symlink("f", p.join("l")).unwrap();
    let xattrs = user_xattrs_work(p);
    if xattrs {
        let none = XattrFlags::empty();
        setxattr(p.join("f"), "user.a", b"1", none).unwrap();
        setxattr(p.join("f"), "user.bin", &[0, 255], none).unwrap();
        // An ACL where the file system takes them.
        let _ = setxattr(
            p.join("g"),
            "system.posix_acl_access",
            &extended_acl(1000),
            none,
        );
    }
    for base in [
        ScanOptions {
            xattrs: true,
            acls: true,
            flags: true,
            ..Default::default()
        },
        ScanOptions {
            xattrs: true,
            acls: true,
            ..Default::default()
        },
        ScanOptions {
            flags: true,
            ..Default::default()
        },
    ] {
        let whole = scan_directory(t.bytes(), &base).unwrap();
        let deferring = ScanOptions {
            defer_files: true,
            ..base
        };
        let split = scan_directory(t.bytes(), &deferring).unwrap();
        for (w, s) in whole.iter().zip(&split) {
            let what = String::from_utf8_lossy(&w.name).into_owned();
            let (mw, ms) = (w.meta.as_ref().unwrap(), s.meta.as_ref().unwrap());
            // Only the regular files with one link are deferred, and have nothing read.
            let single = matches!(&w.name[..], b"f" | b"g");
            assert_eq!(ms.deferred, single, "{what}");
            assert!(!mw.deferred, "{what}");
            if !single {
                assert_eq!(ms, mw, "{what}");
                continue;
            }
            assert_eq!(
                (&ms.flags, ms.xattrs.len(), &ms.acl_access),
                (&None, 0, &None),
                "{what}"
            );
            // What the caller reads, through its own descriptor or one opened for it, is what
            // the scan would have read.
            let path = p.join(OsStr::from_bytes(&w.name));
            let file = fs::File::open(&path).unwrap();
            let by_fd = read_file_meta(Some(file.as_fd()), path.as_os_str().as_bytes(), &base);
            let opened = read_file_meta(None, path.as_os_str().as_bytes(), &base);
            for m in [&by_fd, &opened] {
                assert_eq!(m.flags, mw.flags, "{what}: flags");
                assert_eq!(m.xattrs, mw.xattrs, "{what}: xattrs");
                assert_eq!(
                    (&m.acl_access, &m.acl_default),
                    (&mw.acl_access, &mw.acl_default),
                    "{what}: ACLs"
                );
                assert!(m.warnings.is_empty(), "{what}: {:?}", m.warnings);
            }
        }
        if xattrs && base.xattrs {
            let f = split.iter().find(|e| e.name == b"f").unwrap();
            let path = p.join("f");
            let m = read_file_meta(None, path.as_os_str().as_bytes(), &base);
            assert!(f.meta.as_ref().unwrap().deferred);
            assert_eq!(m.xattrs.len(), 2);
        }
    }
    // A file that vanished: no flags, and its xattrs cannot be listed (a warning).
    let gone = p.join("gone");
    let m = read_file_meta(
        None,
        gone.as_os_str().as_bytes(),
        &ScanOptions {
            xattrs: true,
            flags: true,
            ..Default::default()
        },
    );
    assert_eq!(m.flags, None);
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert_eq!(m.warnings[0].kind, ErrorKind::NotFound);
    // lstat_path never defers.
    let one = lstat_path(
        p.join("f").as_os_str().as_bytes(),
        &ScanOptions {
            flags: true,
            defer_files: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!one.deferred);
}

#[test]
fn a_batch_scans_each_directory_alone_and_stops_at_its_entry_budget() {
    let t = TempDir::new("batch");
    let p = t.path();
    // Directory i holds i + 1 files.
    let mut paths: Vec<Vec<u8>> = Vec::new();
    for i in 0..6 {
        let d = p.join(format!("d{i}"));
        fs::create_dir(&d).unwrap();
        for j in 0..=i {
            fs::write(d.join(format!("f{j}")), b"x").unwrap();
        }
        paths.push(d.as_os_str().as_bytes().to_vec());
    }
    // One that vanished and one that is a file, among readable ones.
    paths.insert(2, p.join("gone").as_os_str().as_bytes().to_vec());
    fs::write(p.join("file"), b"").unwrap();
    paths.insert(4, p.join("file").as_os_str().as_bytes().to_vec());
    let opts = ScanOptions::default();

    let all = scan_directories(&paths, &opts, usize::MAX);
    assert_eq!(all.len(), paths.len());
    for (path, got) in paths.iter().zip(&all) {
        match scan_directory(path, &opts) {
            Ok(want) => assert_eq!(got.as_ref().unwrap(), &want),
            Err(want) => assert_eq!(got.as_ref().unwrap_err().kind, want.kind),
        }
    }
    assert_eq!(all[2].as_ref().unwrap_err().kind, ErrorKind::NotFound);
    assert!(all[2].as_ref().unwrap_err().message.contains("gone"));
    assert!(all[4].is_err());
    assert_eq!(
        all[5].as_ref().unwrap().len(),
        4,
        "the batch goes on after a failure (d3)"
    );

    // d0 (1) + d1 (2) = 3 < 4, + gone (0), + d2 (3) = 6 >= 4: stops there.
    let some = scan_directories(&paths, &opts, 4);
    assert_eq!(some.len(), 4);
    assert_eq!(some[3].as_ref().unwrap().len(), 3);
    // At least one directory, whatever the budget.
    assert_eq!(scan_directories(&paths, &opts, 0).len(), 1);
    assert!(scan_directories(&[], &opts, 4).is_empty());
}
