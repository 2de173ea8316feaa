//! A clinic in a temporary directory (real SQLite file), or on a database
//! of a private PostgreSQL cluster ([`pg`]), and a small test device built
//! only from `cairn_core::sync` primitives.

#![allow(dead_code)]

pub mod pg;

use cairn_clinic::{Server, admin, handle};
use cairn_core::sync::code::EnrollmentCode;
use cairn_core::sync::messages::{
    Change, EnrollBody, EntryBody, ErrorBody, ErrorCode, Id16, OkBody, Op, PushBody, RecordId, kind,
};
use cairn_core::sync::wire::{
    self, ReplyHeader, ReplyKey, ReplyKind, RequestHeader, RequestKind, seal_request,
};
use cairn_core::{Tag, Value};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::Ed25519KeyPair;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000;
pub const MINUTE: u64 = 60_000;
pub const DAY: u64 = 86_400_000;
pub const URL: &str = "https://clinic.example";

pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new().fill(&mut b).unwrap();
    b
}

/// Where a PostgreSQL clinic's directory keeps the database's URL.
const DATABASE_URL_FILE: &str = "database.url";

pub struct Clinic {
    pub dir: tempfile::TempDir,
    pub server: Server,
}

impl Clinic {
    pub fn new() -> Clinic {
        let dir = tempfile::tempdir().unwrap();
        let storage = cairn_clinic::open_sqlite(dir.path(), None, T0).unwrap();
        Clinic {
            dir,
            server: Server::new(Box::new(storage)),
        }
    }

    /// A clinic on a new database of the test binary's PostgreSQL cluster;
    /// its storage key (and the database's URL) in `dir`.
    pub fn postgres() -> Clinic {
        Clinic::postgres_at(&pg::cluster().database())
    }

    /// A clinic on the (empty, or this clinic's) database at `url`.
    pub fn postgres_at(url: &str) -> Clinic {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(cairn_clinic::KEY_FILE_NAME);
        cairn_clinic::seal::StorageKey::generate()
            .unwrap()
            .create_file(&key)
            .unwrap();
        std::fs::write(dir.path().join(DATABASE_URL_FILE), url).unwrap();
        let storage = cairn_clinic::open_postgres(url, &key, 4, T0).unwrap();
        Clinic {
            dir,
            server: Server::new(Box::new(storage)),
        }
    }

    /// The PostgreSQL database's URL; `None` for SQLite.
    pub fn database_url(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join(DATABASE_URL_FILE)).ok()
    }

    /// The storage key file.
    pub fn key_file(&self) -> std::path::PathBuf {
        self.dir.path().join(cairn_clinic::KEY_FILE_NAME)
    }

    /// Another server on the same database: its own connection (SQLite),
    /// its own pool (PostgreSQL).
    pub fn another_server(&self) -> Server {
        Server::new(match self.database_url() {
            Some(url) => {
                Box::new(cairn_clinic::open_postgres(&url, &self.key_file(), 4, T0).unwrap())
            }
            None => Box::new(cairn_clinic::open_sqlite(self.dir.path(), None, T0).unwrap()),
        })
    }

    /// An enrollment code for `patient`, valid 14 days from `now`.
    pub fn code(&self, patient: &str, now: u64) -> String {
        admin::enrollment_code(&self.server, patient, 14, URL, now).unwrap()
    }

    pub fn send(&self, request: &[u8], now: u64) -> Vec<u8> {
        handle(&self.server, request, now).unwrap()
    }

    pub fn entries(&self, patient: &str) -> Vec<serde_json::Value> {
        admin::entries(self.server.storage(), patient).unwrap()
    }

    pub fn root_public(&self) -> [u8; 32] {
        self.server.keys().unwrap().root_public()
    }
}

/// What a reply said, after checking its signature, ids and receipt.
#[derive(Debug)]
pub enum Answer {
    Ok(Box<OkBody>, Box<ReplyHeader>),
    Error {
        code: Option<ErrorCode>,
        body: ErrorBody,
        sealed: bool,
    },
}

