//! Reading tar streams (`import-tar`): ustar and v7 headers, GNU long names (`L`/`K`) and
//! base-256 numbers, and POSIX pax extended headers (`x`, `g`) with nanosecond times and
//! `SCHILY.xattr.*`. The reader hands out each member's header; the caller reads the member's
//! content through [`TarReader::content`] (regular files only) before asking for the next.

use std::io::{self, Read};

use crate::{Error, ErrorKind, Result};

/// The size of a tar block.
const BLOCK: usize = 512;
/// The largest GNU long name or pax header the reader accepts.
const MAX_META: u64 = 1 << 20;

/// The kind of a tar member, as hoard's item types name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file (`0`, `\0`, `7`).
    File,
    /// A hard link to an earlier member (`1`).
    HardLink,
    /// A symbolic link (`2`).
    Symlink,
    /// A character device (`3`).
    CharDevice,
    /// A block device (`4`).
    BlockDevice,
    /// A directory (`5`).
    Directory,
    /// A fifo (`6`).
    Fifo,
}

impl MemberKind {
    /// The item type letter (`-`, `h`, `l`, `c`, `b`, `d`, `p`).
    pub fn letter(self) -> char {
        match self {
            Self::File => '-',
            Self::HardLink => 'h',
            Self::Symlink => 'l',
            Self::CharDevice => 'c',
            Self::BlockDevice => 'b',
            Self::Directory => 'd',
            Self::Fifo => 'p',
        }
    }
}

/// A time as seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TarTime {
    /// Whole seconds (may be negative).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// One member's header, with its long names and pax records applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What the member is.
    pub kind: MemberKind,
    /// Its path, raw bytes as stored.
    pub path: Vec<u8>,
    /// A link's target (symlink target or the hard link's earlier member).
    pub link: Vec<u8>,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner ids.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Owner and group names (empty when the header has none).
    pub uname: Vec<u8>,
    /// The group name.
    pub gname: Vec<u8>,
    /// Content bytes (regular files; 0 otherwise).
    pub size: u64,
    /// Modification time.
    pub mtime: TarTime,
    /// Access and status-change times (pax or GNU headers only).
    pub atime: Option<TarTime>,
    /// The status-change time.
    pub ctime: Option<TarTime>,
    /// Device numbers of a device member.
    pub devmajor: u32,
    /// The minor device number.
    pub devminor: u32,
    /// Extended attributes from `SCHILY.xattr.NAME` records.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A reader of members from a tar stream.
pub struct TarReader<R: Read> {
    inner: R,
    /// Bytes read so far (for messages).
    offset: u64,
    /// Content bytes of the current member not yet read.
    pending: u64,
    /// Padding after the current member's content.
    padding: u64,
    global: Vec<(Vec<u8>, Vec<u8>)>,
    ended: bool,
    ignore_zeros: bool,
}

fn corrupt(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Corrupt, message)
}

fn io_error(e: &io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("reading the tar stream: {e}"))
}

/// The bytes of a NUL-terminated header field.
fn field(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// An octal or (GNU) base-256 number field.
fn number(b: &[u8], what: &str) -> Result<u64> {
    if let Some(&first) = b.first()
        && first & 0x80 != 0
    {
        if first == 0xff {
            return Err(corrupt(format!("negative {what} in a tar header")));
        }
        let mut v: u64 = u64::from(first & 0x7f);
        for &c in &b[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(c)))
                .ok_or_else(|| corrupt(format!("{what} too large in a tar header")))?;
        }
        return Ok(v);
    }
    let text = field(b);
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| *c != b' ')
        .collect::<Vec<u8>>();
    if digits.is_empty() {
        return Ok(0);
    }
    let mut v: u64 = 0;
    for c in digits {
        if !(b'0'..=b'7').contains(&c) {
            return Err(corrupt(format!(
                "{what} in a tar header is not an octal number"
            )));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| corrupt(format!("{what} too large in a tar header")))?;
    }
    Ok(v)
}

/// A pax time: decimal seconds with an optional fraction, possibly negative.
fn pax_time(v: &[u8]) -> Result<TarTime> {
    let text = std::str::from_utf8(v).map_err(|_| corrupt("a pax time is not text"))?;
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    let bad = || corrupt(format!("pax time {text:?} is not a number"));
    if whole.is_empty()
        || !whole.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let secs: i64 = whole.parse().map_err(|_| bad())?;
    let mut nanos: u32 = 0;
    for (i, c) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
    }
    Ok(if !neg {
        TarTime { secs, nanos }
    } else if nanos == 0 {
        TarTime {
            secs: -secs,
            nanos: 0,
        }
    } else {
        TarTime {
            secs: -secs - 1,
            nanos: 1_000_000_000 - nanos,
        }
    })
}

