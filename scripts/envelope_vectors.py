#!/usr/bin/env python3
"""Computes the golden envelope-2 vectors of core/src/crypto.rs independently
of the Rust code (Python's `cryptography` package), from the format written in
docs/design.md ("Sealed records"). Prints the key id and the two envelopes."""
import struct
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))
STORE = b"00112233445566778899aabbccddeeff"
NONCE = bytes(0xA0 + i for i in range(12))
ID = b"0123456789abcdef0123456789abcdef"


def hkdf(info: bytes, n: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=b"cairn data key v1", info=info).derive(KEY)


def lp(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def envelope(table: bytes, rid: bytes, revision: int, deleted: bool, column: int, schema: int, body: bytes) -> bytes:
    key_id = hkdf(b"key id", 4)
    header = bytes([2]) + key_id + bytes([schema])
    aad = (b"cairn\x02" + header + lp(STORE) + lp(table) + lp(rid)
           + struct.pack(">q", revision) + bytes([1 if deleted else 0]) + struct.pack(">q", column))
    sealed = AESGCM(hkdf(b"record seal aes-256-gcm", 32)).encrypt(NONCE, body, aad)
    return header + NONCE + sealed


print("key id   ", hkdf(b"key id", 4).hex())
print("live     ", envelope(b"entries", ID, 2, False, 20_500, 1, b"golden body").hex())
print("tombstone", envelope(b"entries", ID, 3, True, 0, 0, b"").hex())
