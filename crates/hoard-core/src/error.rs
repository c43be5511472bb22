//! The one error type of hoard-core, with a stable code per kind.

use std::fmt;

/// What went wrong, as a stable code that crosses the napi boundary unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter or spec given by the caller is malformed or out of range.
    InvalidArgument,
    /// Authentication failed: a flipped bit, a swapped id or type, or the wrong key.
    Integrity,
    /// Data is structurally broken (bad header, truncated, undecodable).
    Corrupt,
    /// A declared size exceeds the limit the caller allows.
    TooLarge,
    /// A session has sealed as many blobs as its nonce space allows.
    SessionExhausted,
    /// A file or directory does not exist (it may have vanished during a backup).
    NotFound,
    /// Permission to read or write was refused.
    PermissionDenied,
    /// Something to be made (a file, a link, a node) exists already.
    Exists,
    /// Any other operating-system error.
    Io,
    /// A bug: a native task panicked.
    Internal,
}

impl ErrorKind {
    /// The stable code, e.g. `HOARD_INTEGRITY`.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidArgument => "HOARD_INVALID_ARGUMENT",
            Self::Integrity => "HOARD_INTEGRITY",
            Self::Corrupt => "HOARD_CORRUPT",
            Self::TooLarge => "HOARD_TOO_LARGE",
            Self::SessionExhausted => "HOARD_SESSION_EXHAUSTED",
            Self::NotFound => "HOARD_NOT_FOUND",
            Self::PermissionDenied => "HOARD_PERMISSION_DENIED",
            Self::Exists => "HOARD_EXISTS",
            Self::Io => "HOARD_IO",
            Self::Internal => "HOARD_INTERNAL",
        }
    }
}

/// An error of hoard-core: a kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The stable kind.
    pub kind: ErrorKind,
    /// A one-line description, without the code.
    pub message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A malformed or out-of-range argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Structurally broken data.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, message)
    }

    /// An I/O error about `path`, keeping the OS error's kind.
    pub fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Self::new(kind, format!("{}: {err}", shown_path(path)))
    }
}

/// A name's bytes as borg shows them to people: its UTF-8 as it is, each byte that is not part
/// of valid UTF-8 as `?` (`String::from_utf8_lossy` would put one U+FFFD for a run of them).
pub fn shown_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

/// `path` as [`shown_bytes`] shows it.
pub fn shown_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    shown_bytes(path.as_os_str().as_bytes())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

/// The result type of hoard-core.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    #[test]
    fn a_shown_path_has_one_question_mark_per_byte_that_is_not_utf8() {
        let shown = |b: &[u8]| shown_path(Path::new(OsStr::from_bytes(b)));
        assert_eq!(shown(b"plain/caf\xc3\xa9"), "plain/café");
        assert_eq!(shown(b"d\xff/f\xe2\x82A"), "d?/f??A");
        assert_eq!(shown(b"\xef\xbf\xbd"), "\u{fffd}", "a real U+FFFD stays");
        let e = Error::io(
            Path::new(OsStr::from_bytes(b"gone\xfe")),
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.message.starts_with("gone?: "), "{}", e.message);
    }
}
