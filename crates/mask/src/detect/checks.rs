//! Validators: cheap checks that turn a pattern match into a finding. They are what keeps
//! precision up (a 16-digit number that fails Luhn is not a card).

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Luhn checksum over the ASCII digits of `s` (other bytes are skipped).
pub(crate) fn luhn(s: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut count = 0;
    for &b in s.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        count += 1;
    }
    count >= 2 && sum % 10 == 0
}

/// IBAN mod-97 check over an IBAN without spaces (uppercase letters and digits).
pub(crate) fn iban_mod97(s: &[u8]) -> bool {
    if s.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    let rotated = s[4..].iter().chain(s[..4].iter());
    for &b in rotated {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            b'a'..=b'z' => u32::from(b - b'a') + 10,
            b' ' => continue,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Decodes standard or URL-safe base64, with or without padding.
pub(crate) fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let trimmed = s.strip_suffix(b"==").or_else(|| s.strip_suffix(b"=")).unwrap_or(s);
    if trimmed.iter().any(|&b| b == b'-' || b == b'_') {
        URL_SAFE_NO_PAD.decode(trimmed).ok()
    } else {
        STANDARD_NO_PAD.decode(trimmed).ok()
    }
}

/// An Azure account key: 88 characters of standard base64 for 64 random bytes.
pub(crate) fn azure_key(s: &[u8]) -> bool {
    has_mixed_classes(s) && STANDARD.decode(s).is_ok_and(|k| k.len() == 64)
}

/// A SAS `sig` value: percent-encoded base64 of a 32-byte HMAC-SHA256.
pub(crate) fn sas_signature(s: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            let hex = [s[i + 1], s[i + 2]];
            match std::str::from_utf8(&hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => decoded.push(v),
                None => return false,
            }
            i += 3;
        } else {
            decoded.push(s[i]);
            i += 1;
        }
    }
    base64_decode(&decoded).is_some_and(|mac| mac.len() == 32)
}

/// A JWT: the header part decodes to a JSON object naming an algorithm.
pub(crate) fn jwt(s: &[u8]) -> bool {
    let header = s.split(|&b| b == b'.').next().unwrap_or_default();
    match URL_SAFE_NO_PAD.decode(header) {
        Ok(h) => h.first() == Some(&b'{') && memchr::memmem::find(&h, b"\"alg\"").is_some(),
        Err(_) => false,
    }
}

/// Random-looking key material: upper, lower and digit characters all present.
pub(crate) fn has_mixed_classes(s: &[u8]) -> bool {
    let (mut u, mut l, mut d) = (false, false, false);
    for &b in s {
        u |= b.is_ascii_uppercase();
        l |= b.is_ascii_lowercase();
        d |= b.is_ascii_digit();
    }
    u && l && d
}

/// A textual IPv6 address (the pattern is loose; the standard parser decides).
pub(crate) fn ipv6(s: &[u8]) -> bool {
    std::str::from_utf8(s).is_ok_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
        && s.iter().filter(|&&b| b == b':').count() >= 2
}

/// E-mail domain that is really a file name (`icon@2x.png`).
pub(crate) fn email(s: &[u8]) -> bool {
    const FILE_TLDS: [&[u8]; 9] = [b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"map"];
    let tld = s.rsplit(|&b| b == b'.').next().unwrap_or_default();
    !FILE_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_others() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"5500 0000 0000 0004"));
        assert!(!luhn(b"4111111111111112"));
    }

    #[test]
    fn iban_mod97_check() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
    }

    #[test]
    fn sas_signature_needs_a_32_byte_mac() {
        assert!(sas_signature(b"LXEWQrcmsEQBYnyp%2B6wy9chTD7GQPMTbAiWHF5IaSIE%3D"));
        assert!(!sas_signature(b"abcdef"));
    }

    #[test]
    fn jwt_header_must_be_json_with_alg() {
        assert!(jwt(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"));
        assert!(!jwt(b"eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.sig"));
    }
}
