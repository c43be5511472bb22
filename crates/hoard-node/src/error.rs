//! hoard-core errors as napi errors: the message carries the stable code first.

/// A napi error whose message is `CODE: message`.
pub fn to_napi(e: hoard_core::Error) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// Shorthand for results crossing the boundary.
pub trait IntoNapi<T> {
    /// Converts the error side.
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for hoard_core::Result<T> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

/// An invalid-argument error raised by the binding itself.
pub fn invalid(message: impl Into<String>) -> napi::Error {
    to_napi(hoard_core::Error::invalid(message))
}

/// `bytes` as a 32-byte array, or an invalid-argument error naming `what`.
pub fn array32(bytes: &[u8], what: &str) -> napi::Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", bytes.len())))
}
