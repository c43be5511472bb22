//! `TarImport`: reads a tar stream (a file descriptor, optionally through a filter command) and
//! stores each regular file's content through a `Writer`; JavaScript gets the members' headers
//! and chunk lists in batches, never their contents.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use hoard_core::backup;
use hoard_core::tar::{Member, TarReader};
use hoard_core::{Error, ErrorKind};
use napi::bindgen_prelude::{Buffer, Object};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::whole;
use crate::fsmeta::Xattr;
use crate::task::thread_promise;
use crate::writer::{StoredFileResult, Writer, result_of};

/// One member of a tar stream, with its stored content for a regular file.
#[napi(object)]
pub struct TarMember {
    /// The item type letter: `-`, `d`, `l`, `h`, `p`, `c`, `b`.
    pub kind: String,
    /// The member's path, raw bytes.
    pub path: Buffer,
    /// A symlink's target or a hard link's earlier member.
    pub link: Buffer,
    /// Permission bits.
    pub mode: u32,
    /// Owner and group ids.
    pub uid: f64,
    /// The group id.
    pub gid: f64,
    /// Owner and group names (empty when the header has none).
    pub uname: Buffer,
    /// The group name.
    pub gname: Buffer,
    /// Modification time: seconds and nanoseconds.
    pub mtime_secs: f64,
    /// Nanoseconds of the modification time.
    pub mtime_nanos: u32,
    /// Access time (seconds, nanoseconds), when the header has one.
    pub atime_secs: Option<f64>,
    /// Nanoseconds of the access time.
    pub atime_nanos: Option<u32>,
    /// Status-change time (seconds, nanoseconds), when the header has one.
    pub ctime_secs: Option<f64>,
    /// Nanoseconds of the status-change time.
    pub ctime_nanos: Option<u32>,
    /// Device numbers of a device member.
    pub devmajor: u32,
    /// The minor device number.
    pub devminor: u32,
    /// Extended attributes (pax `SCHILY.xattr.*`).
    pub xattrs: Vec<Xattr>,
    /// A regular file's stored content.
    pub stored: Option<StoredFileResult>,
}

/// A reader that waits when its descriptor is non-blocking and has nothing yet (Node puts
/// standard input in non-blocking mode, and a duplicate shares that mode).
struct Patient<R>(R);

impl<R: Read> Read for Patient<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut wait = 1;
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(wait));
                    wait = (wait * 2).min(20);
                }
                r => return r,
            }
        }
    }
}

struct Source {
    tar: TarReader<Box<dyn Read + Send>>,
    child: Option<(Child, String)>,
    done: bool,
}

impl Source {
    /// Ends the stream: reads what is left and waits for the filter, whose failure is an error.
    fn finish(&mut self) -> hoard_core::Result<()> {
        self.done = true;
        self.tar.drain()?;
        if let Some((mut child, cmd)) = self.child.take() {
            let status = child
                .wait()
                .map_err(|e| Error::new(ErrorKind::Io, format!("--tar-filter {cmd}: {e}")))?;
            if !status.success() {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!("--tar-filter '{cmd}' failed ({status})"),
                ));
            }
        }
        Ok(())
    }
}

fn member_of(m: Member, stored: Option<StoredFileResult>) -> TarMember {
    TarMember {
        kind: m.kind.letter().to_string(),
        path: Buffer::from(m.path),
        link: Buffer::from(m.link),
        mode: m.mode,
        uid: m.uid as f64,
        gid: m.gid as f64,
        uname: Buffer::from(m.uname),
        gname: Buffer::from(m.gname),
        mtime_secs: m.mtime.secs as f64,
        mtime_nanos: m.mtime.nanos,
        atime_secs: m.atime.map(|t| t.secs as f64),
        atime_nanos: m.atime.map(|t| t.nanos),
        ctime_secs: m.ctime.map(|t| t.secs as f64),
        ctime_nanos: m.ctime.map(|t| t.nanos),
        devmajor: m.devmajor,
        devminor: m.devminor,
        xattrs: m
            .xattrs
            .into_iter()
            .map(|(name, value)| Xattr {
                name: Buffer::from(name),
                value: Buffer::from(value),
            })
            .collect(),
        stored,
    }
}

/// Reads up to `max` members, storing regular files' contents through `writer`.
fn read_batch(
    source: &mut Source,
    writer: &backup::Writer,
    max: usize,
) -> hoard_core::Result<Vec<(Member, Option<StoredFileResult>)>> {
    let mut out = Vec::new();
    while out.len() < max && !source.done {
        let Some(m) = source.tar.next_member()? else {
            source.finish()?;
            break;
        };
        let stored = if m.kind == hoard_core::tar::MemberKind::File {
            let path = Path::new(std::ffi::OsStr::from_bytes(&m.path)).to_path_buf();
            let r = writer.store_reader(source.tar.content(), &path);
            // A read error of the stream is fatal for the whole import, not one file's warning.
            let r = r?;
            source.tar.finish_content()?;
            Some(result_of(Ok(r)))
        } else {
            None
        };
        out.push((m, stored));
    }
    Ok(out)
}

