//! Request and reply envelopes (docs/sync-protocol.md §6, §7): headers,
//! sealing, signatures.

use ring::signature::KeyPair as _;
use ring::{digest, hkdf, signature};
use zeroize::Zeroizing;

use super::{WireError, frame, hpke::Context};

/// The protocol's major version; a different one is refused.
pub const MAJOR: u8 = 1;
/// The protocol's minor version; a newer one is read, skipping what is new.
pub const MINOR: u8 = 0;
/// Fixed part of a request header.
pub const REQUEST_HEADER: usize = 100;
/// Fixed part of a reply header.
pub const REPLY_HEADER: usize = 112;
const MAX_HEADER: usize = 4096;
/// An Ed25519 signature's length.
pub const SIG_LEN: usize = 64;
const REQUEST_LABEL: &[u8] = b"cairn sync request v1";
const REPLY_LABEL: &[u8] = b"cairn sync reply v1";
const RECEIPT_LABEL: &[u8] = b"cairn receipt v1";
const INFO_LABEL: &[u8] = b"cairn sync v1";

/// What a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// The first request: proves the one-time secret, registers the device key.
    Enroll = 1,
    /// Changes up, acknowledgements and changes down.
    Push = 2,
    /// The patient leaves the clinic.
    Withdraw = 3,
}

/// A request header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// What the request asks.
    pub kind: RequestKind,
    /// The sender's minor version.
    pub minor: u8,
    /// The clinic addressed.
    pub clinic_id: [u8; 16],
    /// The sending device.
    pub device_id: [u8; 16],
    /// The HPKE key the body is sealed to.
    pub key_id: u32,
    /// A fresh random id.
    pub request_id: [u8; 16],
    /// The server epoch the device last saw.
    pub epoch: [u8; 16],
    /// First sequence number in the batch.
    pub first: u64,
    /// Last sequence number in the batch (`first - 1` for none).
    pub last: u64,
    /// Device clock corrected by its offset to the server, ms.
    pub clock_ms: u64,
    /// Extensions, raw TLV bytes.
    pub extensions: Vec<u8>,
}

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// The request was applied.
    Ok = 0x81,
    /// An error, sealed to the requester.
    Error = 0x82,
    /// An error for a request the server could not open; its body is clear.
    UnsealedError = 0x83,
}

/// A reply header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHeader {
    /// What the reply says.
    pub kind: ReplyKind,
    /// The minor version the server answers with.
    pub minor: u8,
    /// The clinic.
    pub clinic_id: [u8; 16],
    /// The requesting device.
    pub device_id: [u8; 16],
    /// The request's id.
    pub request_id: [u8; 16],
    /// SHA-256 of the whole request.
    pub request_hash: [u8; 32],
    /// The server's epoch.
    pub epoch: [u8; 16],
    /// The server's clock, ms.
    pub server_clock_ms: u64,
    /// Extensions, raw TLV bytes.
    pub extensions: Vec<u8>,
}

fn malformed<T>(what: &'static str) -> Result<T, WireError> {
    Err(WireError::Malformed(what))
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes(b[..2].try_into().expect("2 bytes"))
}
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}
fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}
fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    b[..N].try_into().expect("length checked")
}

/// Checks extension TLVs: each `type (u16) || length (u16) || value` fits.
fn check_extensions(mut ext: &[u8]) -> Result<(), WireError> {
    while !ext.is_empty() {
        if ext.len() < 4 {
            return malformed("extension is truncated");
        }
        let len = be16(&ext[2..]) as usize;
        if ext.len() < 4 + len {
            return malformed("extension runs past the header");
        }
        ext = &ext[4 + len..];
    }
    Ok(())
}

/// The first eight bytes every envelope shares (magic, kind, major, minor,
/// header length) and its extensions: the kind (by `kind`), the header
/// length `h` (at least `fixed`) and the extension bytes, all checked.
fn envelope<K>(
    b: &[u8],
    magic: &[u8; 3],
    fixed: usize,
    kind: impl Fn(u8) -> Option<K>,
) -> Result<(K, usize, Vec<u8>), WireError> {
    if b.len() < 8 || &b[..3] != magic {
        return malformed("not a sync message of this kind");
    }
    if b[4] != MAJOR {
        return Err(WireError::Incompatible {
            found: b[4],
            supported: MAJOR,
        });
    }
    let kind = kind(b[3]).ok_or(WireError::Malformed("unknown message kind"))?;
    let h = be16(&b[6..]) as usize;
    if !(fixed..=MAX_HEADER).contains(&h) || b.len() < h {
        return malformed("header length out of range");
    }
    let extensions = b[fixed..h].to_vec();
    check_extensions(&extensions)?;
    Ok((kind, h, extensions))
}

