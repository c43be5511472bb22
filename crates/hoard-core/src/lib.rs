//! hoard-core: everything hoard does per byte, in plain Rust.
//!
//! Chunkers ([`chunker`]), chunk ids ([`id`]), subkeys ([`keys`]), the sealed blob envelope
//! ([`envelope`]), the passphrase KDF ([`kdf`]), compression ([`codec`]), the file pipeline
//! ([`pipeline`]), the worker pool ([`pool`]), compact's marks and repacking ([`marks`],
//! [`repack`]) and the measurements of `benchmark cpu` ([`bench`]).

pub mod backup;
pub mod bench;
pub mod chunk_index;
pub mod chunker;
pub mod error;

pub use error::{Error, ErrorKind, Result};
pub mod codec;
pub mod envelope;
pub mod files_cache;
pub mod id;
pub mod index_object;
pub mod kdf;
pub mod keys;
pub mod marks;
pub mod pack;
pub mod pipeline;
pub mod pool;
pub mod repack;
pub mod restore;
