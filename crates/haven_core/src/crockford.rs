//! Short codes people read aloud, type and print: Crockford's base32
//! (no I, L, O or U to misread), in two halves joined by a hyphen. Receipt
//! codes (`XXXX-XXXX`) and visitor badge codes (`XXX-XXX`) are both made and
//! read back here.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The low `chars * 5` bits of `bits` as `chars` characters, most
/// significant first, split in two halves by a hyphen.
pub fn encode(bits: u64, chars: usize) -> String {
    let s: String = (0..chars)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect();
    let half = chars / 2;
    format!("{}-{}", &s[..half], &s[half..])
}

/// A code as typed or scanned, in the form [`encode`] writes it: spaces and
/// hyphens dropped, upper case, O read as 0 and I or L as 1. `None` unless
/// it then has exactly `chars` characters of the alphabet.
pub fn normalise(code: &str, chars: usize) -> Option<String> {
    let s: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    let ok = s.len() == chars && s.bytes().all(|b| ALPHABET.contains(&b));
    let half = chars / 2;
    ok.then(|| format!("{}-{}", &s[..half], &s[half..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed() {
        let code = encode(0x3FFF_FFFF, 6);
        assert_eq!(code, "ZZZ-ZZZ");
        assert_eq!(normalise("zzz zzz", 6), Some(code));
        assert_eq!(normalise("o1l-abc", 6), Some("011-ABC".into()));
        assert_eq!(normalise("UUU-UUU", 6), None, "U is not in the alphabet");
        assert_eq!(normalise("ABC-DE", 6), None);
        assert_eq!(encode(0, 8), "0000-0000");
    }
}
