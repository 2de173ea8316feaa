//! Tagged fields: the encoding of every sync body (docs/sync-protocol.md §4).
//!
//! `field = key (varint) || length (varint) || value`. Readers skip keys they
//! do not know and refuse a known non-repeated key seen twice; writers emit
//! keys in ascending order and omit defaults, so a value has one encoding.

use super::WireError;

type R<T> = Result<T, WireError>;

fn malformed<T>(what: &'static str) -> R<T> {
    Err(WireError::Malformed(what))
}

fn push_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads a minimal LEB128 varint of at most 10 bytes at `*pos`.
fn read_varint(buf: &[u8], pos: &mut usize) -> R<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let Some(&b) = buf.get(*pos) else {
            return malformed("truncated varint");
        };
        *pos += 1;
        if i == 9 && b > 1 {
            return malformed("varint overflows 64 bits");
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return malformed("varint is not minimal");
            }
            return Ok(v);
        }
    }
    malformed("varint longer than 10 bytes")
}

/// Builds a body.
#[derive(Default)]
pub struct FieldWriter {
    buf: Vec<u8>,
}

impl FieldWriter {
    /// An empty body with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }
    fn head(&mut self, key: u32, len: usize) {
        push_varint(&mut self.buf, u64::from(key));
        push_varint(&mut self.buf, len as u64);
    }
    /// An unsigned integer, omitted when zero.
    pub fn uint(&mut self, key: u32, v: u64) {
        if v != 0 {
            self.uint_always(key, v);
        }
    }
    /// An unsigned integer, written even when zero.
    pub fn uint_always(&mut self, key: u32, v: u64) {
        self.head(key, varint_len(v));
        push_varint(&mut self.buf, v);
    }
    /// A signed integer (zig-zag), omitted when zero.
    pub fn sint(&mut self, key: u32, v: i64) {
        self.uint(key, ((v << 1) ^ (v >> 63)) as u64);
    }
    /// A boolean, omitted when false.
    pub fn bool(&mut self, key: u32, v: bool) {
        self.uint(key, v as u64);
    }
    /// An IEEE-754 double, little-endian, always written.
    pub fn f64(&mut self, key: u32, v: f64) {
        self.head(key, 8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Bytes, omitted when empty.
    pub fn bytes(&mut self, key: u32, b: &[u8]) {
        if !b.is_empty() {
            self.bytes_always(key, b);
        }
    }
    /// Bytes, written even when empty.
    pub fn bytes_always(&mut self, key: u32, b: &[u8]) {
        self.head(key, b.len());
        self.buf.extend_from_slice(b);
    }
    /// A string, omitted when empty.
    pub fn str(&mut self, key: u32, s: &str) {
        self.bytes(key, s.as_bytes());
    }
    /// A nested message, written even when empty.
    pub fn message(&mut self, key: u32, f: impl FnOnce(&mut FieldWriter)) {
        push_varint(&mut self.buf, u64::from(key));
        // One byte is reserved for the length; a longer length moves the
        // nested bytes (rare: most nested messages are under 128 bytes).
        let at = self.buf.len();
        self.buf.push(0);
        f(self);
        let len = self.buf.len() - at - 1;
        let mut head = Vec::with_capacity(3);
        push_varint(&mut head, len as u64);
        if head.len() == 1 {
            self.buf[at] = head[0];
        } else {
            self.buf.splice(at..at + 1, head);
        }
    }
    /// Appends bytes that are already fields (a nested message's content).
    pub fn raw(&mut self, fields: &[u8]) {
        self.buf.extend_from_slice(fields);
    }
    /// The encoded body.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Iterates over the fields of a body: `(key, value bytes)`.
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Reads `buf` as a sequence of fields.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = R<(u32, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let item = (|| {
            let key = read_varint(self.buf, &mut self.pos)?;
            if key == 0 || key > u64::from(u32::MAX) {
                return malformed("field key out of range");
            }
            let len = read_varint(self.buf, &mut self.pos)?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| self.pos.checked_add(l))
                .filter(|&e| e <= self.buf.len());
            let Some(end) = end else {
                return malformed("field runs past the end");
            };
            let v = &self.buf[self.pos..end];
            self.pos = end;
            Ok((key as u32, v))
        })();
        if item.is_err() {
            self.pos = self.buf.len();
        }
        Some(item)
    }
}

/// Tracks the non-repeated keys already seen in one message (keys 1-63).
#[derive(Default)]
pub struct Seen(u64);

impl Seen {
    /// Refuses a second occurrence of `key`.
    pub fn once(&mut self, key: u32) -> R<()> {
        let bit = 1u64.checked_shl(key).unwrap_or(0);
        if self.0 & bit != 0 {
            return malformed("a field appears twice");
        }
        self.0 |= bit;
        Ok(())
    }
}

/// A whole value as an unsigned integer.
pub fn uint(v: &[u8]) -> R<u64> {
    let mut pos = 0;
    let n = read_varint(v, &mut pos)?;
    if pos != v.len() {
        return malformed("integer field has trailing bytes");
    }
    Ok(n)
}

/// A whole value as an unsigned integer no larger than `max`.
pub fn uint_max(v: &[u8], max: u64, what: &'static str) -> R<u64> {
    let n = uint(v)?;
    if n > max {
        return malformed(what);
    }
    Ok(n)
}

/// A whole value as a zig-zag signed integer.
pub fn sint(v: &[u8]) -> R<i64> {
    let n = uint(v)?;
    Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
}

/// A whole value as a boolean (0 or 1).
pub fn bool(v: &[u8]) -> R<bool> {
    match uint(v)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => malformed("boolean is not 0 or 1"),
    }
}

