//! `makePipe`: an anonymous pipe for a child process's output, which Node cannot make itself.
//! The write end goes to the child as its standard output; the read end to a native reader
//! (`ArchiveWriter.storeFd`), so the bytes never pass through JavaScript.

use std::os::fd::{IntoRawFd, OwnedFd};

use hoard_core::{Error, ErrorKind};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The two ends of a new pipe, as raw file descriptors the caller owns and must close.
#[napi(object)]
pub struct PipeEnds {
    /// The end to read from.
    pub read: u32,
    /// The end to write to (e.g. a child process's standard output).
    pub write: u32,
}

/// Makes an anonymous pipe. Both ends are close-on-exec, so only a child given an end
/// explicitly (which dups it onto its own descriptor) holds it.
#[napi]
pub fn make_pipe() -> Result<PipeEnds> {
    let (r, w) = std::io::pipe()
        .map_err(|e| crate::error::to_napi(Error::new(ErrorKind::Io, format!("pipe: {e}"))))?;
    let (r, w): (OwnedFd, OwnedFd) = (r.into(), w.into());
    let (read, write) = (r.into_raw_fd(), w.into_raw_fd());
    // Descriptors are never negative.
    Ok(PipeEnds {
        read: read.unsigned_abs(),
        write: write.unsigned_abs(),
    })
}
