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

/// A whole number from JavaScript in `0..=max`; anything else (fractions, NaN, negatives, numbers
/// past `max`) is an invalid-argument error naming `what`, never silently wrapped.
pub fn whole(value: f64, what: &str, max: u64) -> napi::Result<u64> {
    // `max` is at most 2^53 at every call site, so the comparison and the cast are exact.
    if value.fract() == 0.0 && value >= 0.0 && value <= max as f64 {
        Ok(value as u64)
    } else {
        Err(invalid(format!(
            "{what} must be a whole number from 0 to {max}, got {value}"
        )))
    }
}

/// An object type from JavaScript: a whole number from 0 to 255.
pub fn obj_type(value: f64) -> napi::Result<u8> {
    // `whole` bounds it to 255.
    whole(value, "object type", 255).map(|v| v as u8)
}