/// Reads a tar stream member by member, storing the contents of its regular files.
#[napi]
pub struct TarImport {
    writer: Arc<backup::Writer>,
    source: Arc<Mutex<Source>>,
}

#[napi]
impl TarImport {
    /// Reads the tar stream from file descriptor `fd` (0 for standard input), through the
    /// shell command `filter` when given (e.g. `gzip -d`), storing contents through `writer`.
    /// With `ignoreZeros`, zero blocks are skipped rather than ending the archive.
    #[napi(constructor)]
    pub fn new(
        writer: &Writer,
        fd: f64,
        filter: Option<String>,
        ignore_zeros: Option<bool>,
    ) -> Result<Self> {
        let fd = whole(fd, "file descriptor", i32::MAX as u64)?;
        let io = |e: std::io::Error| {
            Error::new(ErrorKind::Io, format!("cannot read the tar stream: {e}"))
        };
        // Standard input is duplicated (it may be a socket, which /proc cannot reopen); another
        // descriptor is reopened through /proc, giving a description of our own. Either way the
        // caller's descriptor stays open.
        let file = if fd == 0 {
            std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
        } else {
            File::open(format!("/proc/self/fd/{fd}"))
        }
        .map_err(|e| crate::error::to_napi(io(e)))?;
        let (reader, child): (Box<dyn Read + Send>, Option<(Child, String)>) = match filter {
            Some(cmd) => {
                // Standard input may be non-blocking (see `Patient`), which a filter would not
                // expect: it is fed through a pipe by a thread of ours instead.
                let mut child = Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .stdin(if fd == 0 {
                        Stdio::piped()
                    } else {
                        Stdio::from(file.try_clone().map_err(|e| crate::error::to_napi(io(e)))?)
                    })
                    .stdout(Stdio::piped())
                    .spawn()
                    .map_err(|e| {
                        crate::error::to_napi(Error::new(
                            ErrorKind::Io,
                            format!("--tar-filter {cmd}: {e}"),
                        ))
                    })?;
                if let Some(mut input) = child.stdin.take() {
                    let mut from = Patient(file);
                    std::thread::Builder::new()
                        .name("hoard-tar-input".into())
                        .spawn(move || {
                            // A failed copy shows as a truncated stream or a failed filter.
                            let _ = std::io::copy(&mut from, &mut input);
                        })
                        .map_err(|e| crate::error::to_napi(io(e)))?;
                }
                let out = child.stdout.take().ok_or_else(|| {
                    crate::error::to_napi(Error::new(ErrorKind::Io, "the filter has no output"))
                })?;
                (Box::new(out), Some((child, cmd)))
            }
            None => (Box::new(Patient(file)), None),
        };
        Ok(Self {
            writer: Arc::clone(&writer.inner),
            source: Arc::new(Mutex::new(Source {
                tar: TarReader::new(Box::new(std::io::BufReader::with_capacity(1 << 20, reader))
                    as Box<dyn Read + Send>)
                .ignore_zeros(ignore_zeros.unwrap_or(false)),
                child,
                done: false,
            })),
        })
    }

    /// The next members (at most `max`); an empty list at the end of the stream. A malformed
    /// stream or a failed filter rejects.
    #[napi(ts_return_type = "Promise<TarMember[]>")]
    pub fn next<'e>(&self, env: &'e Env, max: f64) -> Result<Object<'e>> {
        let max = whole(max, "max", 1 << 20)?.max(1) as usize;
        let w = Arc::clone(&self.writer);
        let s = Arc::clone(&self.source);
        // A thread of its own: storing waits for the pool's workers, and may wait for the
        // caller to take finished packs.
        thread_promise(
            env,
            move || {
                let mut source = s
                    .lock()
                    .map_err(|_| Error::new(ErrorKind::Internal, "a tar import failed earlier"))?;
                read_batch(&mut source, &w, max)
            },
            |v| {
                Ok(v.into_iter()
                    .map(|(m, r)| member_of(m, r))
                    .collect::<Vec<_>>())
            },
        )
    }

    /// Stops the filter command, if one runs (after an error).
    #[napi]
    pub fn abort(&self) {
        if let Ok(mut s) = self.source.lock() {
            s.done = true;
            if let Some((mut child, _)) = s.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
