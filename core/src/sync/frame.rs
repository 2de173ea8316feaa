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
    // Zeroed by the allocator (`vec![0; n]`), not byte by byte.
    let mut out = vec![0u8; max_framed(body.len())];
    let len = frame_into(&mut out, body, force_lz4);
    out.truncate(len);
    out
}

/// The most bytes [`frame_into`] needs for a body of `len` bytes (LZ4's
/// worst case, padded).
pub(crate) fn max_framed(len: usize) -> usize {
    (HEAD + lz4_flex::block::get_maximum_output_size(len)).div_ceil(PAD) * PAD
}

/// [`frame`] into `out` (at least [`max_framed`] bytes; what it held does
/// not matter): the body is compressed straight into its place, only a
/// stored body is copied. Returns the framed length.
pub(crate) fn frame_into(out: &mut [u8], body: &[u8], force_lz4: bool) -> usize {
    assert!(body.len() <= MAX_RAW, "bodies are capped before framing");
    let packed = lz4_flex::block::compress_into(body, &mut out[HEAD..])
        .expect("max_framed holds the worst case");
    let (mode, stored) = if force_lz4 || packed < body.len() {
        (1u8, packed)
    } else {
        out[HEAD..HEAD + body.len()].copy_from_slice(body);
        (0u8, body.len())
    };
    out[0] = mode;
    out[1..5].copy_from_slice(&(body.len() as u32).to_be_bytes());
    out[5..HEAD].copy_from_slice(&(stored as u32).to_be_bytes());
    let len = ((HEAD + stored).div_ceil(PAD) * PAD).max(PAD);
    // Past `stored`, the encoder may have left bytes of its own.
    out[HEAD + stored..len].fill(0);
    len
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

    /// The framing as first written (compress to a Vec of its own, then
    /// copy): `frame` must give the same bytes.
    fn reference(body: &[u8], force_lz4: bool) -> Vec<u8> {
        let packed = lz4_flex::block::compress(body);
        let (mode, stored) = if force_lz4 || packed.len() < body.len() {
            (1u8, packed.as_slice())
        } else {
            (0u8, body)
        };
        let len = (HEAD + stored.len()).div_ceil(PAD) * PAD;
        let mut out = vec![mode];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&(stored.len() as u32).to_be_bytes());
        out.extend_from_slice(stored);
        out.resize(len.max(PAD), 0);
        out
    }

    #[test]
    fn frames_in_place_as_the_reference_does() {
        // Text-like and incompressible parts, short and long (past the
        // 64 KiB of lz4_flex's small table).
        let mut x = 0x9e37_79b9_u32;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect()
        };
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("entry {} mood {} ", i % 977, i % 11).into_bytes())
            .take(300_000)
            .collect();
        let mut mixed = noise(40_000);
        mixed.extend_from_slice(&text[..100_000]);
        mixed.extend(noise(70_000));
        let bodies = [
            Vec::new(),
            b"abc".to_vec(),
            vec![7u8; 1000],
            noise(255),
            noise(100_000),
            text.clone(),
            mixed,
        ];
        for body in &bodies {
            for force in [false, true] {
                let f = frame(body, force);
                assert_eq!(f, reference(body, force), "{} bytes", body.len());
                assert!(f.len() <= max_framed(body.len()));
                let mut dirty = vec![0xa5; max_framed(body.len()) + 3];
                let n = frame_into(&mut dirty, body, force);
                assert_eq!(dirty[..n], f[..], "whatever the buffer held");
                assert_eq!(unframe(&f).unwrap(), *body);
            }
        }
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