/// Parses pax records (`LEN KEY=VALUE\n`).
fn pax_records(data: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&c| c == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or_else(|| corrupt("a malformed pax record"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| corrupt("a pax record has no length"))?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(corrupt("a pax record's length is wrong"));
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| corrupt("a pax record has no '='"))?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(out)
}

fn pax_number(v: &[u8], what: &str) -> Result<u64> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(format!("pax {what} is not a number")))
}

/// Applies pax records to a member.
fn apply_pax(m: &mut Member, records: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
    for (k, v) in records {
        match k.as_slice() {
            b"path" => m.path.clone_from(v),
            b"linkpath" => m.link.clone_from(v),
            b"size" => m.size = pax_number(v, "size")?,
            b"uid" => m.uid = pax_number(v, "uid")?,
            b"gid" => m.gid = pax_number(v, "gid")?,
            b"uname" => m.uname.clone_from(v),
            b"gname" => m.gname.clone_from(v),
            b"mtime" => m.mtime = pax_time(v)?,
            b"atime" => m.atime = Some(pax_time(v)?),
            b"ctime" => m.ctime = Some(pax_time(v)?),
            b"SCHILY.devmajor" => m.devmajor = pax_number(v, "devmajor")? as u32,
            b"SCHILY.devminor" => m.devminor = pax_number(v, "devminor")? as u32,
            _ => {
                if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                    m.xattrs.push((name.to_vec(), v.clone()));
                } else if k.starts_with(b"GNU.sparse.") {
                    return Err(corrupt("sparse tar members (GNU.sparse) are not supported"));
                }
            }
        }
    }
    Ok(())
}

/// Whether a header block's checksum is right (unsigned or, as some old tars wrote, signed).
fn checksum_ok(h: &[u8; BLOCK]) -> Result<bool> {
    let Ok(stored) = number(&h[148..156], "checksum") else {
        return Ok(false);
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &c) in h.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u64::from(c);
        signed += i64::from(c as i8);
    }
    Ok(stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed))
}

