//! The enrollment code a clinic hands to a patient (docs/sync-protocol.md §3):
//! `CAIRN1` and base32 of the clinic's address, keys and a one-time secret,
//! with a checksum that catches typing mistakes.

use ring::digest;

use super::WireError;

const PREFIX: &str = "CAIRN1";
const VERSION: u8 = 1;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The longest server address a code holds.
pub const MAX_URL: usize = 200;

/// What an enrollment code holds.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentCode {
    /// The clinic's id.
    pub clinic_id: [u8; 16],
    /// This enrollment's id.
    pub enrollment_id: [u8; 16],
    /// The one-time secret the first request proves.
    pub secret: [u8; 16],
    /// When the code expires, minutes since 1970 (the server decides).
    pub expires_minutes: u32,
    /// The clinic's root signing key (Ed25519), pinned by the device.
    pub root_key: [u8; 32],
    /// The id of the clinic's current HPKE key.
    pub hpke_key_id: u32,
    /// The clinic's current HPKE key (X25519).
    pub hpke_key: [u8; 32],
    /// The server's base address.
    pub url: String,
}

impl std::fmt::Debug for EnrollmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("EnrollmentCode")
            .field("url", &self.url)
            .field("expires_minutes", &self.expires_minutes)
            .finish_non_exhaustive()
    }
}

fn bad<T>(what: &'static str) -> Result<T, WireError> {
    Err(WireError::BadCode(what))
}

/// Whether `url` is an address a code may carry: `https://` and a host, or
/// `http://` to this machine's loopback only.
pub fn check_url(url: &str) -> Result<(), WireError> {
    if url.is_empty() || url.len() > MAX_URL {
        return bad("the server address is empty or longer than 200 bytes");
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return bad("the server address holds spaces or control characters");
    }
    if let Some(rest) = url.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return bad("the server address has no host");
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            if let Some(after) = rest.strip_prefix(host)
                && (after.is_empty() || after.starts_with(':') || after.starts_with('/'))
            {
                return Ok(());
            }
        }
        return bad("a server address without TLS must be on this machine (loopback)");
    }
    bad("the server address must start with https://")
}

impl EnrollmentCode {
    /// The code's bytes (with the checksum).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(126 + self.url.len());
        b.push(VERSION);
        b.extend_from_slice(&self.clinic_id);
        b.extend_from_slice(&self.enrollment_id);
        b.extend_from_slice(&self.secret);
        b.extend_from_slice(&self.expires_minutes.to_be_bytes());
        b.extend_from_slice(&self.root_key);
        b.extend_from_slice(&self.hpke_key_id.to_be_bytes());
        b.extend_from_slice(&self.hpke_key);
        b.push(self.url.len() as u8);
        b.extend_from_slice(self.url.as_bytes());
        let sum = digest::digest(&digest::SHA256, &b);
        b.extend_from_slice(&sum.as_ref()[..4]);
        b
    }

    /// The code as text: `CAIRN1` and upper-case base32.
    pub fn to_text(&self) -> Result<String, WireError> {
        check_url(&self.url)?;
        Ok(format!("{PREFIX}{}", base32_encode(&self.to_bytes())))
    }

    /// Reads a code's bytes.
    pub fn from_bytes(b: &[u8]) -> Result<EnrollmentCode, WireError> {
        if b.len() < 127 {
            return bad("the code is too short");
        }
        let (body, sum) = b.split_at(b.len() - 4);
        if digest::digest(&digest::SHA256, body).as_ref()[..4] != *sum {
            return bad("the checksum does not match (a typing mistake?)");
        }
        if body[0] != VERSION {
            return bad("the code's format version is not supported");
        }
        let n = body[121] as usize;
        if body.len() != 122 + n {
            return bad("the code's length does not match its address");
        }
        let url = std::str::from_utf8(&body[122..])
            .or(bad("the server address is not UTF-8"))?
            .to_owned();
        check_url(&url)?;
        let arr = |r: std::ops::Range<usize>| body[r].to_vec();
        Ok(EnrollmentCode {
            clinic_id: arr(1..17).try_into().expect("16"),
            enrollment_id: arr(17..33).try_into().expect("16"),
            secret: arr(33..49).try_into().expect("16"),
            expires_minutes: u32::from_be_bytes(arr(49..53).try_into().expect("4")),
            root_key: arr(53..85).try_into().expect("32"),
            hpke_key_id: u32::from_be_bytes(arr(85..89).try_into().expect("4")),
            hpke_key: arr(89..121).try_into().expect("32"),
            url,
        })
    }

    /// Reads a code's text: `CAIRN1` and base32, either case; spaces, dashes
    /// and line breaks are ignored.
    pub fn parse(text: &str) -> Result<EnrollmentCode, WireError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\n' | '\r' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.len() > 1024 {
            return bad("the code is too long");
        }
        let Some(rest) = cleaned.strip_prefix(PREFIX) else {
            return bad("the code does not start with CAIRN1");
        };
        EnrollmentCode::from_bytes(&base32_decode(rest)?)
    }
}

