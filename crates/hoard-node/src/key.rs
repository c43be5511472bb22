//! `Key` (subkeys of one master key: ids, opening, file chunking) and `Session` (sealing).

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

use hoard_core::chunker::ChunkerParams;
use hoard_core::envelope::{self, Opener};
use hoard_core::id::{IdAlgorithm, IdHasher};
use hoard_core::keys::{Suite, check_pairing, subkeys};
use hoard_core::pipeline::{ChunkSettings, FileChunks, chunk_files};
use napi::bindgen_prelude::{Buffer, Either, Object, Uint32Array};
use napi::{Env, Result};
use napi_derive::napi;

use crate::error::{IntoNapi, array32, obj_type as obj_type_of};
use crate::task::spawn_promise;

/// The derived keys; other modules of the binding use them through [`Key::inner`].
pub(crate) struct KeyInner {
    pub(crate) suite: Suite,
    pub(crate) ids: IdHasher,
    pub(crate) opener: Opener,
    pub(crate) encryption: [u8; 32],
    pub(crate) chunker_seed: [u8; 32],
}

/// The working keys of a repository: derived from its master key for one suite and id algorithm.
#[napi]
pub struct Key {
    pub(crate) inner: Arc<KeyInner>,
}

/// What cutting one file produced, or why it could not be read.
#[napi(object)]
pub struct ChunkedFile {
    /// Bytes read.
    pub size: f64,
    /// The chunk ids, 32 bytes each, concatenated in file order.
    pub ids: Buffer,
    /// The length of each chunk.
    pub sizes: Uint32Array,
    /// The stable error code (e.g. `HOARD_NOT_FOUND`) when the file could not be read.
    pub error_code: Option<String>,
    /// The error's message, naming the path.
    pub error_message: Option<String>,
}

fn chunked(result: hoard_core::Result<FileChunks>) -> ChunkedFile {
    match result {
        Ok(c) => ChunkedFile {
            size: c.size as f64,
            ids: Buffer::from(c.ids.concat()),
            sizes: Uint32Array::new(c.sizes),
            error_code: None,
            error_message: None,
        },
        Err(e) => ChunkedFile {
            size: 0.0,
            ids: Buffer::from(Vec::new()),
            sizes: Uint32Array::new(Vec::new()),
            error_code: Some(e.kind.code().to_string()),
            error_message: Some(e.message),
        },
    }
}

#[napi]
impl Key {
    /// Derives the working keys from `master` (at least 32 bytes) for `suite` (`aes-256-gcm`,
    /// `chacha20-poly1305`, `blake3-mac`, `plaintext-blake3`) and `idAlgorithm` (`keyed-blake3`,
    /// `hmac-sha256`, `blake3`, `sha256`; the unkeyed two only with `plaintext-blake3`).
    #[napi(constructor)]
    pub fn new(master: Buffer, suite: String, id_algorithm: String) -> Result<Self> {
        let suite: Suite = suite.parse().napi()?;
        let algorithm: IdAlgorithm = id_algorithm.parse().napi()?;
        check_pairing(suite, algorithm).napi()?;
        let sub = subkeys(&master, suite).napi()?;
        Ok(Self {
            inner: Arc::new(KeyInner {
                suite,
                ids: IdHasher::new(algorithm, &sub.chunk_id),
                opener: Opener::new(suite, &sub.encryption),
                encryption: sub.encryption,
                chunker_seed: sub.chunker,
            }),
        })
    }

    /// The cipher suite.
    #[napi(getter)]
    pub fn suite(&self) -> String {
        self.inner.suite.name().to_string()
    }

    /// The chunk id algorithm.
    #[napi(getter)]
    pub fn id_algorithm(&self) -> String {
        self.inner.ids.algorithm().name().to_string()
    }

    /// The chunk id of `data`, computed at once (for small metadata objects; file data is
    /// identified by `chunkFiles`).
    #[napi]
    pub fn chunk_id(&self, data: Buffer) -> Buffer {
        Buffer::from(self.inner.ids.id(&data).to_vec())
    }

    /// A new sealing session with a fresh random id.
    #[napi]
    pub fn new_session(&self) -> Result<Session> {
        let s = envelope::Session::new(self.inner.suite, &self.inner.encryption).napi()?;
        Ok(Session { inner: Arc::new(s) })
    }