impl<R: Read> TarReader<R> {
    /// A reader of the tar stream `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            pending: 0,
            padding: 0,
            global: Vec::new(),
            ended: false,
            ignore_zeros: false,
        }
    }

    /// Whether zero blocks are skipped instead of ending the archive (GNU tar's
    /// `--ignore-zeros`, for concatenated archives).
    #[must_use]
    pub fn ignore_zeros(mut self, yes: bool) -> Self {
        self.ignore_zeros = yes;
        self
    }

    /// Fills `buf` completely; false if the stream ended before the first byte.
    fn fill(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => {
                    return Err(corrupt(format!(
                        "the tar stream ends inside a header at byte {}",
                        self.offset
                    )));
                }
                Ok(n) => {
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&e)),
            }
        }
        Ok(true)
    }

    /// Reads and drops `n` bytes.
    fn skip(&mut self, n: u64) -> Result<()> {
        let copied =
            io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map_err(|e| io_error(&e))?;
        self.offset += copied;
        if copied != n {
            return Err(corrupt(format!(
                "the tar stream ends inside a member at byte {}",
                self.offset
            )));
        }
        Ok(())
    }

    /// Reads a member's data (a long name or pax header) of `size` bytes, with its padding.
    fn data(&mut self, size: u64) -> Result<Vec<u8>> {
        if size > MAX_META {
            return Err(corrupt(format!(
                "a tar meta header of {size} bytes is too large"
            )));
        }
        let mut buf = vec![0u8; size as usize];
        if size > 0 && !self.fill(&mut buf)? {
            return Err(corrupt("the tar stream ends inside a member"));
        }
        self.skip((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64)?;
        Ok(buf)
    }

    /// The next member's header, or `None` at the end of the archive. The previous member's
    /// content is skipped if it was not read.
    pub fn next_member(&mut self) -> Result<Option<Member>> {
        if self.ended {
            return Ok(None);
        }
        let rest = self.pending + self.padding;
        self.pending = 0;
        self.padding = 0;
        self.skip(rest)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let at = self.offset;
            let mut h = [0u8; BLOCK];
            if !self.fill(&mut h)? {
                if at == 0 {
                    return Err(corrupt("the tar stream is empty"));
                }
                // A stream without its end-of-archive blocks: GNU tar accepts it too.
                self.ended = true;
                return Ok(None);
            }
            if h.iter().all(|&c| c == 0) {
                if self.ignore_zeros {
                    continue;
                }
                self.ended = true;
                return Ok(None);
            }
            if !checksum_ok(&h)? {
                return Err(corrupt(format!(
                    "not a tar archive, or damaged: bad header checksum at byte {at}"
                )));
            }
            let size = number(&h[124..136], "size")?;
            let flag = h[156];
            match flag {
                b'L' => {
                    long_name = Some(field(&self.data(size)?).to_vec());
                    continue;
                }
                b'K' => {
                    long_link = Some(field(&self.data(size)?).to_vec());
                    continue;
                }
                b'x' | b'X' => {
                    let d = self.data(size)?;
                    pax.extend(pax_records(&d)?);
                    continue;
                }
                b'g' => {
                    let d = self.data(size)?;
                    self.global.extend(pax_records(&d)?);
                    continue;
                }
                b'V' => {
                    self.skip(size.div_ceil(BLOCK as u64) * BLOCK as u64)?;
                    continue;
                }
                _ => {}
            }
            let kind = match flag {
                b'0' | 0 | b'7' => MemberKind::File,
                b'1' => MemberKind::HardLink,
                b'2' => MemberKind::Symlink,
                b'3' => MemberKind::CharDevice,
                b'4' => MemberKind::BlockDevice,
                b'5' => MemberKind::Directory,
                b'6' => MemberKind::Fifo,
                b'S' => {
                    return Err(corrupt(format!(
                        "sparse tar members (GNU type 'S') are not supported (at byte {at})"
                    )));
                }
                other => {
                    return Err(corrupt(format!(
                        "unsupported tar member type {:?} at byte {at}",
                        char::from(other)
                    )));
                }
            };
            let ustar = &h[257..263] == b"ustar\0";
            let gnu = &h[257..265] == b"ustar  \0";
            let mut path = field(&h[0..100]).to_vec();
            if ustar {
                let prefix = field(&h[345..500]);
                if !prefix.is_empty() {
                    let mut full = prefix.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&path);
                    path = full;
                }
            }
            let mtime = number(&h[136..148], "mtime")?;
            let mut m = Member {
                kind,
                path,
                link: field(&h[157..257]).to_vec(),
                mode: (number(&h[100..108], "mode")? & 0o7777) as u32,
                uid: number(&h[108..116], "uid")?,
                gid: number(&h[116..124], "gid")?,
                uname: if ustar || gnu {
                    field(&h[265..297]).to_vec()
                } else {
                    Vec::new()
                },
                gname: if ustar || gnu {
                    field(&h[297..329]).to_vec()
                } else {
                    Vec::new()
                },
                size,
                mtime: TarTime {
                    secs: i64::try_from(mtime)
                        .map_err(|_| corrupt("mtime too large in a tar header"))?,
                    nanos: 0,
                },
                atime: None,
                ctime: None,
                devmajor: if ustar || gnu {
                    number(&h[329..337], "devmajor")? as u32
                } else {
                    0
                },
                devminor: if ustar || gnu {
                    number(&h[337..345], "devminor")? as u32
                } else {
                    0
                },
                xattrs: Vec::new(),
            };
            if gnu {
                let t = |b: &[u8]| -> Result<Option<TarTime>> {
                    let v = number(b, "time")?;
                    Ok((v != 0).then(|| TarTime {
                        secs: i64::try_from(v).unwrap_or(i64::MAX),
                        nanos: 0,
                    }))
                };
                m.atime = t(&h[345..357])?;
                m.ctime = t(&h[357..369])?;
            }
            if let Some(n) = long_name.take() {
                m.path = n;
            }
            if let Some(l) = long_link.take() {
                m.link = l;
            }
            let global = std::mem::take(&mut self.global);
            let applied = apply_pax(&mut m, &global).and_then(|()| apply_pax(&mut m, &pax));
            self.global = global;
            applied?;
            // Only regular files carry content; a hard link's size (some tars set it) is skipped.
            let stored = if matches!(m.kind, MemberKind::File | MemberKind::HardLink) {
                m.size
            } else {
                0
            };
            if m.kind != MemberKind::File {
                m.size = 0;
            }
            self.pending = stored;
            self.padding = (BLOCK as u64 - stored % BLOCK as u64) % BLOCK as u64;
            if m.path.is_empty() {
                return Err(corrupt(format!("a tar member without a name at byte {at}")));
            }
            return Ok(Some(m));
        }
    }

    /// The current member's content: a reader of exactly its size (fewer bytes if the stream
    /// ends early, which [`TarReader::finish_content`] reports).
    pub fn content(&mut self) -> ContentReader<'_, R> {
        ContentReader { tar: self }
    }

    /// Checks that the current member's content was read whole; errors if the stream ended
    /// inside it.
    pub fn finish_content(&mut self) -> Result<()> {
        if self.pending > 0 {
            return Err(corrupt(format!(
                "the tar stream ends inside a member at byte {}",
                self.offset
            )));
        }
        Ok(())
    }

    /// Reads the rest of the stream (so that a filter writing it is not cut off).
    pub fn drain(&mut self) -> Result<()> {
        let n = io::copy(&mut self.inner, &mut io::sink()).map_err(|e| io_error(&e))?;
        self.offset += n;
        Ok(())
    }
}

