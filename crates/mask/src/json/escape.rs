//! JSON string escapes: decode before detection (`\u0041`, `\/`, surrogate pairs), encode
//! again when a value was masked, so the output is always a valid JSON string.

fn hex4(s: &[u8]) -> Option<u16> {
    let t = std::str::from_utf8(s.get(..4)?).ok()?;
    u16::from_str_radix(t, 16).ok()
}

fn push_char(c: char, out: &mut Vec<u8>) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes the content of a JSON string (without quotes). Lone surrogates become U+FFFD.
pub(crate) fn decode(raw: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut i = 0;
    while i < raw.len() {
        let Some(k) = memchr::memchr(b'\\', &raw[i..]) else {
            out.extend_from_slice(&raw[i..]);
            break;
        };
        out.extend_from_slice(&raw[i..i + k]);
        i += k + 1;
        let esc = *raw.get(i).ok_or("unfinished escape")?;
        i += 1;
        let byte = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = hex4(&raw[i..]).ok_or("invalid \\u escape")?;
                i += 4;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    let lo = match raw.get(i..i + 2) {
                        Some(b"\\u") => hex4(&raw[i + 2..]).filter(|lo| (0xDC00..0xE000).contains(lo)),
                        _ => None,
                    };
                    match lo {
                        Some(lo) => {
                            i += 6;
                            let cp = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        None => '\u{FFFD}',
                    }
                } else {
                    char::from_u32(u32::from(hi)).unwrap_or('\u{FFFD}')
                };
                push_char(c, out);
                continue;
            }
            _ => return Err("invalid escape"),
        };
        out.push(byte);
    }
    Ok(())
}

/// Encodes text as JSON string content (without quotes), escaping only what JSON requires.
pub(crate) fn encode(text: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> String {
        let mut out = Vec::new();
        decode(s.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decodes_all_escapes() {
        assert_eq!(dec(r"\u0041\/\n\t\\\u00e9"), "A/\n\t\\é");
        assert_eq!(dec(r"\ud83d\ude00"), "😀");
        assert_eq!(dec(r"\ud83dx"), "\u{FFFD}x");
        let mut out = Vec::new();
        assert!(decode(br"\x", &mut out).is_err());
        assert!(decode(br"\u12", &mut out).is_err());
    }

    #[test]
    fn encode_round_trips() {
        let text = "a\"b\\c\nd\u{1}é";
        let mut enc = Vec::new();
        encode(text.as_bytes(), &mut enc);
        let mut back = Vec::new();
        decode(&enc, &mut back).unwrap();
        assert_eq!(back, text.as_bytes());
        assert_eq!(enc, r#"a\"b\\c\nd\u0001é"#.as_bytes());
    }
}
