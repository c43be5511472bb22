//! argon2id: passphrase -> key-encryption key.

use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::Error;

/// argon2id cost parameters, stored beside each sealed key so that they can change over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Passes over memory.
    pub time_cost: u32,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 3 passes over 64 MiB in one lane (borg 2 spends the same passes and memory in 4 lanes).
    fn default() -> Self {
        Self {
            time_cost: 3,
            memory_kib: 64 * 1024,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The cheapest costs argon2 allows, for tests only (selected by `HOARD_TESTONLY_WEAKEN_KDF`
    /// in the CLI).
    pub fn testonly_weak() -> Self {
        Self {
            time_cost: 1,
            memory_kib: 8,
            parallelism: 1,
        }
    }
}

/// The largest costs accepted: 4 GiB of memory, 64 passes, 64 lanes. Costs are read from key
/// files, so a damaged or hostile one must get an error, not an allocation that aborts.
pub const MAX_MEMORY_KIB: u32 = 4 << 20;
/// See [`MAX_MEMORY_KIB`].
pub const MAX_TIME_COST: u32 = 64;
/// See [`MAX_MEMORY_KIB`].
pub const MAX_PARALLELISM: u32 = 64;

impl KdfParams {
    /// Refuses costs beyond the maxima above (argon2 itself refuses those below its minima).
    pub fn check(&self) -> Result<(), Error> {
        if self.memory_kib > MAX_MEMORY_KIB
            || self.time_cost > MAX_TIME_COST
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(Error::invalid(format!(
                "argon2 costs {self:?} exceed the maxima ({MAX_MEMORY_KIB} KiB, {MAX_TIME_COST} passes, {MAX_PARALLELISM} lanes)"
            )));
        }
        Ok(())
    }
}

/// The 32-byte key derived from `passphrase` and `salt` (at least 8 bytes) with `params`.
pub fn argon2id(passphrase: &[u8], salt: &[u8], params: KdfParams) -> Result<[u8; 32], Error> {
    params.check()?;
    let p = Params::new(
        params.memory_kib,
        params.time_cost,
        params.parallelism,
        Some(32),
    )
    .map_err(|e| Error::invalid(format!("argon2 parameters: {e}")))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(|e| Error::invalid(format!("argon2: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sensitive_to_passphrase_and_salt() {
        let weak = KdfParams::testonly_weak();
        let a = argon2id(b"password", b"somesalt", weak).expect("kdf");
        assert_eq!(a, argon2id(b"password", b"somesalt", weak).expect("kdf"));
        assert_ne!(a, argon2id(b"passwore", b"somesalt", weak).expect("kdf"));
        assert_ne!(a, argon2id(b"password", b"somesalu", weak).expect("kdf"));
    }

    #[test]
    fn known_answer() {
        // argon2id v1.3, t=2, m=65536 KiB, p=1, "password"/"somesalt", 32-byte tag: the reference
        // implementation's test vector (phc-winner-argon2, src/test.c).
        let p = KdfParams {
            time_cost: 2,
            memory_kib: 65536,
            parallelism: 1,
        };
        let out = argon2id(b"password", b"somesalt", p).expect("kdf");
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        let bad = KdfParams {
            time_cost: 0,
            memory_kib: 8,
            parallelism: 1,
        };
        assert!(argon2id(b"pw", b"somesalt", bad).is_err());
        assert!(argon2id(b"pw", b"short", KdfParams::testonly_weak()).is_err());
        let huge = KdfParams {
            memory_kib: u32::MAX,
            ..KdfParams::testonly_weak()
        };
        assert_eq!(
            argon2id(b"pw", b"somesalt", huge).map_err(|e| e.kind),
            Err(crate::ErrorKind::InvalidArgument)
        );
    }
}
