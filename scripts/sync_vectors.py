#!/usr/bin/env python3
"""Computes the test vectors and golden files of the sync protocol (docs/sync-protocol.md)
independently of the Rust code, from that page alone.

Primitives come from Python's `cryptography` package (X25519, Ed25519, HMAC-SHA256,
SHA-256, AES-128-GCM) and from the `lz4` package (LZ4 block); HPKE (RFC 9180, base
mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM) is written out here on top
of them, and checked first against RFC 9180 Appendix A.1.1.

Writes core/tests/golden/sync/{code,enroll_request,push_request,ok_reply,error_reply,
unsealed_error_reply}.{bin,hex,json}, code.txt and keys.json, and prints every message in
hex. Everything is deterministic (fixed keys, fixed ephemeral keys, fixed nonces, Ed25519),
so running it twice writes the same files.

Usage: python3 scripts/sync_vectors.py [--markdown]   (needs: pip install cryptography lz4)
--markdown also prints §9 of docs/sync-protocol.md.
"""
import base64
import json
import struct
import sys
from pathlib import Path

import lz4.block
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "core" / "tests" / "golden" / "sync"


# ---------------------------------------------------------------------------------------------
# Primitives

def sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    # RFC 5869: an empty salt is HashLen zero bytes, which HMAC pads to the same block.
    return hmac_sha256(salt, ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    assert length <= 255 * 32
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac_sha256(prk, t + info + bytes([i]))
        out += t
        i += 1
    return out[:length]


def x25519_public(sk: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def x25519(sk: bytes, pk: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))


def ed25519_public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


def ed25519_verify(pk: bytes, sig: bytes, msg: bytes) -> None:
    Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)  # raises InvalidSignature


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


# ---------------------------------------------------------------------------------------------
# HPKE, RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256) 0x0020, HKDF-SHA256 0x0001,
# AES-128-GCM 0x0001

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0001
SUITE_KEM = b"KEM" + u16(KEM_ID)
SUITE_HPKE = b"HPKE" + u16(KEM_ID) + u16(KDF_ID) + u16(AEAD_ID)
NK, NN, NH = 16, 12, 32
MODE_BASE = 0


def labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hkdf_extract(salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return hkdf_expand(prk, u16(length) + b"HPKE-v1" + suite + label + info, length)


def extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = labeled_extract(SUITE_KEM, b"", b"eae_prk", dh)
    return labeled_expand(SUITE_KEM, eae_prk, b"shared_secret", kem_context, 32)


def encap(pk_r: bytes, sk_e: bytes) -> tuple[bytes, bytes]:
    """DHKEM Encap with a fixed ephemeral private key (raw X25519 scalar bytes)."""
    enc = x25519_public(sk_e)
    dh = x25519(sk_e, pk_r)
    return extract_and_expand(dh, enc + pk_r), enc


def decap(enc: bytes, sk_r: bytes) -> bytes:
    dh = x25519(sk_r, enc)
    return extract_and_expand(dh, enc + x25519_public(sk_r))


class Context:
    def __init__(self, shared_secret: bytes, info: bytes):
        psk, psk_id = b"", b""
        psk_id_hash = labeled_extract(SUITE_HPKE, b"", b"psk_id_hash", psk_id)
        info_hash = labeled_extract(SUITE_HPKE, b"", b"info_hash", info)
        ks_context = bytes([MODE_BASE]) + psk_id_hash + info_hash
        secret = labeled_extract(SUITE_HPKE, shared_secret, b"secret", psk)
        self.shared_secret = shared_secret
        self.key_schedule_context = ks_context
        self.secret = secret
        self.key = labeled_expand(SUITE_HPKE, secret, b"key", ks_context, NK)
        self.base_nonce = labeled_expand(SUITE_HPKE, secret, b"base_nonce", ks_context, NN)
        self.exporter_secret = labeled_expand(SUITE_HPKE, secret, b"exp", ks_context, NH)
        self.seq = 0

    def _nonce(self) -> bytes:
        seq = self.seq.to_bytes(NN, "big")
        return bytes(a ^ b for a, b in zip(self.base_nonce, seq))

    def seal(self, aad: bytes, pt: bytes) -> bytes:
        ct = AESGCM(self.key).encrypt(self._nonce(), pt, aad)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ct: bytes) -> bytes:
        pt = AESGCM(self.key).decrypt(self._nonce(), ct, aad)
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        return labeled_expand(SUITE_HPKE, self.exporter_secret, b"sec", exporter_context, length)


def setup_base_s(pk_r: bytes, info: bytes, sk_e: bytes) -> tuple[bytes, Context]:
    shared_secret, enc = encap(pk_r, sk_e)
    return enc, Context(shared_secret, info)


def setup_base_r(enc: bytes, sk_r: bytes, info: bytes) -> Context:
    return Context(decap(enc, sk_r), info)