/// RFC 4648 base32, upper case, no padding.
pub fn base32_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &x in b {
        acc = (acc << 8) | u32::from(x);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes [`base32_encode`]'s output (upper case, no padding); refuses other
/// characters, impossible lengths and non-zero trailing bits.
pub fn base32_decode(s: &str) -> Result<Vec<u8>, WireError> {
    if matches!(s.len() % 8, 1 | 3 | 6) {
        return bad("the code's length is not possible in base32");
    }
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return bad("the code holds a character that is not base32"),
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if acc != 0 {
        return bad("the code's last character is not possible in base32");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> EnrollmentCode {
        EnrollmentCode {
            clinic_id: [1; 16],
            enrollment_id: [2; 16],
            secret: [3; 16],
            expires_minutes: 29_500_000,
            root_key: [4; 32],
            hpke_key_id: 0x0102_0304,
            hpke_key: [5; 32],
            url: "https://clinic.example".into(),
        }
    }

    #[test]
    fn base32_matches_rfc4648() {
        for (raw, enc) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(raw.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), raw.as_bytes());
        }
        assert!(base32_decode("MZ").is_err(), "trailing bits");
        assert!(base32_decode("M").is_err(), "impossible length");
        assert!(base32_decode("MY1").is_err());
    }

    #[test]
    fn a_code_round_trips_and_tolerates_how_people_type() {
        let code = sample();
        let text = code.to_text().unwrap();
        assert!(text.starts_with("CAIRN1"));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(EnrollmentCode::parse(&text).unwrap(), code);
        let typed: String = text
            .to_lowercase()
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("-");
        assert_eq!(EnrollmentCode::parse(&typed).unwrap(), code);
        assert!(
            !format!("{code:?}").contains("3, 3"),
            "the secret is not printed"
        );
    }

    #[test]
    fn every_single_typo_is_caught() {
        let text = sample().to_text().unwrap();
        for i in PREFIX.len()..text.len() {
            let mut b = text.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let typo = String::from_utf8(b).unwrap();
            assert!(
                matches!(EnrollmentCode::parse(&typo), Err(WireError::BadCode(_))),
                "position {i}"
            );
        }
        assert!(EnrollmentCode::parse("CAIRN2AAAA").is_err());
        assert!(EnrollmentCode::parse("").is_err());
        assert!(EnrollmentCode::parse(&text[..text.len() - 8]).is_err());
    }

    #[test]
    fn addresses_need_tls_unless_on_loopback() {
        for ok in [
            "https://clinic.example",
            "https://clinic.example:8443/base",
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9/",
        ] {
            check_url(ok).unwrap();
        }
        for bad in [
            "http://clinic.example",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil",
            "ftp://x",
            "https://",
            "https:// x",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let mut code = sample();
        code.url = "http://clinic.example".into();
        assert!(code.to_text().is_err());
        // A code that carries such an address (made by hand) is refused too.
        let text = format!("CAIRN1{}", base32_encode(&code.to_bytes()));
        assert!(EnrollmentCode::parse(&text).is_err());
    }
}
