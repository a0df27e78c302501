//! Strict base64 decoding for DSSE fields, with errors that say what is wrong (a character and
//! its offset, missing or extra padding, an impossible length, mixed alphabets) rather than what
//! the last decoder tried happened to trip on. DSSE allows the standard and the URL-safe
//! alphabet (RFC 4648 §4 and §5); both are read padded and canonical, as Go's DSSE verifiers
//! read them. Where the text comes from and what the bytes mean is the caller's business.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// Which RFC 4648 alphabet a text uses, told by its `+`/`/` or `-`/`_` characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alphabet {
    Standard,
    UrlSafe,
}

/// Decodes `text`, standard or URL-safe, padded. The error is a lowercase fragment naming the
/// problem and its offset (in characters from the start of the text).
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    let alphabet = alphabet(text)?;
    check_padding(text)?;
    let engine = match alphabet {
        Alphabet::Standard => &STANDARD,
        Alphabet::UrlSafe => &URL_SAFE,
    };
    engine.decode(text).map_err(|e| match e {
        // The checks above leave only non-canonical trailing bits, but say each plainly.
        base64::DecodeError::InvalidLastSymbol(at, byte) => format!(
            "the last character {:?} at offset {at} sets bits that encode nothing (not canonical base64; was the text truncated or edited?)",
            char::from(byte)
        ),
        base64::DecodeError::InvalidByte(at, byte) => {
            format!("invalid character {:?} at offset {at}", char::from(byte))
        }
        base64::DecodeError::InvalidLength(n) => {
            format!("wrong length: {n} base64 characters cannot encode whole bytes")
        }
        base64::DecodeError::InvalidPadding => "wrong padding".to_owned(),
    })
}

/// The alphabet `text` is written in; refuses characters of neither and a mix of both.
fn alphabet(text: &str) -> Result<Alphabet, String> {
    let mut standard = None;
    let mut url_safe = None;
    for (at, c) in text.chars().enumerate() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '=' => {}
            '+' | '/' => {
                standard.get_or_insert((at, c));
            }
            '-' | '_' => {
                url_safe.get_or_insert((at, c));
            }
            _ if c.is_whitespace() => {
                return Err(format!(
                    "invalid character {c:?} (whitespace) at offset {at}: base64 here is one unbroken line"
                ));
            }
            _ => return Err(format!("invalid character {c:?} at offset {at}")),
        }
    }
    match (standard, url_safe) {
        (Some((a, ca)), Some((b, cb))) => Err(format!(
            "mixes the standard alphabet ({ca:?} at offset {a}) with the URL-safe one ({cb:?} at offset {b})"
        )),
        (None, Some(_)) => Ok(Alphabet::UrlSafe),
        _ => Ok(Alphabet::Standard),
    }
}

/// `=` only at the end, and exactly as many as the length needs.
fn check_padding(text: &str) -> Result<(), String> {
    let data = text.trim_end_matches('=');
    if let Some(at) = data.find('=') {
        return Err(format!(
            "padding '=' at offset {at} is followed by more data (padding may only end the text)"
        ));
    }
    let pad = text.len() - data.len();
    let needed = match data.len() % 4 {
        0 => 0,
        1 => {
            return Err(format!(
                "wrong length: {} base64 characters (before padding) cannot encode whole bytes; one character is missing or extra",
                data.len()
            ));
        }
        r => 4 - r,
    };
    match (pad, needed) {
        (p, n) if p == n => Ok(()),
        (0, n) => Err(format!(
            "padding missing: {} characters is not a multiple of 4; expected {n} '=' at the end (unpadded base64 is not accepted)",
            text.len()
        )),
        (p, n) => Err(format!(
            "wrong padding: {p} '=' after {} characters, expected {n}",
            data.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_alphabets_decode_padded() {
        assert_eq!(decode("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("e30=").unwrap(), b"{}");
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("YWJj").unwrap(), b"abc");
    }

    #[test]
    fn unpadded_standard_base64_says_padding_is_missing() {
        // A 64-byte signature: 86 characters unpadded, with `+` in it.
        let padded = STANDARD.encode([0xfbu8; 64]);
        let unpadded = padded.trim_end_matches('=');
        let e = decode(unpadded).unwrap_err();
        assert_eq!(
            e,
            "padding missing: 86 characters is not a multiple of 4; expected 2 '=' at the end (unpadded base64 is not accepted)"
        );
        assert!(
            !e.contains("symbol"),
            "not the URL-safe decoder's error: {e}"
        );
    }

    #[test]
    fn each_problem_is_named_with_its_offset() {
        let cases = [
            ("ab!d", "invalid character '!' at offset 2"),
            ("ab\ncd", "invalid character '\\n' (whitespace) at offset 2"),
            (
                "a+b-",
                "mixes the standard alphabet ('+' at offset 1) with the URL-safe one ('-' at offset 3)",
            ),
            ("ab=c", "padding '=' at offset 2 is followed by more data"),
            ("abcde", "wrong length: 5 base64 characters"),
            (
                "abc==",
                "wrong padding: 2 '=' after 3 characters, expected 1",
            ),
            (
                "abcd=",
                "wrong padding: 1 '=' after 4 characters, expected 0",
            ),
            (
                "YR==",
                "the last character 'R' at offset 1 sets bits that encode nothing",
            ),
        ];
        for (text, want) in cases {
            let got = decode(text).unwrap_err();
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }
}