/// A whole value as a little-endian double.
pub fn f64(v: &[u8]) -> R<f64> {
    match <[u8; 8]>::try_from(v) {
        Ok(b) => Ok(f64::from_le_bytes(b)),
        Err(_) => malformed("double is not 8 bytes"),
    }
}

/// A whole value as exactly `N` bytes.
pub fn fixed<const N: usize>(v: &[u8], what: &'static str) -> R<[u8; N]> {
    <[u8; N]>::try_from(v).or(malformed(what))
}

/// A whole value as UTF-8 text.
pub fn string(v: &[u8]) -> R<String> {
    match std::str::from_utf8(v) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => malformed("text is not UTF-8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_long_messages_move_their_length() {
        let mut w = FieldWriter::default();
        w.uint(1, 300);
        w.uint(2, 0);
        w.sint(3, -5);
        w.bool(4, true);
        w.f64(5, 6.5);
        w.str(6, "é");
        w.message(7, |m| m.bytes(1, &[9u8; 200]));
        w.message(8, |m| m.uint(1, 1));
        let buf = w.finish();
        let got: Vec<_> = Fields::new(&buf).collect::<R<_>>().unwrap();
        let keys: Vec<u32> = got.iter().map(|f| f.0).collect();
        assert_eq!(keys, [1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(uint(got[0].1).unwrap(), 300);
        assert_eq!(sint(got[1].1).unwrap(), -5);
        assert!(bool(got[2].1).unwrap());
        assert_eq!(f64(got[3].1).unwrap(), 6.5);
        assert_eq!(string(got[4].1).unwrap(), "é");
        let inner: Vec<_> = Fields::new(got[5].1).collect::<R<_>>().unwrap();
        assert_eq!(inner[0].1.len(), 200);
        assert_eq!(
            sint(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).unwrap(),
            i64::MAX
        );
    }

    #[test]
    fn bad_varints_and_lengths_are_malformed() {
        for bad in [
            &[0x80][..],                                                   // truncated
            &[0x80, 0x00],                                                 // not minimal
            &[0xff; 11],                                                   // too long
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], // > 64 bits
        ] {
            assert!(uint(bad).is_err(), "{bad:?}");
        }
        assert!(uint(&[1, 2]).is_err());
        assert!(Fields::new(&[0, 0]).next().unwrap().is_err(), "key 0");
        assert!(
            Fields::new(&[1, 5, 1]).next().unwrap().is_err(),
            "past the end"
        );
        assert!(bool(&[2]).is_err());
        assert!(string(&[0xff]).is_err());
        let mut seen = Seen::default();
        seen.once(3).unwrap();
        assert!(seen.once(3).is_err());
        seen.once(70).unwrap(); // keys past 63 are not tracked
        seen.once(70).unwrap();
    }
}
