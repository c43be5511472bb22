//! argon2id: passphrase -> key-encryption key.
//!
//! The lanes of each slice are computed in parallel on hoard's worker pool (the argon2 crate's
//! `parallel` feature runs them through rayon; [`argon2id`] enters the pool first so that they run
//! there and not on rayon's global pool). A worker waiting for a stolen segment may run other
//! pool jobs meanwhile, so a key opened while bulk work is queued can take longer; hoard opens
//! the key before it starts any.

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
    /// 3 passes over 64 MiB in 4 lanes, as borg 2. Keys sealed with other costs (1 lane, before
    /// 2026-11) keep theirs: the costs are stored beside each sealed key.
    fn default() -> Self {
        Self {
            time_cost: 3,
            memory_kib: 64 * 1024,
            parallelism: 4,
        }
    }
}

impl KdfParams {
    /// The cheapest costs argon2 allows with the default's 4 lanes (8 KiB per lane), for tests
    /// only (selected by `HOARD_TESTONLY_WEAKEN_KDF` in the CLI), so that tests take the same
    /// parallel path as real keys.
    pub fn testonly_weak() -> Self {
        Self {
            time_cost: 1,
            memory_kib: 32,
            parallelism: 4,
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
    crate::pool::pool()
        .install(|| {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
                .hash_password_into(passphrase, salt, &mut out)
        })
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
        assert_eq!(
            hex(&out),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn default_costs_match_libargon2() {
        // The default costs (t=3, 64 MiB, p=4), "password"/"somesalt": the reference C library
        // (libargon2 1 through Debian's python3-argon2, `hash_secret_raw(..., Type.ID, 19)`).
        let p = KdfParams::default();
        assert_eq!((p.time_cost, p.memory_kib, p.parallelism), (3, 65536, 4));
        let out = argon2id(b"password", b"somesalt", p).expect("kdf");
        assert_eq!(
            hex(&out),
            "661fefbd6f29bcbc8f4646abc32a9d7a4645bb5c059537f8a5587f31adbecccd"
        );
    }

    #[test]
    fn rfc9106_argon2id_four_lanes() {
        // RFC 9106 section 5.3: argon2id v1.3, t=3, m=32 KiB, p=4, password 32 x 0x01, salt
        // 16 x 0x02, secret 8 x 0x03, associated data 12 x 0x04, 32-byte tag. hoard passes no
        // secret or associated data, so this drives the crate directly, on the pool as
        // `argon2id` does.
        let ad = argon2::AssociatedData::new(&[0x04; 12]).expect("ad");
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(ad)
            .output_len(32)
            .build()
            .expect("params");
        let ctx = Argon2::new_with_secret(&[0x03; 8], Algorithm::Argon2id, Version::V0x13, params)
            .expect("secret");
        let mut out = [0u8; 32];
        crate::pool::pool()
            .install(|| ctx.hash_password_into(&[0x01; 32], &[0x02; 16], &mut out))
            .expect("kdf");
        assert_eq!(
            hex(&out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }

    #[test]
    fn one_lane_keys_still_derive_the_same_key() {
        // Keys sealed before the default became 4 lanes: t=3, 64 MiB, p=1 (libargon2 as above).
        let p = KdfParams {
            parallelism: 1,
            ..KdfParams::default()
        };
        let out = argon2id(b"mypassphrase", &[b'S'; 16], p).expect("kdf");
        assert_eq!(
            hex(&out),
            "871260a34e9c0767f4e819529c64a3784b3d9f8fdb35549e3e8b4ac3d89e1cb7"
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
