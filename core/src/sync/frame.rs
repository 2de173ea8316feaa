//! The sealed plaintext's framing (docs/sync-protocol.md §5): compression,
//! lengths, and zero padding to a multiple of 256 bytes.

use super::WireError;

/// The largest body, before compression (4 MiB).
pub const MAX_RAW: usize = 4 * 1024 * 1024;
const PAD: usize = 256;
const HEAD: usize = 9;

/// Frames `body`, compressed with LZ4 when that is shorter (or always, with
/// `force_lz4`, for tests and vectors).
pub fn frame(body: &[u8], force_lz4: bool) -> Vec<u8> {
    assert!(body.len() <= MAX_RAW, "bodies are capped before framing");
    let packed = lz4_flex::block::compress(body);
    let (mode, stored) = if force_lz4 || packed.len() < body.len() {
        (1u8, packed.as_slice())
    } else {
        (0u8, body)
    };
    let len = (HEAD + stored.len()).div_ceil(PAD) * PAD;
    let mut out = Vec::with_capacity(len);
    out.push(mode);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&(stored.len() as u32).to_be_bytes());
    out.extend_from_slice(stored);
    out.resize(len.max(PAD), 0);
    out
}

/// The body inside a framed plaintext.
pub fn unframe(framed: &[u8]) -> Result<Vec<u8>, WireError> {
    let bad = WireError::Malformed;
    if framed.len() < HEAD || !framed.len().is_multiple_of(PAD) {
        return Err(bad("plaintext is not padded to 256 bytes"));
    }
    let raw = u32::from_be_bytes(framed[1..5].try_into().expect("4 bytes")) as usize;
    let stored = u32::from_be_bytes(framed[5..9].try_into().expect("4 bytes")) as usize;
    if raw > MAX_RAW {
        return Err(bad("body is larger than 4 MiB"));
    }
    let end = HEAD
        .checked_add(stored)
        .filter(|&e| e <= framed.len())
        .ok_or(bad("stored length runs past the end"))?;
    if framed[end..].iter().any(|&b| b != 0) {
        return Err(bad("padding is not zero"));
    }
    let stored = &framed[HEAD..end];
    match framed[0] {
        0 if stored.len() == raw => Ok(stored.to_vec()),
        0 => Err(bad("stored length differs from raw length")),
        1 => {
            let mut out = vec![0u8; raw];
            match lz4_flex::block::decompress_into(stored, &mut out) {
                Ok(n) if n == raw => Ok(out),
                _ => Err(bad("compressed body does not decompress to its length")),
            }
        }
        _ => Err(bad("unknown compression")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_padded() {
        for body in [
            &b""[..],
            b"x",
            &[7u8; 1000],
            &(0..=255u8).collect::<Vec<_>>(),
        ] {
            for force in [false, true] {
                let f = frame(body, force);
                assert_eq!(f.len() % 256, 0);
                assert!(!f.is_empty());
                assert_eq!(unframe(&f).unwrap(), body);
            }
        }
        assert_eq!(
            frame(&[7u8; 1000], false)[0],
            1,
            "repetitive text compresses"
        );
        assert_eq!(frame(b"abc", false)[0], 0, "a short body is stored");
    }

    #[test]
    fn bad_frames_are_malformed() {
        let f = frame(b"hello", false);
        let mut nonzero = f.clone();
        *nonzero.last_mut().unwrap() = 1;
        assert!(unframe(&nonzero).is_err());
        assert!(unframe(&f[..255]).is_err());
        let mut mode = f.clone();
        mode[0] = 9;
        assert!(unframe(&mode).is_err());
        let mut huge = f.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(unframe(&huge).is_err());
        let mut long = f.clone();
        long[5..9].copy_from_slice(&300u32.to_be_bytes());
        assert!(unframe(&long).is_err());
        let mut lz = frame(&[7u8; 1000], false);
        lz[1..5].copy_from_slice(&999u32.to_be_bytes());
        assert!(unframe(&lz).is_err(), "decompressed length must match");
    }
}