impl Answer {
    pub fn ok(self) -> OkBody {
        match self {
            Answer::Ok(b, _) => *b,
            other => panic!("expected ok, got {other:?}"),
        }
    }

    /// The error code, and whether the error was sealed.
    pub fn error(&self) -> (ErrorCode, bool) {
        match self {
            Answer::Error { code, sealed, .. } => (code.expect("a known code"), *sealed),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub fn error_body(self) -> ErrorBody {
        match self {
            Answer::Error { body, .. } => body,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// A device: its key, the code it enrolled with, and what it learned.
pub struct TestDevice {
    pub key: Ed25519KeyPair,
    pub public: [u8; 32],
    pub id: Id16,
    pub code: EnrollmentCode,
    pub hpke_key_id: u32,
    pub hpke_key: [u8; 32],
    pub epoch: Id16,
    pub cursor: Vec<u8>,
    pub next_seq: u64,
    pub categories: Vec<u64>,
}

impl TestDevice {
    pub fn new(code: &str) -> TestDevice {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let public = wire::public_key(&key);
        let code = EnrollmentCode::parse(code).unwrap();
        TestDevice {
            id: wire::device_id(&public),
            hpke_key_id: code.hpke_key_id,
            hpke_key: code.hpke_key,
            key,
            public,
            code,
            epoch: [0; 16],
            cursor: Vec::new(),
            next_seq: 1,
            categories: vec![1, 2],
        }
    }

    pub fn header(&self, kind: RequestKind, first: u64, last: u64, clock: u64) -> RequestHeader {
        RequestHeader {
            kind,
            minor: wire::MINOR,
            clinic_id: self.code.clinic_id,
            device_id: self.id,
            key_id: self.hpke_key_id,
            request_id: random(),
            epoch: self.epoch,
            first,
            last,
            clock_ms: clock,
            extensions: Vec::new(),
        }
    }

    pub fn seal(&self, header: &RequestHeader, body: &[u8]) -> (Vec<u8>, ReplyKey) {
        seal_request(header, body, &self.hpke_key, &self.key, false).unwrap()
    }

    pub fn enroll_body(&self) -> EnrollBody {
        EnrollBody {
            device_key: self.public,
            enrollment_id: self.code.enrollment_id,
            proof: EnrollBody::proof_for(&self.code.secret, &self.code.enrollment_id, &self.public),
            categories: self.categories.clone(),
        }
    }

    pub fn enroll_request(&self, now: u64) -> (Vec<u8>, ReplyKey) {
        let h = self.header(RequestKind::Enroll, 1, 0, now);
        self.seal(&h, &self.enroll_body().encode())
    }

    pub fn push_request(
        &self,
        first: u64,
        last: u64,
        changes: &[Change],
        now: u64,
    ) -> (Vec<u8>, ReplyKey) {
        let h = self.header(RequestKind::Push, first, last, now);
        let body = PushBody {
            changes: changes.to_vec(),
            cursor: self.cursor.clone(),
        };
        self.seal(&h, &body.encode())
    }

    pub fn withdraw_request(&self, now: u64) -> (Vec<u8>, ReplyKey) {
        let h = self.header(RequestKind::Withdraw, 1, 0, now);
        self.seal(&h, b"")
    }

    /// Opens a reply to a request sealed with `key`: checks the root's
    /// signature, the ids and (ok) the receipt; keeps the epoch, the cursor
    /// and a newer certificate as a device would.
    pub fn read(&mut self, reply: &[u8], key: &ReplyKey) -> Answer {
        let parsed = wire::Reply::parse(reply).unwrap();
        let body = parsed
            .open(&self.code.root_key, &self.code.clinic_id, &self.id, key)
            .expect("the reply verifies under the pinned root key");
        match parsed.header.kind {
            ReplyKind::Ok => {
                let ok = OkBody::decode(&body).unwrap();
                wire::verify_receipt(
                    &self.code.root_key,
                    &parsed.header,
                    ok.last_applied,
                    &ok.receipt.expect("every ok reply has a receipt"),
                )
                .expect("the receipt verifies");
                self.epoch = parsed.header.epoch;
                self.cursor = ok.cursor.clone();
                self.take_certificates(&ok.certificates);
                Answer::Ok(Box::new(ok), Box::new(parsed.header))
            }
            kind => {
                let err = ErrorBody::decode(&body).unwrap();
                Answer::Error {
                    code: ErrorCode::from_u64(err.code),
                    body: err,
                    sealed: kind == ReplyKind::Error,
                }
            }
        }
    }

    /// Takes the certificate with the latest `not_before`, after checking
    /// it against the root key.
    pub fn take_certificates(&mut self, certs: &[cairn_core::sync::messages::Certificate]) {
        for c in certs {
            wire::verify_certificate(
                &self.code.root_key,
                &c.signed_bytes(&self.code.clinic_id),
                &c.signature,
            )
            .expect("certificates verify under the root key");
            self.hpke_key_id = c.key_id;
            self.hpke_key = c.public;
        }
    }

    /// Sends a request and reads the reply.
    pub fn exchange(&mut self, clinic: &Clinic, request: (Vec<u8>, ReplyKey), now: u64) -> Answer {
        let reply = clinic.send(&request.0, now);
        self.read(&reply, &request.1)
    }

    pub fn enroll(&mut self, clinic: &Clinic, now: u64) -> OkBody {
        let r = self.enroll_request(now);
        self.exchange(clinic, r, now).ok()
    }

    /// A new version of an entry record (the next seq), author this device.
    pub fn entry(
        &mut self,
        record: Id16,
        tracker: &str,
        value: Value,
        note: Option<&str>,
    ) -> Change {
        let seq = self.next_seq;
        self.next_seq += 1;
        Change {
            change_id: random(),
            seq,
            hlc: (T0 + seq) << 16,
            kind: kind::ENTRY,
            record_id: RecordId::Bytes(record),
            op: Op::Put,
            vv: vec![(self.id, seq)],
            body: Some(
                EntryBody {
                    tracker: tracker.into(),
                    value,
                    note: note.map(Into::into),
                    tags: vec![Tag::parse("trigger:work").unwrap()],
                    at_ms: (T0 - DAY + seq * MINUTE) as i64,
                    zone: "Europe/Paris".into(),
                    utc_offset_seconds: 3600,
                    created_ms: T0 as i64,
                    updated_ms: T0 as i64,
                    withheld: Vec::new(),
                }
                .encode(),
            ),
            category: 1,
            author: self.id,
            incarnation: 0,
        }
    }

    /// A delete of an entry record (the next seq).
    pub fn delete(&mut self, record: Id16, vv_base: &[(Id16, u64)]) -> Change {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut vv = vv_base.to_vec();
        vv.retain(|(d, _)| *d != self.id);
        vv.push((self.id, seq));
        Change {
            change_id: random(),
            seq,
            hlc: (T0 + seq) << 16,
            kind: kind::ENTRY,
            record_id: RecordId::Bytes(record),
            op: Op::Delete,
            vv,
            body: None,
            category: 1,
            author: self.id,
            incarnation: 0,
        }
    }
}

/// Enrolls a new device for `patient` (a new code each time).
pub fn enrolled(clinic: &Clinic, patient: &str, now: u64) -> TestDevice {
    let mut d = TestDevice::new(&clinic.code(patient, now));
    d.enroll(clinic, now);
    d
}

pub fn mood(x: f64) -> Value {
    Value::Scale(x)
}

/// Waits for a `cairn-clinic serve` child (stdout piped) to say where it
/// listens; returns `host:port`.
pub fn serve_addr(child: &mut std::process::Child) -> String {
    use std::io::{BufRead as _, BufReader};
    let out = child.stdout.take().expect("serve's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("serve says where it listens");
    line.trim()
        .strip_prefix("cairn-clinic listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned()
}
