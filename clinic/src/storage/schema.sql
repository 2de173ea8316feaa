-- cairn-clinic schema, version 2 (docs/sync-design.md §9).
-- clinic_id leads every primary and unique key. Columns named sealed_* hold
-- AES-256-GCM under the storage key; everything else is plaintext: ids,
-- sequence numbers, feed positions, HLCs, times (ms since 1970), kinds, ops,
-- revoked flags.

-- This data directory's own clinic, and the URL `serve` last ran at.
CREATE TABLE server (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    clinic_id BLOB NOT NULL,
    url TEXT
);

CREATE TABLE clinics (
    clinic_id BLOB NOT NULL PRIMARY KEY,
    root_key_id INTEGER NOT NULL,
    epoch BLOB NOT NULL,
    keys_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- The root Ed25519 key (kind 'root', PKCS#8) and the HPKE X25519 keys
-- (kind 'hpke', with the root's certificate signature).
CREATE TABLE keys (
    clinic_id BLOB NOT NULL,
    key_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'hpke')),
    public BLOB NOT NULL,
    sealed_private BLOB NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    signature BLOB,
    state TEXT NOT NULL CHECK (state IN ('current', 'retiring')),
    PRIMARY KEY (clinic_id, key_id)
);

-- name_mac: HMAC of the name under a key derived from the storage key, so
-- that `--patient NAME` finds (or creates, once) a patient.
CREATE TABLE patients (
    clinic_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    name_mac BLOB NOT NULL,
    sealed_name BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id),
    UNIQUE (clinic_id, name_mac)
);

-- The per-patient feed counter (the last feed position given), the feed's
-- running hash at that position, and the patient's server clock (HLC) for
-- re-stamping.
CREATE TABLE feeds (
    clinic_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    position INTEGER NOT NULL,
    hash BLOB NOT NULL DEFAULT x'',
    hlc INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id)
);

-- sealed_secret: the one-time secret itself, sealed (the proof is an HMAC
-- keyed with it, so its hash alone cannot check one).
CREATE TABLE enrollments (
    clinic_id BLOB NOT NULL,
    enrollment_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    sealed_secret BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    used_by BLOB,
    used_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, enrollment_id)
);

CREATE TABLE devices (
    clinic_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    public_key BLOB NOT NULL,
    enrollment_id BLOB NOT NULL,
    last_applied_seq INTEGER NOT NULL DEFAULT 0,
    sealed_categories BLOB NOT NULL,
    enrolled_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER,
    withdrawn INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (clinic_id, device_id)
);

-- Every change stored, once: at one feed position (server_seq) of its
-- patient, by change id, and by (device, seq). sealed_body is the change in
-- the protocol's encoding, as stored (re-stamped if it was). Keyed by feed
-- position: a batch appends to its patient's feed, and a pull reads it in
-- key order. An ordinary (rowid) table since version 2: its rows (about 400
-- bytes) are too large for WITHOUT ROWID, whose appends split pages and
-- whose other keys would each repeat the 40-byte primary key.
CREATE TABLE changes (
    clinic_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    change_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    server_seq INTEGER NOT NULL,
    feed_hash BLOB NOT NULL,
    record_table INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    op INTEGER NOT NULL,
    sealed_body BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, server_seq),
    UNIQUE (clinic_id, change_id),
    UNIQUE (clinic_id, device_id, seq)
);

-- A record's tips (winner first): sealed in sealed_state, or, when they are
-- exactly one stored change (a new record's first change, say), that
-- change's feed position in tip_position (plaintext, like server_seq)
-- rather than a second sealed copy of it. stamp is the winner's HLC.
CREATE TABLE records (
    clinic_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    record_table INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    sealed_state BLOB,
    tip_position INTEGER,
    stamp INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, record_table, record_id),
    CHECK ((sealed_state IS NULL) <> (tip_position IS NULL))
) WITHOUT ROWID;

-- Which patient a random (16-byte) record id belongs to: the first to use
-- it. Another patient's change to it is rejected as a foreign record.
CREATE TABLE record_owners (
    clinic_id BLOB NOT NULL,
    record_id TEXT NOT NULL,
    patient_id BLOB NOT NULL,
    PRIMARY KEY (clinic_id, record_id)
) WITHOUT ROWID;

CREATE TABLE requests (
    clinic_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    request_id BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    request_hash BLOB NOT NULL,
    PRIMARY KEY (clinic_id, device_id, request_id)
);
CREATE INDEX requests_by_time ON requests (clinic_id, received_at);

CREATE TABLE rejections (
    clinic_id BLOB NOT NULL,
    device_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    change_id BLOB NOT NULL,
    reason INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, device_id, seq)
);
CREATE INDEX rejections_by_change ON rejections (clinic_id, device_id, change_id);