/// Reads one member's content from a [`TarReader`].
pub struct ContentReader<'a, R: Read> {
    tar: &'a mut TarReader<R>,
}

impl<R: Read> Read for ContentReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = usize::try_from(self.tar.pending)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.tar.inner.read(&mut buf[..want])?;
        self.tar.pending -= n as u64;
        self.tar.offset += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &[u8], flag: u8, size: u64, gnu: bool) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0001750\0");
        h[116..124].copy_from_slice(b"0001750\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"14000000000\0");
        h[156] = flag;
        if gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        h[265..269].copy_from_slice(b"user");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&c| u64::from(c)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn padded(data: &[u8]) -> Vec<u8> {
        let mut v = data.to_vec();
        v.resize(data.len().div_ceil(BLOCK) * BLOCK, 0);
        v
    }

    #[test]
    fn reads_files_long_names_and_pax() {
        let mut s = Vec::new();
        s.extend_from_slice(&header(b"a.txt", b'0', 5, false));
        s.extend(padded(b"hello"));
        let long = vec![b'n'; 150];
        s.extend_from_slice(&header(b"././@LongLink", b'L', 151, true));
        let mut ln = long.clone();
        ln.push(0);
        s.extend(padded(&ln));
        s.extend_from_slice(&header(b"short", b'5', 0, true));
        let rec = b"30 mtime=1700000000.123456789\n25 SCHILY.xattr.user.a=b\n";
        s.extend_from_slice(&header(b"PaxHeader", b'x', rec.len() as u64, false));
        s.extend(padded(rec));
        s.extend_from_slice(&header(b"b", b'0', 0, false));
        s.extend_from_slice(&[0u8; 1024]);
        let mut r = TarReader::new(&s[..]);
        let a = r.next_member().expect("header").expect("a member");
        assert_eq!(
            (a.path.as_slice(), a.size, a.mode, a.uid),
            (&b"a.txt"[..], 5, 0o644, 1000)
        );
        let mut body = Vec::new();
        r.content().read_to_end(&mut body).expect("content");
        assert_eq!(body, b"hello");
        let d = r.next_member().expect("header").expect("a member");
        assert_eq!((d.path, d.kind), (long, MemberKind::Directory));
        let b = r.next_member().expect("header").expect("a member");
        assert_eq!(
            b.mtime,
            TarTime {
                secs: 1_700_000_000,
                nanos: 123_456_789
            }
        );
        assert_eq!(b.xattrs, vec![(b"user.a".to_vec(), b"b".to_vec())]);
        assert!(r.next_member().expect("header").is_none());
    }

    #[test]
    fn refuses_damaged_and_truncated_streams() {
        let mut h = header(b"a", b'0', 600, false);
        h[0] = b'b';
        assert!(TarReader::new(&h[..]).next_member().is_err());
        let h = header(b"a", b'0', 600, false);
        let mut r = TarReader::new(&h[..]);
        r.next_member().expect("header");
        let mut body = Vec::new();
        r.content().read_to_end(&mut body).expect("content");
        assert!(r.finish_content().is_err());
        assert!(TarReader::new(&b""[..]).next_member().is_err());
    }

    #[test]
    fn negative_pax_times() {
        assert_eq!(
            pax_time(b"-1.5").expect("time"),
            TarTime {
                secs: -2,
                nanos: 500_000_000
            }
        );
        assert!(pax_time(b"x").is_err());
    }
}
