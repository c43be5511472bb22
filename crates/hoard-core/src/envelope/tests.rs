use super::*;
use crate::keys::Suite;

const KEY: [u8; 32] = [3u8; 32];
const ID: ChunkId = [5u8; 32];

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn round_trip_every_suite_and_size() {
    for suite in Suite::ALL {
        let s = Session::new(suite, &KEY).expect("session");
        let o = Opener::new(suite, &KEY);
        for len in [0, 1, 15, 16, 17, 4096, 1 << 20] {
            let p = plaintext(len);
            let blob = s.seal(1, &ID, &p).expect("seal");
            assert_eq!(blob.len(), p.len() + OVERHEAD);
            assert_eq!(o.open(1, &ID, &blob).expect("open"), p, "{suite} {len}");
            if suite.encrypts() && len >= 16 {
                assert!(
                    !blob.windows(16).any(|w| w == &p[..16]),
                    "{suite}: plaintext visible"
                );
            }
        }
    }
}

/// Every bit of a small blob, flipped one at a time, is caught.
#[test]
fn every_flipped_bit_is_an_error() {
    for suite in Suite::ALL {
        let s = Session::new(suite, &KEY).expect("session");
        let o = Opener::new(suite, &KEY);
        let blob = s.seal(2, &ID, &plaintext(100)).expect("seal");
        for byte in 0..blob.len() {
            for bit in 0..8 {
                let mut bad = blob.clone();
                bad[byte] ^= 1 << bit;
                let err = o.open(2, &ID, &bad).expect_err("flipped bit accepted");
                assert!(
                    matches!(err.kind, ErrorKind::Integrity | ErrorKind::Corrupt),
                    "{suite} byte {byte}: {err}"
                );
            }
        }
        for cut in 0..blob.len() {
            assert!(
                o.open(2, &ID, &blob[..cut]).is_err(),
                "{suite} truncated to {cut}"
            );
        }
    }
}

#[test]
fn wrong_id_type_key_or_suite_is_an_error() {
    for suite in Suite::ALL {
        let s = Session::new(suite, &KEY).expect("session");
        let blob = s.seal(1, &ID, b"some data").expect("seal");
        let o = Opener::new(suite, &KEY);
        assert_eq!(
            o.open(1, &[6u8; 32], &blob).map_err(|e| e.kind),
            Err(ErrorKind::Integrity)
        );
        assert_eq!(
            o.open(2, &ID, &blob).map_err(|e| e.kind),
            Err(ErrorKind::Integrity)
        );
        if suite != Suite::Plaintext {
            let wrong = Opener::new(suite, &[4u8; 32]);
            assert_eq!(
                wrong.open(1, &ID, &blob).map_err(|e| e.kind),
                Err(ErrorKind::Integrity)
            );
        }
        for other in Suite::ALL.into_iter().filter(|o| *o != suite) {
            let o = Opener::new(other, &KEY);
            assert_eq!(
                o.open(1, &ID, &blob).map_err(|e| e.kind),
                Err(ErrorKind::Integrity)
            );
        }
    }
}

#[test]
fn nonces_count_up_and_sessions_differ() {
    let s = Session::new(Suite::Aes256Gcm, &KEY).expect("session");
    let a = s.seal(1, &ID, b"x").expect("seal");
    let b = s.seal(1, &ID, b"x").expect("seal");
    assert_eq!(&a[18..26], &0u64.to_le_bytes());
    assert_eq!(&b[18..26], &1u64.to_le_bytes());
    assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    let t = Session::new(Suite::Aes256Gcm, &KEY).expect("session");
    assert_ne!(s.id(), t.id());
}

#[test]
fn a_session_stops_at_its_limit() {
    let s = Session::with_id(Suite::ChaCha20Poly1305, &KEY, [1; 16]);
    s.counter.store(SESSION_LIMIT - 1, Ordering::Relaxed);
    assert!(s.seal(1, &ID, b"last").is_ok());
    assert_eq!(
        s.seal(1, &ID, b"one too many").map_err(|e| e.kind),
        Err(ErrorKind::SessionExhausted)
    );
}

#[test]
fn sealing_parts_equals_sealing_their_concatenation() {
    for suite in Suite::ALL {
        let o = Opener::new(suite, &KEY);
        let s = Session::with_id(suite, &KEY, [9; 16]);
        let t = Session::with_id(suite, &KEY, [9; 16]);
        let whole = s.seal(3, &ID, b"headerbody").expect("seal");
        let parts = t
            .seal_parts(3, &ID, &[b"header", b"", b"body"])
            .expect("seal");
        assert_eq!(whole, parts, "{suite}");
        assert_eq!(o.open(3, &ID, &parts).expect("open"), b"headerbody");
    }
}

#[test]
fn detached_sealing_matches_a_whole_blob() {
    for suite in Suite::ALL {
        let a = Session::with_id(suite, &KEY, [7; 16]);
        let b = Session::with_id(suite, &KEY, [7; 16]);
        let whole = a.seal(4, &ID, &plaintext(5000)).expect("seal");
        let mut body = plaintext(5000);
        let (header, tag) = b.seal_detached(4, &ID, &mut body).expect("seal");
        assert_eq!(whole, [&header[..], &body, &tag].concat(), "{suite}");
    }
}
