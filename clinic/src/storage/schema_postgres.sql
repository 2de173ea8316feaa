-- cairn-clinic schema, version 1, on PostgreSQL (docs/sync-design.md §9).
-- The same tables, columns and keys as schema.sql (SQLite): BYTEA for
-- blobs, BIGINT for integers, BOOLEAN for the flags SQLite keeps as 0/1.
-- clinic_id leads every primary and unique key, so that distributing the
-- per-clinic tables by clinic_id (Citus: create_distributed_table(t,
-- 'clinic_id')) needs no change to a key; `server` and `schema_version`
-- hold one row and would be reference tables. Columns named sealed_* hold
-- AES-256-GCM under the storage key; everything else is plaintext: ids,
-- sequence numbers, feed positions, HLCs, times (ms since 1970), kinds,
-- ops, revoked flags. u64 values are stored as BIGINT bit for bit, as on
-- SQLite.

-- This database's schema version (SQLite's PRAGMA user_version).
CREATE TABLE schema_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);

-- The clinic this database's `serve` processes serve, and the URL `serve`
-- last ran at.
CREATE TABLE server (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    clinic_id BYTEA NOT NULL,
    url TEXT
);

CREATE TABLE clinics (
    clinic_id BYTEA NOT NULL PRIMARY KEY,
    root_key_id BIGINT NOT NULL,
    epoch BYTEA NOT NULL,
    keys_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The root Ed25519 key (kind 'root', PKCS#8) and the HPKE X25519 keys
-- (kind 'hpke', with the root's certificate signature).
CREATE TABLE keys (
    clinic_id BYTEA NOT NULL,
    key_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('root', 'hpke')),
    public BYTEA NOT NULL,
    sealed_private BYTEA NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    signature BYTEA,
    state TEXT NOT NULL CHECK (state IN ('current', 'retiring')),
    PRIMARY KEY (clinic_id, key_id)
);

-- name_mac: HMAC of the name under a key derived from the storage key, so
-- that `--patient NAME` finds (or creates, once) a patient.
CREATE TABLE patients (
    clinic_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    name_mac BYTEA NOT NULL,
    sealed_name BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, patient_id),
    UNIQUE (clinic_id, name_mac)
);

-- The per-patient feed counter (the last feed position given) and the
-- patient's server clock (HLC) for re-stamping. Every push updates this
-- row first: its row lock orders the patient's ingests across processes.
CREATE TABLE feeds (
    clinic_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    position BIGINT NOT NULL,
    hash BYTEA NOT NULL DEFAULT '\x',
    hlc BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, patient_id)
);

-- sealed_secret: the one-time secret itself, sealed (the proof is an HMAC
-- keyed with it, so its hash alone cannot check one).
CREATE TABLE enrollments (
    clinic_id BYTEA NOT NULL,
    enrollment_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    sealed_secret BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    used_by BYTEA,
    used_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, enrollment_id)
);

CREATE TABLE devices (
    clinic_id BYTEA NOT NULL,
    device_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    public_key BYTEA NOT NULL,
    enrollment_id BYTEA NOT NULL,
    last_applied_seq BIGINT NOT NULL DEFAULT 0,
    sealed_categories BYTEA NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    revoked_at BIGINT,
    withdrawn BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (clinic_id, device_id)
);

-- Every change stored, once: at one feed position (server_seq) of its
-- patient, by change id, and by (device, seq). sealed_body is the change in
-- the protocol's encoding, as stored (re-stamped if it was). Keyed by feed
-- position: a batch appends to its patient's feed, and a pull reads it in
-- key order.
CREATE TABLE changes (
    clinic_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    change_id BYTEA NOT NULL,
    device_id BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    server_seq BIGINT NOT NULL,
    feed_hash BYTEA NOT NULL,
    record_table BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    hlc BIGINT NOT NULL,
    op BIGINT NOT NULL,
    sealed_body BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, server_seq),
    UNIQUE (clinic_id, change_id),
    UNIQUE (clinic_id, device_id, seq)
);

-- A record's tips (winner first): sealed in sealed_state, or, when they are
-- exactly one stored change (a new record's first change, say), that
-- change's feed position in tip_position (plaintext, like server_seq)
-- rather than a second sealed copy of it. stamp is the winner's HLC.
CREATE TABLE records (
    clinic_id BYTEA NOT NULL,
    patient_id BYTEA NOT NULL,
    record_table BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    sealed_state BYTEA,
    tip_position BIGINT,
    stamp BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, patient_id, record_table, record_id),
    CHECK ((sealed_state IS NULL) <> (tip_position IS NULL))
);

-- Which patient a random (16-byte) record id belongs to: the first to use
-- it. Another patient's change to it is rejected as a foreign record.
CREATE TABLE record_owners (
    clinic_id BYTEA NOT NULL,
    record_id TEXT NOT NULL,
    patient_id BYTEA NOT NULL,
    PRIMARY KEY (clinic_id, record_id)
);

CREATE TABLE requests (
    clinic_id BYTEA NOT NULL,
    device_id BYTEA NOT NULL,
    request_id BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    request_hash BYTEA NOT NULL,
    PRIMARY KEY (clinic_id, device_id, request_id)
);
CREATE INDEX requests_by_time ON requests (clinic_id, received_at);

CREATE TABLE rejections (
    clinic_id BYTEA NOT NULL,
    device_id BYTEA NOT NULL,
    seq BIGINT NOT NULL,
    change_id BYTEA NOT NULL,
    reason BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, device_id, seq)
);
CREATE INDEX rejections_by_change ON rejections (clinic_id, device_id, change_id);