    /// Checks and opens a sealed blob that must be an object of `objType` with chunk id `id`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn open<'e>(
        &self,
        env: &'e Env,
        obj_type: f64,
        id: Buffer,
        blob: Buffer,
    ) -> Result<Object<'e>> {
        let obj_type = obj_type_of(obj_type)?;
        let id = array32(&id, "id")?;
        let inner = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || inner.opener.open(obj_type, &id, &blob),
            |v| Ok(Buffer::from(v)),
        )
    }

    /// Cuts each file into chunks with ids, in parallel on the worker pool. A path is a string or,
    /// for names that are not UTF-8, a Buffer of its bytes. A file that cannot be read gets an
    /// error code instead of failing the batch.
    #[napi(ts_return_type = "Promise<ChunkedFile[]>")]
    pub fn chunk_files<'e>(
        &self,
        env: &'e Env,
        paths: Vec<Either<String, Buffer>>,
        chunker_params: String,
    ) -> Result<Object<'e>> {
        let params: ChunkerParams = chunker_params.parse().napi()?;
        let paths: Vec<PathBuf> = paths
            .into_iter()
            .map(|p| match p {
                Either::A(s) => PathBuf::from(s),
                Either::B(b) => PathBuf::from(std::ffi::OsStr::from_bytes(&b)),
            })
            .collect();
        let settings = ChunkSettings {
            params,
            seed: self.inner.chunker_seed,
            ids: self.inner.ids.clone(),
        };
        spawn_promise(
            env,
            move || Ok(chunk_files(&paths, &settings)),
            |results| Ok(results.into_iter().map(chunked).collect::<Vec<_>>()),
        )
    }
}

/// A writer's sealing session: a session key from a random id, and a nonce counter.
#[napi]
pub struct Session {
    inner: Arc<envelope::Session>,
}

#[napi]
impl Session {
    /// The random session id written into every blob this session seals.
    #[napi(getter)]
    pub fn id(&self) -> Buffer {
        Buffer::from(self.inner.id().to_vec())
    }

    /// Seals `plaintext` as an object of `objType` with chunk id `id`.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn seal<'e>(
        &self,
        env: &'e Env,
        obj_type: f64,
        id: Buffer,
        plaintext: Buffer,
    ) -> Result<Object<'e>> {
        let obj_type = obj_type_of(obj_type)?;
        let id = array32(&id, "id")?;
        let inner = Arc::clone(&self.inner);
        spawn_promise(
            env,
            move || inner.seal(obj_type, &id, &plaintext),
            |v| Ok(Buffer::from(v)),
        )
    }
}

/// The AEAD suite named `suite`: key files are always encrypted, so no other suite is accepted.
fn aead_suite(suite: &str) -> Result<Suite> {
    let s: Suite = suite.parse().napi()?;
    if s.encrypts() {
        Ok(s)
    } else {
        Err(crate::error::invalid(format!(
            "keys are sealed with aes-256-gcm or chacha20-poly1305, not {s}"
        )))
    }
}

/// Seals `plaintext` under a raw 32-byte key (a key-encryption key from argon2id) with a fresh
/// session, for `suite` (`aes-256-gcm` or `chacha20-poly1305`).
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn seal_with_key(
    env: &Env,
    suite: String,
    key: Buffer,
    obj_type: f64,
    id: Buffer,
    plaintext: Buffer,
) -> Result<Object<'_>> {
    let suite = aead_suite(&suite)?;
    let key = array32(&key, "key")?;
    let obj_type = obj_type_of(obj_type)?;
    let id = array32(&id, "id")?;
    let session = envelope::Session::new(suite, &key).napi()?;
    spawn_promise(
        env,
        move || session.seal(obj_type, &id, &plaintext),
        |v| Ok(Buffer::from(v)),
    )
}

/// Opens a blob sealed by `sealWithKey` under the same raw key, AEAD suite, object type and id.
#[napi(ts_return_type = "Promise<Buffer>")]
pub fn open_with_key(
    env: &Env,
    suite: String,
    key: Buffer,
    obj_type: f64,
    id: Buffer,
    blob: Buffer,
) -> Result<Object<'_>> {
    let suite = aead_suite(&suite)?;
    let key = array32(&key, "key")?;
    let obj_type = obj_type_of(obj_type)?;
    let id = array32(&id, "id")?;
    spawn_promise(
        env,
        move || Opener::new(suite, &key).open(obj_type, &id, &blob),
        |v| Ok(Buffer::from(v)),
    )
}