/// The HPKE `info` for a device's requests.
pub fn hpke_info(clinic_id: &[u8; 16], device_id: &[u8; 16]) -> Vec<u8> {
    [INFO_LABEL, clinic_id, device_id].concat()
}

/// The device id of an Ed25519 public key: the first 16 bytes of its SHA-256.
pub fn device_id(public_key: &[u8]) -> [u8; 16] {
    arr(digest::digest(&digest::SHA256, public_key).as_ref())
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    arr(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn verify(public_key: &[u8; 32], label: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), WireError> {
    let mut signed = Vec::with_capacity(label.len() + msg.len());
    signed.extend_from_slice(label);
    signed.extend_from_slice(msg);
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(&signed, sig)
        .map_err(|_| WireError::BadSignature)
}

fn sign(key: &signature::Ed25519KeyPair, label: &[u8], msg: &[u8]) -> [u8; SIG_LEN] {
    let mut signed = Vec::with_capacity(label.len() + msg.len());
    signed.extend_from_slice(label);
    signed.extend_from_slice(msg);
    arr(key.sign(&signed).as_ref())
}

impl RequestHeader {
    /// The header's bytes (the AEAD's associated data).
    pub fn encode(&self) -> Vec<u8> {
        let h = REQUEST_HEADER + self.extensions.len();
        let mut b = Vec::with_capacity(h + 100);
        b.extend_from_slice(b"CSY");
        b.push(self.kind as u8);
        b.push(MAJOR);
        b.push(self.minor);
        b.extend_from_slice(&(h as u16).to_be_bytes());
        b.extend_from_slice(&self.clinic_id);
        b.extend_from_slice(&self.device_id);
        b.extend_from_slice(&self.key_id.to_be_bytes());
        b.extend_from_slice(&self.request_id);
        b.extend_from_slice(&self.epoch);
        b.extend_from_slice(&self.first.to_be_bytes());
        b.extend_from_slice(&self.last.to_be_bytes());
        b.extend_from_slice(&self.clock_ms.to_be_bytes());
        b.extend_from_slice(&self.extensions);
        b
    }

    fn decode(b: &[u8]) -> Result<(RequestHeader, usize), WireError> {
        let (kind, h, extensions) = envelope(b, b"CSY", REQUEST_HEADER, |k| match k {
            1 => Some(RequestKind::Enroll),
            2 => Some(RequestKind::Push),
            3 => Some(RequestKind::Withdraw),
            _ => None,
        })?;
        let header = RequestHeader {
            kind,
            minor: b[5],
            clinic_id: arr(&b[8..]),
            device_id: arr(&b[24..]),
            key_id: be32(&b[40..]),
            request_id: arr(&b[44..]),
            epoch: arr(&b[60..]),
            first: be64(&b[76..]),
            last: be64(&b[84..]),
            clock_ms: be64(&b[92..]),
            extensions,
        };
        if header.first == 0 || header.last < header.first - 1 {
            return malformed("sequence range is inverted");
        }
        Ok((header, h))
    }
}

/// A parsed request, not yet verified or opened.
pub struct Request<'a> {
    /// The header's fields.
    pub header: RequestHeader,
    /// The header's bytes.
    pub header_bytes: &'a [u8],
    /// The HPKE encapsulated key.
    pub enc: [u8; 32],
    /// The sealed body.
    pub ciphertext: &'a [u8],
    signed: &'a [u8],
    signature: &'a [u8],
}

impl<'a> Request<'a> {
    /// Splits a request into its parts, checking every length; nothing is
    /// verified or opened yet.
    pub fn parse(b: &'a [u8]) -> Result<Request<'a>, WireError> {
        let (header, h) = RequestHeader::decode(b)?;
        if b.len() < h + 36 {
            return malformed("request is truncated");
        }
        let c = be32(&b[h + 32..]) as usize;
        if c < super::hpke::TAG_LEN {
            return malformed("ciphertext is shorter than its tag");
        }
        let end = h
            .checked_add(36)
            .and_then(|x| x.checked_add(c))
            .filter(|&e| e.checked_add(SIG_LEN) == Some(b.len()))
            .ok_or(WireError::Malformed(
                "request length does not match its parts",
            ))?;
        Ok(Request {
            header,
            header_bytes: &b[..h],
            enc: arr(&b[h..]),
            ciphertext: &b[h + 36..end],
            signed: &b[..end],
            signature: &b[end..],
        })
    }

    /// Checks the device's signature.
    pub fn verify(&self, device_key: &[u8; 32]) -> Result<(), WireError> {
        verify(device_key, REQUEST_LABEL, self.signed, self.signature)
    }

    /// Opens the body with the receiver's HPKE context (made from this
    /// request's `enc`) and removes the framing.
    pub fn open(&self, ctx: &Context) -> Result<Vec<u8>, WireError> {
        frame::unframe(&ctx.open(0, self.header_bytes, self.ciphertext)?)
    }
}

/// What a device keeps to read the reply to one request: the request's
/// hash and exporter output, never the request's key.
pub struct ReplyKey {
    /// The request's id.
    pub request_id: [u8; 16],
    /// SHA-256 of the request.
    pub request_hash: [u8; 32],
    secret: Zeroizing<[u8; 16]>,
    enc: [u8; 32],
}

impl ReplyKey {
    /// The reply key of a request sealed with `ctx`.
    pub fn new(ctx: &Context, request_id: [u8; 16], request: &[u8]) -> ReplyKey {
        let mut secret = Zeroizing::new([0u8; 16]);
        ctx.export(REPLY_LABEL, &mut *secret);
        ReplyKey {
            request_id,
            request_hash: sha256(request),
            secret,
            enc: ctx.enc,
        }
    }

    /// The reply key from an exported secret (`Export("cairn sync reply
    /// v1", 16)` of the request's context), for a receiver whose HPKE
    /// implementation is not [`Context`].
    pub fn from_secret(
        secret: [u8; 16],
        enc: [u8; 32],
        request_id: [u8; 16],
        request: &[u8],
    ) -> ReplyKey {
        ReplyKey {
            request_id,
            request_hash: sha256(request),
            secret: Zeroizing::new(secret),
            enc,
        }
    }

    /// The label of the reply secret exported from a request's context.
    pub const EXPORT_LABEL: &'static [u8] = REPLY_LABEL;

    fn aead(&self, nonce: &[u8; 16]) -> (ring::aead::LessSafeKey, ring::aead::Nonce) {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let salt = [&self.enc[..], &nonce[..]].concat();
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&*self.secret);
        let mut key = Zeroizing::new([0u8; 16]);
        let mut n = [0u8; 12];
        prk.expand(&[b"key"], Len(16))
            .and_then(|o| o.fill(&mut *key))
            .expect("16 bytes");
        prk.expand(&[b"nonce"], Len(12))
            .and_then(|o| o.fill(&mut n))
            .expect("12 bytes");
        let key = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &*key).expect("16-byte key"),
        );
        (key, ring::aead::Nonce::assume_unique_for_key(n))
    }
}

