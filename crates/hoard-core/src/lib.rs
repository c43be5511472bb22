//! hoard-core: everything hoard does per byte, in plain Rust.
//!
//! Chunkers ([`chunker`]), chunk ids ([`id`]), subkeys ([`keys`]), the sealed blob envelope
//! ([`envelope`]), the passphrase KDF ([`kdf`]), compression ([`codec`]), the file pipeline
//! ([`pipeline`]), the worker pool ([`pool`]), compact's marks and repacking ([`marks`],
//! [`repack`]), finished packs' bytes on their way to storage ([`pack_bytes`]), the
//! measurements of `benchmark cpu` ([`bench`]), glibc's free memory given back ([`free_memory`])
//! and, on Linux, the file metadata system calls Node lacks ([`fsmeta`]).

pub mod backup;
pub mod bench;
pub mod cache_file;
pub mod check;
pub mod checksum;
pub mod chunk_index;
pub mod chunker;
pub mod error;

pub use error::{Error, ErrorKind, Result};
pub mod codec;
pub mod direct_write;
pub mod envelope;
pub mod files_cache;
pub mod free_memory;
#[cfg(target_os = "linux")]
pub mod fsmeta;
pub mod id;
pub mod index_object;
pub mod kdf;
pub mod keys;
pub mod marks;
pub mod open_files;
pub mod pack;
pub mod pack_bytes;
pub mod pipeline;
pub mod pool;
#[cfg(target_os = "linux")]
pub mod recompress;
pub mod repack;
#[cfg(target_os = "linux")]
pub mod restore;
mod slot_table;
pub mod tar;
