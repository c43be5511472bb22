//! hoard's Node addon: thin napi classes and functions over hoard-core.
//!
//! Everything that takes time runs on hoard-core's worker pool and returns a promise; nothing
//! here crosses the boundary per chunk. Errors reach JavaScript as `Error`s whose message starts
//! with a stable code (`HOARD_INTEGRITY: ...`), which `src/native.ts` turns into typed classes.

mod bench;
mod check;
mod checksum;
mod chunk_index;
mod chunking;
mod codec;
mod error;
mod files_cache;
#[cfg(target_os = "linux")]
mod fsmeta;
mod kdf;
mod key;
mod malloc;
mod marks;
mod open_files;
mod pages;
mod pipe;
mod reader;
mod recompress;
mod repack;
#[cfg(target_os = "linux")]
mod tar_import;
mod task;
mod writer;