/// Seals and signs a request: frames `body`, seals it to `hpke_key` with the
/// header as associated data, signs with the device key. Returns the bytes
/// to send and the key that reads the reply.
pub fn seal_request(
    header: &RequestHeader,
    body: &[u8],
    hpke_key: &[u8; 32],
    device: &signature::Ed25519KeyPair,
    force_lz4: bool,
) -> Result<(Vec<u8>, ReplyKey), WireError> {
    let ctx = Context::sender(hpke_key, &hpke_info(&header.clinic_id, &header.device_id))?;
    Ok(seal_request_with(header, body, &ctx, device, force_lz4))
}

/// [`seal_request`] with a given HPKE context (fixed test vectors).
pub fn seal_request_with(
    header: &RequestHeader,
    body: &[u8],
    ctx: &Context,
    device: &signature::Ed25519KeyPair,
    force_lz4: bool,
) -> (Vec<u8>, ReplyKey) {
    // One buffer, written once: ring's Ed25519 signs a single slice, so the
    // request is built behind its signature label (`label || request` is
    // what is signed), the body compressed into its place and sealed
    // there; the label is dropped at the end (one move, no new buffer).
    let head = header.encode();
    let (label, h) = (REQUEST_LABEL.len(), head.len());
    let plain = label + h + 36;
    let max = frame::max_framed(body.len());
    // Zeroed by the allocator (`vec![0; n]`), not byte by byte.
    let mut b = vec![0u8; plain + max + super::hpke::TAG_LEN + SIG_LEN];
    b[..label].copy_from_slice(REQUEST_LABEL);
    b[label..label + h].copy_from_slice(&head);
    b[label + h..plain - 4].copy_from_slice(&ctx.enc);
    let framed = frame::frame_into(&mut b[plain..plain + max], body, force_lz4);
    let end = plain + framed;
    let tag = ctx.seal_in_place(0, &head, &mut b[plain..end]);
    let ct_len = framed + tag.len();
    b[end..plain + ct_len].copy_from_slice(&tag);
    b[plain - 4..plain].copy_from_slice(&(ct_len as u32).to_be_bytes());
    let signed = plain + ct_len;
    let sig = device.sign(&b[..signed]);
    b[signed..signed + SIG_LEN].copy_from_slice(sig.as_ref());
    b.truncate(signed + SIG_LEN);
    b.drain(..label);
    let key = ReplyKey::new(ctx, header.request_id, &b);
    (b, key)
}

