//! A compact binary encoding for sealed bodies.
//!
//! Bodies are small and read often (a year is about 6,500 entries), and
//! parsing JSON measured as costly as reading and decrypting together, so
//! bodies use this length-prefixed encoding: unsigned LEB128 varints,
//! zig-zag for signed integers, IEEE-754 little-endian for floats, UTF-8
//! strings prefixed by their byte length. Every read is bounds-checked: any
//! malformed input gives `DecodeError`, never a panic. Each body starts with
//! its own schema version (carried in the envelope header), so a newer
//! layout can be added without touching old records.

/// The body did not decode (truncated, overlong, invalid UTF-8, bad tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

/// Appends encoded values to a buffer.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn uvar(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    pub fn ivar(&mut self, v: i64) {
        self.uvar(((v << 1) ^ (v >> 63)) as u64);
    }
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn str(&mut self, s: &str) {
        self.uvar(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.uvar(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads encoded values from a slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    #[inline]
    pub fn u8(&mut self) -> R<u8> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError)?;
        self.pos += 1;
        Ok(b)
    }
    #[inline]
    pub fn uvar(&mut self) -> R<u64> {
        let rest = self.buf.get(self.pos..).ok_or(DecodeError)?;
        let mut v: u64 = 0;
        for (i, &b) in rest.iter().take(10).enumerate() {
            // The tenth byte may only hold the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(DecodeError);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Ok(v);
            }
        }
        Err(DecodeError)
    }
    #[inline]
    pub fn ivar(&mut self) -> R<i64> {
        let u = self.uvar()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    pub fn u32var(&mut self) -> R<u32> {
        u32::try_from(self.uvar()?).map_err(|_| DecodeError)
    }
    pub fn i32var(&mut self) -> R<i32> {
        i32::try_from(self.ivar()?).map_err(|_| DecodeError)
    }
    pub fn f64(&mut self) -> R<f64> {
        let end = self.pos.checked_add(8).ok_or(DecodeError)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError)?;
        self.pos = end;
        Ok(f64::from_le_bytes(
            bytes.try_into().map_err(|_| DecodeError)?,
        ))
    }
    pub fn bool(&mut self) -> R<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError),
        }
    }
    /// A length-prefixed byte string, borrowed.
    #[inline]
    pub fn bytes(&mut self) -> R<&'a [u8]> {
        let len = usize::try_from(self.uvar()?).map_err(|_| DecodeError)?;
        let end = self.pos.checked_add(len).ok_or(DecodeError)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError)?;
        self.pos = end;
        Ok(bytes)
    }
    #[inline]
    pub fn str(&mut self) -> R<String> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError)
    }
    pub fn opt_str(&mut self) -> R<Option<String>> {
        Ok(if self.bool()? {
            Some(self.str()?)
        } else {
            None
        })
    }
    /// A count of items that follow, each at least `min_item` bytes long:
    /// refuses counts the remaining bytes cannot hold (no huge allocations).
    pub fn count(&mut self, min_item: usize) -> R<usize> {
        let n = usize::try_from(self.uvar()?).map_err(|_| DecodeError)?;
        let left = self.buf.len() - self.pos;
        if n.checked_mul(min_item.max(1))
            .is_none_or(|need| need > left)
        {
            return Err(DecodeError);
        }
        Ok(n)
    }
    /// Succeeds only if every byte was consumed.
    pub fn end(&self) -> R<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut w = Writer::default();
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            w.uvar(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -86_400_000] {
            w.ivar(v);
        }
        w.f64(-2.5);
        w.str("héllo");
        w.opt_str(None);
        w.opt_str(Some(""));
        let buf = w.finish();
        let mut r = Reader::new(&buf);
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            assert_eq!(r.uvar().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -86_400_000] {
            assert_eq!(r.ivar().unwrap(), v);
        }
        assert_eq!(r.f64().unwrap(), -2.5);
        assert_eq!(r.str().unwrap(), "héllo");
        assert_eq!(r.opt_str().unwrap(), None);
        assert_eq!(r.opt_str().unwrap(), Some(String::new()));
        r.end().unwrap();
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        // overlong varint, huge string length, invalid utf-8, huge count
        let cases: &[&[u8]] = &[
            &[0xff; 11],
            &[0xff, 0xff, 0xff, 0xff, 0x0f, b'a'],
            &[2, 0xc3, 0x28],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ];
        for c in cases {
            let mut r = Reader::new(c);
            assert!(r.str().is_err());
            let mut r = Reader::new(c);
            assert!(r.count(2).is_err() || r.end().is_err());
        }
        assert!(Reader::new(&[1, 2]).f64().is_err());
        assert!(Reader::new(&[2]).bool().is_err());
    }
}
