//! TOTP second factor (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the
//! kind every authenticator app reads from an `otpauth://` link.
//!
//! Written out rather than taken from a crate: it is a dozen lines over `hmac`
//! and `sha1`, checked below against the RFC's own test vectors, and we need
//! the matched time step back (to refuse a code used twice), which the common
//! crates do not return.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

const STEP_MS: i64 = 30_000;
const DIGITS: u32 = 6;
/// Codes one step either side of now are accepted, for clocks a little off.
const SKEW_STEPS: i64 = 1;

/// A new random secret: 20 bytes (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

/// The secret as people type it into an app: base32 without padding.
pub fn secret_base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` link an authenticator app scans.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={}",
        enc(issuer),
        enc(account),
        secret_base32(secret),
        enc(issuer),
        STEP_MS / 1000
    )
}

/// The code for time step `step`.
fn code_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

/// The time step a `code` matches at `now_ms` (within the allowed skew) and
/// after `last_step`, so each code is good once; `None` if it matches none.
pub fn verify(secret: &[u8], code: &str, now_ms: i64, last_step: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now_step = now_ms.div_euclid(STEP_MS);
    (now_step - SKEW_STEPS..=now_step + SKEW_STEPS)
        .filter(|step| *step > last_step)
        .find(|step| code_at(secret, *step) == wanted)
}

/// The current code, for tests that play the authenticator app.
pub fn current_code(secret: &[u8], now_ms: i64) -> String {
    format!(
        "{:0width$}",
        code_at(secret, now_ms.div_euclid(STEP_MS)),
        width = DIGITS as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, truncated to 6 digits.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (seconds, eight_digits) in [
            (59_i64, 94_287_082_u32),
            (1_111_111_109, 7_081_804),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
        ] {
            assert_eq!(
                code_at(secret, seconds / 30),
                eight_digits % 1_000_000,
                "{seconds}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let secret = new_secret();
        let now = 1_790_000_000_000;
        let code = current_code(&secret, now);
        let step = verify(&secret, &code, now, 0).expect("current code");
        assert_eq!(verify(&secret, &code, now, step), None, "replayed");
        assert!(
            verify(&secret, &code, now + 30_000, 0).is_some(),
            "one step late"
        );
        assert_eq!(verify(&secret, &code, now + 120_000, 0), None, "too late");
        assert_eq!(verify(&secret, "12345", now, 0), None);
        assert_eq!(verify(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn the_otpauth_link_carries_the_secret_and_escapes_names() {
        let uri = otpauth_uri(b"12345678901234567890", "Riverside Trust", "a@b.example");
        assert!(uri.starts_with("otpauth://totp/Riverside%20Trust:a%40b.example?secret="));
        assert!(uri.contains("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
    }
}