impl ReplyHeader {
    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let h = REPLY_HEADER + self.extensions.len();
        let mut b = Vec::with_capacity(h + 100);
        b.extend_from_slice(b"CSR");
        b.push(self.kind as u8);
        b.push(MAJOR);
        b.push(self.minor);
        b.extend_from_slice(&(h as u16).to_be_bytes());
        b.extend_from_slice(&self.clinic_id);
        b.extend_from_slice(&self.device_id);
        b.extend_from_slice(&self.request_id);
        b.extend_from_slice(&self.request_hash);
        b.extend_from_slice(&self.epoch);
        b.extend_from_slice(&self.server_clock_ms.to_be_bytes());
        b.extend_from_slice(&self.extensions);
        b
    }

    fn decode(b: &[u8]) -> Result<(ReplyHeader, usize), WireError> {
        let (kind, h, extensions) = envelope(b, b"CSR", REPLY_HEADER, |k| match k {
            0x81 => Some(ReplyKind::Ok),
            0x82 => Some(ReplyKind::Error),
            0x83 => Some(ReplyKind::UnsealedError),
            _ => None,
        })?;
        Ok((
            ReplyHeader {
                kind,
                minor: b[5],
                clinic_id: arr(&b[8..]),
                device_id: arr(&b[24..]),
                request_id: arr(&b[40..]),
                request_hash: arr(&b[56..]),
                epoch: arr(&b[88..]),
                server_clock_ms: be64(&b[104..]),
                extensions,
            },
            h,
        ))
    }
}

/// A parsed reply, not yet verified or opened.
pub struct Reply<'a> {
    /// The header's fields.
    pub header: ReplyHeader,
    header_bytes: &'a [u8],
    nonce: Option<[u8; 16]>,
    payload: &'a [u8],
    signed: &'a [u8],
    signature: &'a [u8],
}