def check_rfc9180() -> None:
    """RFC 9180 Appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, Base."""
    h = bytes.fromhex
    info = h("4f6465206f6e2061204772656369616e2055726e")
    sk_em = h("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
    pk_em = h("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
    pk_rm = h("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
    sk_rm = h("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
    expected = {
        "enc": pk_em,
        "shared_secret": h("fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc"),
        "key_schedule_context": h(
            "00725611c9d98c07c03f60095cd32d400d8347d45ed67097bbad50fc56da742d07"
            "cb6cffde367bb0565ba28bb02c90744a20f5ef37f30523526106f637abb05449"),
        "secret": h("12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397"),
        "key": h("4531685d41d65f03dc48f6b8302c05b0"),
        "base_nonce": h("56d890e5accaaf011cff4b7d"),
        "exporter_secret": h("45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8"),
    }
    pt = h("4265617574792069732074727574682c20747275746820626561757479")
    aad0 = h("436f756e742d30")
    ct0 = h("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a")
    exports = [
        (b"", h("3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee")),
        (h("00"), h("2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5")),
        (b"TestContext", h("e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931")),
    ]

    failures = []

    def check(name: bytes | str, got: bytes, want: bytes) -> None:
        if got != want:
            failures.append(f"{name}: got {got.hex()}, want {want.hex()}")

    check("pkEm = X25519(skEm)", x25519_public(sk_em), pk_em)
    check("pkRm = X25519(skRm)", x25519_public(sk_rm), pk_rm)
    enc, ctx = setup_base_s(pk_rm, info, sk_em)
    check("enc", enc, expected["enc"])
    for name in ("shared_secret", "key_schedule_context", "secret", "key", "base_nonce",
                 "exporter_secret"):
        check(name, getattr(ctx, name), expected[name])
    check("seq 0 ciphertext", ctx.seal(aad0, pt), ct0)
    for context, value in exports:
        check(f"export({context.hex() or 'empty'}, 32)", ctx.export(context, 32), value)
    rctx = setup_base_r(enc, sk_rm, info)
    check("receiver shared_secret", rctx.shared_secret, expected["shared_secret"])
    check("receiver open seq 0", rctx.open(aad0, ct0), pt)
    if failures:
        print("RFC 9180 A.1.1 check FAILED:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)
    print("RFC 9180 A.1.1 (base, X25519, HKDF-SHA256, AES-128-GCM): shared_secret, key_schedule_context, "
          "secret, key, base_nonce, exporter_secret, seq-0 ciphertext, 3 exports: all match")


# ---------------------------------------------------------------------------------------------
# §4 body encoding

def varint(n: int) -> bytes:
    assert 0 <= n < 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n, shift, start = 0, 0, pos
    while True:
        if pos >= len(buf) or pos - start >= 10:
            raise ValueError("bad varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    if pos - start > 1 and buf[pos - 1] == 0:
        raise ValueError("non-minimal varint")
    if n >= 1 << 64:
        raise ValueError("varint out of range")
    return n, pos


def zigzag(n: int) -> int:
    assert -(1 << 63) <= n < 1 << 63
    return ((n << 1) ^ (n >> 63)) & ((1 << 64) - 1)


def unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


# A schema maps a key to (name, type, repeated, sub-schema, always). `always` marks the fields
# of the entry value, which are written even when they hold zero or false.
def F(name, typ, repeated=False, sub=None, always=False):
    return (name, typ, repeated, sub, always)


VV = {1: F("device_id", "id16"), 2: F("seq", "uint")}
TAG = {1: F("group", "uint"), 2: F("label", "string")}
SLEEP = {1: F("minutes", "uint"), 2: F("quality", "uint")}
MEDICATION = {1: F("name", "string"), 2: F("taken", "bool")}
VALUE = {
    1: F("scale", "f64", always=True), 2: F("yes_no", "bool", always=True),
    3: F("duration_minutes", "uint", always=True), 4: F("count", "uint", always=True),
    5: F("text", "string", always=True), 6: F("sleep", "message", sub=SLEEP, always=True),
    7: F("medication", "message", sub=MEDICATION, always=True),
}
ENTRY = {
    1: F("tracker", "string"), 2: F("value", "message", sub=VALUE), 3: F("note", "string"),
    4: F("tags", "message", True, TAG), 5: F("at", "sint"), 6: F("zone", "string"),
    7: F("offset", "sint"), 8: F("created", "sint"), 9: F("updated", "sint"),
    10: F("withheld", "uint", True),
}
BODY_BY_KIND = {1: ENTRY}
CHANGE = {
    1: F("change_id", "id16"), 2: F("seq", "uint"), 3: F("hlc", "uint"), 4: F("record_kind", "uint"),
    5: F("record_id", "id16"), 6: F("record_text_id", "string"), 7: F("op", "uint"),
    8: F("vv", "message", True, VV), 9: F("body", "message", sub="by kind"),
    10: F("category", "uint"), 11: F("author", "id16"),
}
CERT = {1: F("key_id", "uint"), 2: F("public_key", "bytes"), 3: F("not_before", "uint"),
        4: F("not_after", "uint"), 5: F("signature", "bytes")}
ENROLL = {1: F("device_public_key", "bytes"), 2: F("enrollment_id", "id16"), 3: F("proof", "bytes"),
          4: F("categories", "uint", True)}
PUSH = {1: F("changes", "message", True, CHANGE), 2: F("cursor", "bytes")}
REJECTED = {1: F("seq", "uint"), 2: F("change_id", "id16"), 3: F("reason_code", "uint"),
            4: F("reason", "string")}
RESTAMPED = {1: F("change_id", "id16"), 2: F("hlc", "uint")}
OK = {1: F("last_applied", "uint"), 2: F("receipt", "bytes"), 3: F("rejected", "message", True, REJECTED),
      4: F("restamped", "message", True, RESTAMPED), 5: F("changes", "message", True, CHANGE),
      6: F("cursor", "bytes"), 7: F("more", "bool"), 8: F("certificates", "message", True, CERT),
      9: F("patient_id", "id16")}
ERROR = {1: F("code", "uint"), 2: F("last_applied", "uint"), 3: F("retry_after", "uint"),
         4: F("certificates", "message", True, CERT)}


def is_default(typ: str, v) -> bool:
    if v is None:
        return True
    if typ in ("uint", "sint"):
        return v == 0
    if typ == "bool":
        return v is False
    if typ == "f64":
        return v == 0.0 and struct.pack("<d", v) == bytes(8)
    if typ in ("bytes", "string"):
        return len(v) == 0
    if typ == "message":
        return False  # a present message is written, even if empty
    return False


def encode_value(typ: str, v, sub, parent: dict) -> bytes:
    if typ == "uint":
        return varint(v)
    if typ == "sint":
        return varint(zigzag(v))
    if typ == "bool":
        return varint(1 if v else 0)
    if typ == "f64":
        return struct.pack("<d", v)
    if typ == "id16":
        assert len(v) == 16
        return v
    if typ == "bytes":
        return bytes(v)
    if typ == "string":
        return v.encode("utf-8")
    if typ == "message":
        if sub == "by kind":
            sub = BODY_BY_KIND[parent["record_kind"]]
        return encode(sub, v)
    raise AssertionError(typ)


def encode(schema: dict, obj: dict) -> bytes:
    """Fields in ascending key order, repeated fields in list order, defaults omitted."""
    names = {f[0] for f in schema.values()}
    unknown = set(obj) - names
    assert not unknown, unknown
    out = bytearray()
    for key in sorted(schema):
        name, typ, repeated, sub, always = schema[key]
        v = obj.get(name)
        values = (v or []) if repeated else [v]
        for item in values:
            if item is None or (not always and not repeated and is_default(typ, item)):
                continue
            value = encode_value(typ, item, sub, obj)
            out += varint(key) + varint(len(value)) + value
    return bytes(out)


def decode(schema: dict, buf: bytes) -> dict:
    """A strict reader: known keys with the right sizes, no repeated non-repeated key."""
    obj: dict = {}
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        length, pos = read_varint(buf, pos)
        if key == 0 or pos + length > len(buf):
            raise ValueError("malformed field")
        value = buf[pos:pos + length]
        pos += length
        if key not in schema:
            obj.setdefault("unknown", []).append({"key": key, "value": value})
            continue
        name, typ, repeated, sub, _ = schema[key]
        if typ in ("uint", "sint", "bool"):
            n, end = read_varint(value, 0)
            if end != len(value):
                raise ValueError("uint does not fill its value")
            v = n if typ == "uint" else unzigzag(n) if typ == "sint" else n
            if typ == "bool":
                if n > 1:
                    raise ValueError("bool out of range")
                v = n == 1
        elif typ == "f64":
            if length != 8:
                raise ValueError("f64 size")
            v = struct.unpack("<d", value)[0]
        elif typ == "id16":
            if length != 16:
                raise ValueError("id16 size")
            v = value
        elif typ == "bytes":
            v = value
        elif typ == "string":
            v = value.decode("utf-8")
        elif typ == "message":
            if sub == "by kind":
                kind = obj.get("record_kind")  # key 4 precedes key 9 in canonical order
                v = decode(BODY_BY_KIND[kind], value) if kind in BODY_BY_KIND else value
            else:
                v = decode(sub, value)
        else:
            raise AssertionError(typ)
        if repeated:
            obj.setdefault(name, []).append(v)
        else:
            if name in obj:
                raise ValueError(f"key {key} twice")
            obj[name] = v
    return obj


def to_json(v):
    """bytes -> lowercase hex, recursively."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def fields_listing(schema: dict, buf: bytes) -> list:
    """The body as the list of its top-level fields: key, length, value hex (for the json)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        length, pos = read_varint(buf, pos)
        out.append({"key": key, "name": schema[key][0] if key in schema else None,
                    "length": length, "value": buf[pos:pos + length].hex()})
        pos += length
    return out


# ---------------------------------------------------------------------------------------------
# §5 framing

MAX_RAW = 4 * 1024 * 1024


def frame(body: bytes, compression: int) -> tuple[bytes, bytes]:
    assert len(body) <= MAX_RAW
    if compression == 0:
        stored = body
    elif compression == 1:
        stored = lz4.block.compress(body, store_size=False)
    else:
        raise AssertionError(compression)
    framed = bytes([compression]) + u32(len(body)) + u32(len(stored)) + stored
    framed += bytes(-len(framed) % 256)
    return framed, stored


def unframe(framed: bytes) -> tuple[int, bytes]:
    if len(framed) % 256 or len(framed) < 9:
        raise ValueError("framed length")
    compression = framed[0]
    raw_len, stored_len = struct.unpack(">II", framed[1:9])
    if raw_len > MAX_RAW or 9 + stored_len > len(framed):
        raise ValueError("frame lengths")
    stored = framed[9:9 + stored_len]
    if any(framed[9 + stored_len:]):
        raise ValueError("non-zero padding")
    if compression == 0:
        if stored_len != raw_len:
            raise ValueError("stored length")
        return compression, stored
    if compression == 1:
        body = lz4.block.decompress(stored, uncompressed_size=raw_len)
        if len(body) != raw_len:
            raise ValueError("raw length")
        return compression, body
    raise ValueError("compression")


# ---------------------------------------------------------------------------------------------
# Fixed inputs

ROOT_SEED = bytes(range(0x00, 0x20))
HPKE_SK = bytes(range(0x20, 0x40))
HPKE_KEY_ID = 0x01020304
DEVICE_SEED = bytes(range(0x40, 0x60))
CLINIC_ID = bytes(range(0xC0, 0xD0))
ENROLLMENT_ID = bytes(range(0xD0, 0xE0))
SECRET = bytes(range(0xE0, 0xF0))
EXPIRY_MINUTES = 29_500_000
URL = "https://clinic.example"
CERT_NOT_BEFORE = 1767225600000
CERT_NOT_AFTER = 1798761600000

ROOT_PK = ed25519_public(ROOT_SEED)
HPKE_PK = x25519_public(HPKE_SK)
DEVICE_PK = ed25519_public(DEVICE_SEED)
DEVICE_ID = sha256(DEVICE_PK)[:16]

PROTOCOL_MAJOR, PROTOCOL_MINOR = 1, 0


# ---------------------------------------------------------------------------------------------
# §2 certificate, §3 enrollment code

def certificate() -> tuple[dict, dict]:
    cert_bytes = u32(HPKE_KEY_ID) + HPKE_PK + u64(CERT_NOT_BEFORE) + u64(CERT_NOT_AFTER)
    signed = b"cairn hpke key v1" + CLINIC_ID + cert_bytes
    sig = ed25519_sign(ROOT_SEED, signed)
    ed25519_verify(ROOT_PK, sig, signed)
    fields = {"key_id": HPKE_KEY_ID, "public_key": HPKE_PK, "not_before": CERT_NOT_BEFORE,
              "not_after": CERT_NOT_AFTER, "signature": sig}
    info = {"cert_bytes": cert_bytes.hex(), "signed_bytes": signed.hex(), "signature": sig.hex(),
            "message": encode(CERT, fields).hex()}
    return fields, info


CERT_FIELDS, CERT_INFO = certificate()


def enrollment_code() -> tuple[bytes, str, dict]:
    url = URL.encode("ascii")
    assert 1 <= len(url) <= 200
    head = (bytes([1]) + CLINIC_ID + ENROLLMENT_ID + SECRET + u32(EXPIRY_MINUTES) + ROOT_PK
            + u32(HPKE_KEY_ID) + HPKE_PK + bytes([len(url)]) + url)
    assert len(head) == 122 + len(url)
    checksum = sha256(head)[:4]
    code = head + checksum
    text = "CAIRN1" + base64.b32encode(code).decode("ascii").rstrip("=")
    # read it back
    assert text.startswith("CAIRN1")
    b32 = text[6:].upper()
    back = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    assert back == code and sha256(back[:-4])[:4] == back[-4:]
    info = {
        "text": text,
        "hex": code.hex(),
        "length": len(code),
        "fields": {
            "version": 1, "clinic_id": CLINIC_ID.hex(), "enrollment_id": ENROLLMENT_ID.hex(),
            "one_time_secret": SECRET.hex(), "expiry_minutes": EXPIRY_MINUTES,
            "root_public_key": ROOT_PK.hex(), "hpke_key_id": HPKE_KEY_ID,
            "hpke_public_key": HPKE_PK.hex(), "url_length": len(url), "url": URL,
            "checksum": checksum.hex(),
        },
        "checksummed_bytes": "bytes 0 .. 122+n (the code without its last 4 bytes)",
        "server_stores_sha256_secret": sha256(SECRET).hex(),
    }
    return code, text, info


# ---------------------------------------------------------------------------------------------
# §6 requests

REQUEST_MAGIC = b"CSY"
REPLY_MAGIC = b"CSR"


def build_request(kind: int, request_id: bytes, epoch: bytes, first: int, last: int, clock: int,
                  eph_sk: bytes, schema: dict, body_obj: dict,
                  compression: int) -> tuple[bytes, dict, Context]:
    extensions = b""
    h = 100 + len(extensions)
    header = (REQUEST_MAGIC + bytes([kind, PROTOCOL_MAJOR, PROTOCOL_MINOR]) + u16(h) + CLINIC_ID
              + DEVICE_ID + u32(HPKE_KEY_ID) + request_id + epoch + u64(first) + u64(last)
              + u64(clock) + extensions)
    assert len(header) == h
    body = encode(schema, body_obj)
    framed, stored = frame(body, compression)
    info = b"cairn sync v1" + CLINIC_ID + DEVICE_ID
    enc, ctx = setup_base_s(HPKE_PK, info, eph_sk)
    ciphertext = ctx.seal(header, framed)
    assert ctx.seq == 1
    unsigned = header + enc + u32(len(ciphertext)) + ciphertext
    signed = b"cairn sync request v1" + unsigned
    signature = ed25519_sign(DEVICE_SEED, signed)
    message = unsigned + signature
    extra = {"compression": compression}
    if compression == 1:
        extra["compression_note"] = ("LZ4 is used here whether or not it is shorter; LZ4 block output "
                                     "is not canonical, so a reader decodes these stored bytes but "
                                     "another writer need not reproduce them byte for byte")
        extra["lz4_shorter_than_body"] = len(stored) < len(body)
    extra |= {
        "body_hex": body.hex(),
        "body_length": len(body),
        "stored_hex": stored.hex(),
        "stored_length": len(stored),
        "framed_plaintext_hex": framed.hex(),
        "framed_length": len(framed),
        "hpke": {
            "pkR": HPKE_PK.hex(),
            "ephemeral_private_key": eph_sk.hex(),
            "enc": enc.hex(),
            "info": info.hex(),
            "aad": header.hex(),
            "shared_secret": ctx.shared_secret.hex(),
            "key_schedule_context": ctx.key_schedule_context.hex(),
            "secret": ctx.secret.hex(),
            "key": ctx.key.hex(),
            "base_nonce": ctx.base_nonce.hex(),
            "exporter_secret": ctx.exporter_secret.hex(),
            "sequence_number": 0,
        },
        "signed_bytes_hex": signed.hex(),
        "sha256": sha256(message).hex(),
    }
    return message, extra, ctx


def parse_request(msg: bytes, device_pk: bytes | None) -> tuple[dict, Context]:
    if msg[:3] != REQUEST_MAGIC:
        raise ValueError("magic")
    kind, major, minor = msg[3], msg[4], msg[5]
    (h,) = struct.unpack(">H", msg[6:8])
    if not 100 <= h <= 4096 or h + 36 > len(msg):
        raise ValueError("h")
    first, last, clock = struct.unpack(">QQQ", msg[76:100])
    extensions = []
    pos = 100
    while pos < h:
        if pos + 4 > h:
            raise ValueError("extension header")
        t, n = struct.unpack(">HH", msg[pos:pos + 4])
        if pos + 4 + n > h:
            raise ValueError("extension length")
        extensions.append({"type": t, "value": msg[pos + 4:pos + 4 + n].hex()})
        pos += 4 + n
    enc = msg[h:h + 32]
    (c,) = struct.unpack(">I", msg[h + 32:h + 36])
    if c < 16 or h + 36 + c + 64 != len(msg):
        raise ValueError("ciphertext length / trailing bytes")
    ct = msg[h + 36:h + 36 + c]
    sig = msg[h + 36 + c:]
    clinic_id, device_id = msg[8:24], msg[24:40]
    (key_id,) = struct.unpack(">I", msg[40:44])
    if key_id != HPKE_KEY_ID:
        raise ValueError("unknown key")
    ctx = setup_base_r(enc, HPKE_SK, b"cairn sync v1" + clinic_id + device_id)
    compression, body = unframe(ctx.open(msg[:h], ct))
    schema = {1: ENROLL, 2: PUSH, 3: {}}[kind]
    decoded = decode(schema, body)
    if kind == 1:
        device_pk = decoded["device_public_key"]
        if sha256(device_pk)[:16] != device_id:
            raise ValueError("device id not derived from the device key")
    ed25519_verify(device_pk, sig, b"cairn sync request v1" + msg[:h + 36 + c])
    assert encode(schema, decoded) == body, "body is not canonical"
    return {
        "magic": msg[:3].decode(), "kind": kind, "kind_hex": f"{kind:02x}",
        "protocol_major": major, "protocol_minor": minor,
        "header_length": h, "clinic_id": clinic_id.hex(), "device_id": device_id.hex(),
        "hpke_key_id": key_id, "request_id": msg[44:60].hex(), "epoch": msg[60:76].hex(),
        "first": first, "last": last, "clock": clock, "extensions": extensions,
        "enc": enc.hex(), "ciphertext_length": c, "ciphertext": ct.hex(), "signature": sig.hex(),
        "compression": compression, "body": to_json(decoded),
    }, ctx


# ---------------------------------------------------------------------------------------------
# §7 replies

REPLY_EXPORT_LABEL = b"cairn sync reply v1"


def reply_header(kind: int, request: bytes, epoch: bytes, clock: int) -> bytes:
    extensions = b""
    h = 112 + len(extensions)
    header = (REPLY_MAGIC + bytes([kind, PROTOCOL_MAJOR, PROTOCOL_MINOR]) + u16(h) + CLINIC_ID
              + request[24:40] + request[44:60] + sha256(request) + epoch + u64(clock) + extensions)
    assert len(header) == h
    return header


def reply_keys(ctx: Context, enc: bytes, nonce: bytes) -> dict:
    secret = ctx.export(REPLY_EXPORT_LABEL, 16)
    prk = hkdf_extract(enc + nonce, secret)
    return {"secret": secret, "prk": prk, "key": hkdf_expand(prk, b"key", 16),
            "nonce": hkdf_expand(prk, b"nonce", 12)}


def build_sealed_reply(kind: int, request: bytes, req_ctx: Context, epoch: bytes, clock: int,
                       response_nonce: bytes, schema: dict, body_obj: dict,
                       compression: int) -> tuple[bytes, dict]:
    header = reply_header(kind, request, epoch, clock)
    h = len(header)
    enc = request[struct.unpack(">H", request[6:8])[0]:][:32]
    keys = reply_keys(req_ctx, enc, response_nonce)
    body = encode(schema, body_obj)
    framed, stored = frame(body, compression)
    ct = AESGCM(keys["key"]).encrypt(keys["nonce"], framed, header)
    unsigned = header + response_nonce + u32(len(ct)) + ct
    signed = b"cairn sync reply v1" + unsigned
    sig = ed25519_sign(ROOT_SEED, signed)
    extra = {
        "compression": compression,
        "body_hex": body.hex(), "body_length": len(body),
        "stored_hex": stored.hex(), "stored_length": len(stored),
        "framed_plaintext_hex": framed.hex(), "framed_length": len(framed),
        "sealing": {
            "request_enc": enc.hex(),
            "exporter_context": REPLY_EXPORT_LABEL.decode(),
            "secret": keys["secret"].hex(),
            "salt": (enc + response_nonce).hex(),
            "prk": keys["prk"].hex(),
            "key": keys["key"].hex(),
            "nonce": keys["nonce"].hex(),
            "aad": header.hex(),
        },
        "signed_bytes_hex": signed.hex(),
    }
    return unsigned + sig, extra


def build_unsealed_reply(kind: int, request: bytes, epoch: bytes, clock: int, schema: dict,
                         body_obj: dict) -> tuple[bytes, dict]:
    header = reply_header(kind, request, epoch, clock)
    body = encode(schema, body_obj)
    unsigned = header + u32(len(body)) + body
    signed = b"cairn sync reply v1" + unsigned
    sig = ed25519_sign(ROOT_SEED, signed)
    return unsigned + sig, {"body_hex": body.hex(), "body_length": len(body),
                            "signed_bytes_hex": signed.hex()}


def parse_reply(msg: bytes, request: bytes, req_ctx: Context) -> dict:
    if msg[:3] != REPLY_MAGIC:
        raise ValueError("magic")
    kind, major, minor = msg[3], msg[4], msg[5]
    (h,) = struct.unpack(">H", msg[6:8])
    if not 112 <= h <= 4096 or h > len(msg) - 64:
        raise ValueError("h")
    sig = msg[-64:]
    ed25519_verify(ROOT_PK, sig, b"cairn sync reply v1" + msg[:-64])
    assert msg[8:24] == CLINIC_ID and msg[24:40] == request[24:40] and msg[40:56] == request[44:60]
    assert msg[56:88] == sha256(request)
    (clock,) = struct.unpack(">Q", msg[104:112])
    assert h == 112  # no extensions in these vectors
    out = {
        "magic": msg[:3].decode(), "kind": kind, "kind_hex": f"{kind:02x}",
        "protocol_major": major, "protocol_minor": minor,
        "header_length": h, "clinic_id": msg[8:24].hex(), "device_id": msg[24:40].hex(),
        "request_id": msg[40:56].hex(), "request_hash": msg[56:88].hex(), "epoch": msg[88:104].hex(),
        "server_clock": clock, "extensions": [],
    }
    schema = {0x81: OK, 0x82: ERROR, 0x83: ERROR}[kind]
    if kind in (0x81, 0x82):
        nonce = msg[h:h + 16]
        (c,) = struct.unpack(">I", msg[h + 16:h + 20])
        if h + 20 + c + 64 != len(msg):
            raise ValueError("ciphertext length")
        ct = msg[h + 20:h + 20 + c]
        req_h = struct.unpack(">H", request[6:8])[0]
        keys = reply_keys(req_ctx, request[req_h:req_h + 32], nonce)
        compression, body = unframe(AESGCM(keys["key"]).decrypt(keys["nonce"], ct, msg[:h]))
        out.update({"response_nonce": nonce.hex(), "ciphertext_length": c, "ciphertext": ct.hex(),
                    "compression": compression})
    else:
        (b,) = struct.unpack(">I", msg[h:h + 4])
        if h + 4 + b + 64 != len(msg):
            raise ValueError("body length")
        body = msg[h + 4:h + 4 + b]
        out.update({"body_length": b})
    decoded = decode(schema, body)
    assert encode(schema, decoded) == body, "body is not canonical"
    for cert in decoded.get("certificates", []):
        cert_bytes = (u32(cert["key_id"]) + cert["public_key"] + u64(cert["not_before"])
                      + u64(cert["not_after"]))
        ed25519_verify(ROOT_PK, cert["signature"], b"cairn hpke key v1" + msg[8:24] + cert_bytes)
    out["body"] = to_json(decoded)
    out["signature"] = sig.hex()
    return out


def receipt(epoch: bytes, last_applied: int, clock: int, request: bytes) -> tuple[bytes, bytes]:
    signed = (b"cairn receipt v1" + CLINIC_ID + request[24:40] + epoch + u64(last_applied)
              + u64(clock) + sha256(request))
    return ed25519_sign(ROOT_SEED, signed), signed


# ---------------------------------------------------------------------------------------------
# The messages

def push_changes() -> list[dict]:
    at = 1767225000000
    common = {"record_kind": 1, "category": 1, "author": DEVICE_ID}
    a = dict(change_id=bytes([0x11]) * 16, seq=1, hlc=at << 16, record_id=bytes([0x22]) * 16,
             op=1, vv=[{"device_id": DEVICE_ID, "seq": 1}],
             body={"tracker": "mood", "value": {"scale": 6.5}, "note": "golden note",
                   "tags": [{"group": 1, "label": "work"}], "at": at, "zone": "Europe/Paris",
                   "offset": 3600, "created": at, "updated": at},
             **common)
    b = dict(change_id=bytes([0x12]) * 16, seq=2, hlc=(1767225060000 << 16) | 1,
             record_id=bytes([0x22]) * 16, op=1, vv=[{"device_id": DEVICE_ID, "seq": 2}],
             body={"tracker": "mood", "value": {"scale": 7.0}, "at": at, "zone": "Europe/Paris",
                   "offset": 3600, "created": at, "updated": 1767225060000, "withheld": [3]},
             **common)
    c = dict(change_id=bytes([0x13]) * 16, seq=3, hlc=1767225120000 << 16,
             record_id=bytes([0x33]) * 16, op=2, vv=[{"device_id": DEVICE_ID, "seq": 3}], **common)
    # canonical key order of the python dicts does not matter: encode() sorts by key
    return [a, b, c]


def hlc_note(changes: list[dict]) -> list[dict]:
    return [{"seq": ch["seq"], "hlc": ch["hlc"], "hlc_ms": ch["hlc"] >> 16,
             "hlc_counter": ch["hlc"] & 0xFFFF} for ch in changes]


def write(name: str, data: bytes, meta: dict, written: dict) -> None:
    (OUT / f"{name}.bin").write_bytes(data)
    (OUT / f"{name}.hex").write_text(data.hex() + "\n")
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    written[name] = data


def main() -> None:
    check_rfc9180()
    OUT.mkdir(parents=True, exist_ok=True)
    written: dict[str, bytes] = {}

    keys = {
        "clinic_root_seed": ROOT_SEED.hex(),
        "clinic_root_public_key": ROOT_PK.hex(),
        "hpke_private_key": HPKE_SK.hex(),
        "hpke_public_key": HPKE_PK.hex(),
        "hpke_key_id": HPKE_KEY_ID,
        "device_seed": DEVICE_SEED.hex(),
        "device_public_key": DEVICE_PK.hex(),
        "device_id": DEVICE_ID.hex(),
        "device_id_rule": "first 16 bytes of SHA-256(device public key)",
        "clinic_id": CLINIC_ID.hex(),
        "enrollment_id": ENROLLMENT_ID.hex(),
        "one_time_secret": SECRET.hex(),
        "hpke_certificate": {
            "key_id": HPKE_KEY_ID, "public_key": HPKE_PK.hex(), "not_before": CERT_NOT_BEFORE,
            "not_after": CERT_NOT_AFTER, **CERT_INFO,
            "message_fields": "1 key id (uint), 2 public key (bytes 32), 3 not before (uint ms), "
                              "4 not after (uint ms), 5 signature (bytes 64)",
        },
    }
    (OUT / "keys.json").write_text(json.dumps(keys, indent=2) + "\n")

    # -- enrollment code
    code, text, code_info = enrollment_code()
    (OUT / "code.txt").write_text(text + "\n")
    write("code", code, code_info, written)

    # -- enroll request
    proof_input = b"cairn enroll v1" + ENROLLMENT_ID + DEVICE_PK
    proof = hmac_sha256(SECRET, proof_input)
    enroll_body = {"device_public_key": DEVICE_PK, "enrollment_id": ENROLLMENT_ID, "proof": proof,
                   "categories": [1, 2]}
    enroll, extra, _ = build_request(1, bytes(range(0xA0, 0xB0)), bytes(16), 1, 0, 1767225600000,
                                     bytes(range(0x60, 0x80)), ENROLL, enroll_body, 0)
    decoded, _ = parse_request(enroll, None)
    assert decoded["body"] == to_json(enroll_body)
    write("enroll_request", enroll, {
        "message": "enroll request (kind 1)", "length": len(enroll), **decoded,
        "body_fields": fields_listing(ENROLL, bytes.fromhex(extra["body_hex"])),
        "enroll_proof": {"hmac_key": SECRET.hex(), "hmac_input": proof_input.hex(), "proof": proof.hex()},
        "device_public_key": DEVICE_PK.hex(), **extra,
    }, written)

    # -- push request
    changes = push_changes()
    push_body = {"changes": changes}
    push, extra, push_ctx = build_request(2, bytes(range(0xA1, 0xB1)), bytes(range(0xF0, 0x100)), 1, 3,
                                          1767225700000, bytes(range(0x80, 0xA0)), PUSH, push_body, 1)
    decoded, recv_ctx = parse_request(push, DEVICE_PK)
    assert decoded["body"] == to_json(push_body)
    assert recv_ctx.exporter_secret == push_ctx.exporter_secret
    change_bytes = [encode(CHANGE, ch).hex() for ch in changes]
    write("push_request", push, {
        "message": "push request (kind 2)", "length": len(push), **decoded,
        "body_fields": fields_listing(PUSH, bytes.fromhex(extra["body_hex"])),
        "change_messages_hex": change_bytes,
        "change_bodies_hex": [encode(ENTRY, ch["body"]).hex() if "body" in ch else None for ch in changes],
        "hlc": hlc_note(changes),
        **extra,
    }, written)

    epoch = bytes(range(0xF0, 0x100))
    server_clock = 1767225601000

    # -- ok reply
    receipt_sig, receipt_signed = receipt(epoch, 3, server_clock, push)
    ed25519_verify(ROOT_PK, receipt_sig, receipt_signed)
    ok_body = {"last_applied": 3, "receipt": receipt_sig, "cursor": b"c1", "more": False,
               "certificates": [CERT_FIELDS]}
    ok, extra = build_sealed_reply(0x81, push, push_ctx, epoch, server_clock, bytes(range(0xB0, 0xC0)),
                                   OK, ok_body, 0)
    decoded = parse_reply(ok, push, recv_ctx)
    want = to_json({k: v for k, v in ok_body.items() if k != "more"})
    assert decoded["body"] == want, (decoded["body"], want)
    write("ok_reply", ok, {
        "message": "ok reply (kind 0x81) to push_request", "length": len(ok),
        "request": "push_request", "request_sha256": sha256(push).hex(), **decoded,
        "body_fields": fields_listing(OK, bytes.fromhex(extra["body_hex"])),
        "receipt": {"signed_bytes": receipt_signed.hex(), "signature": receipt_sig.hex(),
                    "last_applied": 3, "server_clock": server_clock, "epoch": epoch.hex()},
        "more_omitted_as_default": True,
        **extra,
    }, written)

    # -- sealed error reply
    err_body = {"code": 13, "last_applied": 7}
    err, extra = build_sealed_reply(0x82, push, push_ctx, epoch, server_clock, bytes(range(0x90, 0xA0)),
                                    ERROR, err_body, 0)
    decoded = parse_reply(err, push, recv_ctx)
    assert decoded["body"] == err_body
    write("error_reply", err, {
        "message": "sealed error reply (kind 0x82) to push_request: sequence_reused", "length": len(err),
        "request": "push_request", "request_sha256": sha256(push).hex(), **decoded,
        "body_fields": fields_listing(ERROR, bytes.fromhex(extra["body_hex"])), **extra,
    }, written)

    # -- unsealed error reply
    uerr_body = {"code": 7, "certificates": [CERT_FIELDS]}
    uerr, extra = build_unsealed_reply(0x83, push, epoch, server_clock, ERROR, uerr_body)
    decoded = parse_reply(uerr, push, recv_ctx)
    assert decoded["body"] == to_json(uerr_body)
    write("unsealed_error_reply", uerr, {
        "message": "unsealed error reply (kind 0x83) to push_request: unknown_key", "length": len(uerr),
        "request": "push_request", "request_sha256": sha256(push).hex(), **decoded,
        "body_fields": fields_listing(ERROR, bytes.fromhex(extra["body_hex"])), **extra,
    }, written)

    print(f"code.txt  {text}")
    for name, data in written.items():
        print(f"{name} ({len(data)} bytes)\n{data.hex()}")
    print(f"wrote {OUT.relative_to(ROOT)}/")


def wrap(hexstr: str, width: int = 64) -> str:
    return "\n".join(hexstr[i:i + width] for i in range(0, len(hexstr), width))


def markdown() -> str:
    """§9 of docs/sync-protocol.md, from the golden files just written."""
    j = {name: json.loads((OUT / f"{name}.json").read_text())
         for name in ("keys", "code", "enroll_request", "push_request", "ok_reply", "error_reply",
                      "unsealed_error_reply")}
    k, code, enroll, push = j["keys"], j["code"], j["enroll_request"], j["push_request"]
    cert = k["hpke_certificate"]

    def block(rows: list[tuple[str, str]]) -> str:
        width = max(len(name) for name, _ in rows)
        lines = []
        for name, value in rows:
            value = str(value)
            if len(value) > 64 and all(c in "0123456789abcdef" for c in value):
                chunks = wrap(value).split("\n")
                lines.append(f"{name:<{width}}  {chunks[0]}")
                lines += [" " * (width + 2) + c for c in chunks[1:]]
            else:
                lines.append(f"{name:<{width}}  {value}")
        return "```\n" + "\n".join(lines) + "\n```\n"

    def hexblock(name: str) -> str:
        data = (OUT / f"{name}.hex").read_text().strip()
        return f"`{name}` ({len(data) // 2} bytes):\n\n```\n{wrap(data)}\n```\n"

    def framed_note(r: dict) -> str:
        stored = "LZ4 block" if r["compression"] == 1 else "body"
        pad = r["framed_length"] - 9 - r["stored_length"]
        return f"{r['framed_plaintext_hex'][:18]} || {stored} || {pad} zero bytes ({r['framed_length']} bytes)"

    def request_rows(r: dict) -> list[tuple[str, str]]:
        h = r["hpke"]
        return [("info", h["info"]), ("enc", h["enc"]), ("shared_secret", h["shared_secret"]),
                ("key", h["key"]), ("base_nonce", h["base_nonce"]),
                ("exporter_secret", h["exporter_secret"]), ("body", r["body_hex"]),
                ("framed plaintext", framed_note(r))]

    def reply_rows(r: dict) -> list[tuple[str, str]]:
        s = r["sealing"]
        return [("response nonce", r["response_nonce"]), ("secret", s["secret"]), ("prk", s["prk"]),
                ("key", s["key"]), ("nonce", s["nonce"]), ("body", r["body_hex"]),
                ("framed plaintext", framed_note(r))]

    out = []
    out.append(
        "Computed by `scripts/sync_vectors.py` (Python, independent of the Rust code), which first checks\n"
        "its HPKE against RFC 9180 Appendix A.1.1. The same messages are in `core/tests/golden/sync/`:\n"
        "`X.bin` (the bytes), `X.hex` (one line) and `X.json` (the decoded fields and every intermediate\n"
        "value) for X = `code`, `enroll_request`, `push_request`, `ok_reply`, `error_reply`,\n"
        "`unsealed_error_reply`; also `code.txt` and `keys.json`. Hex is wrapped at 32 bytes a line here.\n")
    out.append("### Fixed inputs and keys\n")
    out.append(block([
        ("clinic root seed", k["clinic_root_seed"]), ("clinic root public key", k["clinic_root_public_key"]),
        ("HPKE private key", k["hpke_private_key"]), ("HPKE public key", k["hpke_public_key"]),
        ("HPKE key id", "01020304"),
        ("device seed", k["device_seed"]), ("device public key", k["device_public_key"]),
        ("device id", k["device_id"]), ("clinic id", k["clinic_id"]),
        ("enrollment id", k["enrollment_id"]), ("one-time secret", k["one_time_secret"]),
        ("expiry", f"{code['fields']['expiry_minutes']} minutes"), ("URL", code["fields"]["url"]),
    ]))
    out.append(
        f"HPKE key certificate: key id `01020304`, the HPKE public key above, not before\n"
        f"{cert['not_before']}, not after {cert['not_after']}. As a message its fields are 1 key id (uint),\n"
        "2 public key (bytes), 3 not before (uint), 4 not after (uint), 5 signature (bytes).\n")
    out.append(block([("cert_bytes", cert["cert_bytes"]), ("signature", cert["signature"]),
                      ("message", cert["message"])]))
    out.append("### Enrollment code\n")
    out.append(f"```\n{code['text']}\n```\n")
    out.append(hexblock("code"))
    out.append("### Enroll request\n")
    out.append(
        "Kind 1, request id `a0..af`, epoch 16 zero bytes, first 1, last 0, clock 1767225600000,\n"
        "no extensions (*h* = 100), ephemeral private key `60..7f`, compression 0. Body: 1 the device\n"
        "public key, 2 the enrollment id, 3 the proof, 4 category 1, 4 category 2.\n")
    out.append(block([("proof", enroll["enroll_proof"]["proof"])] + request_rows(enroll)))
    out.append(hexblock("enroll_request"))
    out.append("### Push request\n")
    out.append(
        "Kind 2, request id `a1..b0`, epoch `f0..ff`, first 1, last 3, clock 1767225700000, *h* = 100,\n"
        "ephemeral private key `80..9f`, no cursor. Compression 1 (LZ4 block). LZ4 output is not\n"
        "canonical: a reader must decode these bytes, but another LZ4 writer may compress the same body\n"
        "differently. Three changes, all record kind 1 (entry), category 1, author the device id:\n\n"
        "1. change id `11`×16, seq 1, hlc 1767225000000 << 16, record id `22`×16, put, vv [(device, 1)];\n"
        "   tracker `mood`, scale 6.5, note `golden note`, tag (1, `work`), at 1767225000000, zone\n"
        "   `Europe/Paris`, offset 3600, created and updated 1767225000000;\n"
        "2. change id `12`×16, seq 2, hlc (1767225060000 << 16) | 1, record id `22`×16, put,\n"
        "   vv [(device, 2)]; tracker `mood`, scale 7.0, no note, withheld [3], no tags, at\n"
        "   1767225000000, zone `Europe/Paris`, offset 3600, created 1767225000000, updated 1767225060000;\n"
        "3. change id `13`×16, seq 3, hlc 1767225120000 << 16, record id `33`×16, delete,\n"
        "   vv [(device, 3)], no body.\n")
    rows = request_rows(push)
    rows.insert(6, ("LZ4 block", push["stored_hex"]))
    out.append(block(rows))
    out.append(hexblock("push_request"))
    out.append(block([("SHA-256(push request)", push["sha256"])]))
    out.append("### Ok reply\n")
    ok = j["ok_reply"]
    out.append(
        "Kind `81` to the push request, minor 0, epoch `f0..ff`, server clock 1767225601000, *h* = 112,\n"
        "response nonce `b0..bf`, compression 0. Body: 1 last applied 3, 2 the receipt, 6 cursor `c1`\n"
        "(`63 31`), 8 the certificate above; 7 more is false, so it is omitted.\n")
    out.append(block([("receipt", ok["receipt"]["signature"])] + reply_rows(ok)))
    out.append(hexblock("ok_reply"))
    out.append("### Error reply (sealed)\n")
    out.append(
        "Kind `82` to the push request, same epoch and clock, response nonce `90..9f`, compression 0.\n"
        "Body: 1 code 13 (`sequence_reused`), 2 last applied 7. The exported secret is the ok reply's:\n"
        "both answer the same request.\n")
    out.append(block(reply_rows(j["error_reply"])))
    out.append(hexblock("error_reply"))
    out.append("### Error reply (unsealed)\n")
    out.append(
        "Kind `83` to the push request, same epoch and clock. Body: 1 code 7 (`unknown_key`), 4 the\n"
        "certificate above.\n")
    out.append(block([("body", j["unsealed_error_reply"]["body_hex"])]))
    out.append(hexblock("unsealed_error_reply"))
    return "\n".join(out)


if __name__ == "__main__":
    main()
    if "--markdown" in sys.argv[1:]:
        print("----- §9 -----")
        print(markdown())