impl<'a> Reply<'a> {
    /// Splits a reply into its parts, checking every length.
    pub fn parse(b: &'a [u8]) -> Result<Reply<'a>, WireError> {
        let (header, h) = ReplyHeader::decode(b)?;
        let sealed = header.kind != ReplyKind::UnsealedError;
        let pre = if sealed { 20 } else { 4 };
        if b.len() < h + pre {
            return malformed("reply is truncated");
        }
        let len = be32(&b[h + pre - 4..]) as usize;
        if sealed && len < super::hpke::TAG_LEN {
            return malformed("ciphertext is shorter than its tag");
        }
        let end = (h + pre)
            .checked_add(len)
            .filter(|&e| e.checked_add(SIG_LEN) == Some(b.len()))
            .ok_or(WireError::Malformed(
                "reply length does not match its parts",
            ))?;
        Ok(Reply {
            header,
            header_bytes: &b[..h],
            nonce: sealed.then(|| arr(&b[h..])),
            payload: &b[h + pre..end],
            signed: &b[..end],
            signature: &b[end..],
        })
    }

    /// Checks the clinic's signature, that the reply answers the request
    /// `key` was made for, then opens its body (an unsealed error's body is
    /// returned as is).
    pub fn open(
        &self,
        root_key: &[u8; 32],
        clinic_id: &[u8; 16],
        device_id: &[u8; 16],
        key: &ReplyKey,
    ) -> Result<Vec<u8>, WireError> {
        verify(root_key, REPLY_LABEL, self.signed, self.signature)?;
        let h = &self.header;
        if h.clinic_id != *clinic_id
            || h.device_id != *device_id
            || h.request_id != key.request_id
            || h.request_hash != key.request_hash
        {
            return Err(WireError::WrongRequest);
        }
        match self.nonce {
            None => Ok(self.payload.to_vec()),
            Some(nonce) => {
                let (aead, n) = key.aead(&nonce);
                let mut buf = self.payload.to_vec();
                let len = aead
                    .open_in_place(n, ring::aead::Aad::from(self.header_bytes), &mut buf)
                    .map_err(|_| WireError::Unreadable)?
                    .len();
                buf.truncate(len);
                frame::unframe(&buf)
            }
        }
    }
}

/// Seals and signs a reply (server side): `key` is the [`ReplyKey`] of the
/// request (made from the receiver's context), `nonce` 16 random bytes.
pub fn seal_reply(
    header: &ReplyHeader,
    body: &[u8],
    key: &ReplyKey,
    nonce: &[u8; 16],
    root: &signature::Ed25519KeyPair,
) -> Vec<u8> {
    let mut b = header.encode();
    let mut ct = frame::frame(body, false);
    let (aead, n) = key.aead(nonce);
    aead.seal_in_place_append_tag(n, ring::aead::Aad::from(&b[..]), &mut ct)
        .expect("a reply under 64 GiB seals");
    b.extend_from_slice(nonce);
    b.extend_from_slice(&(ct.len() as u32).to_be_bytes());
    b.extend_from_slice(&ct);
    let sig = sign(root, REPLY_LABEL, &b);
    b.extend_from_slice(&sig);
    b
}

/// Signs an unsealed error reply (server side, for a request it could not
/// open): `body` is the error body, in the clear.
pub fn unsealed_reply(
    header: &ReplyHeader,
    body: &[u8],
    root: &signature::Ed25519KeyPair,
) -> Vec<u8> {
    let mut b = header.encode();
    b.extend_from_slice(&(body.len() as u32).to_be_bytes());
    b.extend_from_slice(body);
    let sig = sign(root, REPLY_LABEL, &b);
    b.extend_from_slice(&sig);
    b
}

/// A receipt's signed bytes (docs/sync-protocol.md §7).
#[allow(clippy::too_many_arguments)]
fn receipt_bytes(
    clinic_id: &[u8; 16],
    device_id: &[u8; 16],
    epoch: &[u8; 16],
    last_applied: u64,
    server_clock_ms: u64,
    request_hash: &[u8; 32],
) -> Vec<u8> {
    [
        &clinic_id[..],
        device_id,
        epoch,
        &last_applied.to_be_bytes(),
        &server_clock_ms.to_be_bytes(),
        request_hash,
    ]
    .concat()
}

/// Signs a receipt for `last_applied` (server side).
pub fn sign_receipt(
    root: &signature::Ed25519KeyPair,
    header: &ReplyHeader,
    last_applied: u64,
) -> [u8; SIG_LEN] {
    let msg = receipt_bytes(
        &header.clinic_id,
        &header.device_id,
        &header.epoch,
        last_applied,
        header.server_clock_ms,
        &header.request_hash,
    );
    sign(root, RECEIPT_LABEL, &msg)
}

/// Checks a receipt (device side).
pub fn verify_receipt(
    root_key: &[u8; 32],
    header: &ReplyHeader,
    last_applied: u64,
    sig: &[u8],
) -> Result<(), WireError> {
    let msg = receipt_bytes(
        &header.clinic_id,
        &header.device_id,
        &header.epoch,
        last_applied,
        header.server_clock_ms,
        &header.request_hash,
    );
    verify(root_key, RECEIPT_LABEL, &msg, sig)
}

/// An HPKE key certificate's signed bytes (docs/sync-protocol.md §2).
pub fn certificate_bytes(
    clinic_id: &[u8; 16],
    key_id: u32,
    public: &[u8; 32],
    not_before_ms: u64,
    not_after_ms: u64,
) -> Vec<u8> {
    [
        &clinic_id[..],
        &key_id.to_be_bytes(),
        public,
        &not_before_ms.to_be_bytes(),
        &not_after_ms.to_be_bytes(),
    ]
    .concat()
}

const CERT_LABEL: &[u8] = b"cairn hpke key v1";

/// Signs an HPKE key certificate (server side).
pub fn sign_certificate(root: &signature::Ed25519KeyPair, bytes: &[u8]) -> [u8; SIG_LEN] {
    sign(root, CERT_LABEL, bytes)
}

/// Checks an HPKE key certificate (device side).
pub fn verify_certificate(root_key: &[u8; 32], bytes: &[u8], sig: &[u8]) -> Result<(), WireError> {
    verify(root_key, CERT_LABEL, bytes, sig)
}

/// An Ed25519 key pair's public key as an array.
pub fn public_key(key: &signature::Ed25519KeyPair) -> [u8; 32] {
    arr(key.public_key().as_ref())
}
