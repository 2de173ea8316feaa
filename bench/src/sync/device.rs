//! A simulated device built only from the core's wire primitives
//! (`cairn_core::sync`): an Ed25519 identity enrolled with a real
//! enrollment code, sealing real requests and checking real replies (the
//! root's signature, the ids, the receipt), as the core's store does.

use cairn_core::sync::code::EnrollmentCode;
use cairn_core::sync::messages::{EnrollBody, ErrorBody, ErrorCode, Id16, OkBody, PushBody};
use cairn_core::sync::wire::{self, ReplyKey, ReplyKind, RequestHeader, RequestKind, seal_request};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::Ed25519KeyPair;

/// 16 random bytes.
pub fn random16() -> Id16 {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).expect("system random");
    b
}

/// A device: its key, the code it enrolled with, and what it learned.
pub struct SimDevice {
    key: Ed25519KeyPair,
    public: [u8; 32],
    /// Its device id.
    pub id: Id16,
    code: EnrollmentCode,
    hpke_key_id: u32,
    hpke_key: [u8; 32],
    /// The server epoch last seen.
    pub epoch: Id16,
    /// The pull cursor last received.
    pub cursor: Vec<u8>,
}

impl SimDevice {
    /// A new device key for the enrollment code `code`.
    pub fn new(code: &str) -> SimDevice {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let public = wire::public_key(&key);
        let code = EnrollmentCode::parse(code).expect("a valid enrollment code");
        SimDevice {
            id: wire::device_id(&public),
            hpke_key_id: code.hpke_key_id,
            hpke_key: code.hpke_key,
            key,
            public,
            code,
            epoch: [0; 16],
            cursor: Vec::new(),
        }
    }

    /// Its Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    fn header(&self, kind: RequestKind, first: u64, last: u64, now_ms: u64) -> RequestHeader {
        RequestHeader {
            kind,
            minor: wire::MINOR,
            clinic_id: self.code.clinic_id,
            device_id: self.id,
            key_id: self.hpke_key_id,
            request_id: random16(),
            epoch: self.epoch,
            first,
            last,
            clock_ms: now_ms,
            extensions: Vec::new(),
        }
    }

    /// The enroll request (sharing ratings, notes, journal, medication).
    pub fn enroll_request(&self, now_ms: u64) -> (Vec<u8>, ReplyKey) {
        let body = EnrollBody {
            device_key: self.public,
            enrollment_id: self.code.enrollment_id,
            proof: EnrollBody::proof_for(&self.code.secret, &self.code.enrollment_id, &self.public),
            categories: vec![1, 2, 3, 4],
        };
        let h = self.header(RequestKind::Enroll, 1, 0, now_ms);
        seal_request(&h, &body.encode(), &self.hpke_key, &self.key, false).expect("seal")
    }

    /// A push of `body` covering sequence numbers `first..=last`, sealed
    /// and signed as `Store::sync_prepare` does.
    pub fn push_request(
        &self,
        first: u64,
        last: u64,
        body: &PushBody,
        now_ms: u64,
    ) -> (Vec<u8>, ReplyKey) {
        let h = self.header(RequestKind::Push, first, last, now_ms);
        seal_request(&h, &body.encode(), &self.hpke_key, &self.key, false).expect("seal")
    }

    /// Seals an already encoded push body.
    pub fn push_request_raw(
        &self,
        first: u64,
        last: u64,
        body: &[u8],
        now_ms: u64,
    ) -> (Vec<u8>, ReplyKey) {
        let h = self.header(RequestKind::Push, first, last, now_ms);
        seal_request(&h, body, &self.hpke_key, &self.key, false).expect("seal")
    }

    /// Reads a reply to a request sealed with `key`: checks the root's
    /// signature, the ids and (ok) the receipt; keeps the epoch, the cursor
    /// and a newer certificate as a device would. An error reply is `Err`
    /// with its code's name.
    pub fn read(&mut self, reply: &[u8], key: &ReplyKey) -> Result<OkBody, String> {
        let parsed = wire::Reply::parse(reply).map_err(|e| e.to_string())?;
        let body = parsed
            .open(&self.code.root_key, &self.code.clinic_id, &self.id, key)
            .map_err(|e| e.to_string())?;
        if parsed.header.kind != ReplyKind::Ok {
            let err = ErrorBody::decode(&body).map_err(|e| e.to_string())?;
            return Err(ErrorCode::from_u64(err.code)
                .map_or("unknown", ErrorCode::name)
                .to_owned());
        }
        let ok = OkBody::decode(&body).map_err(|e| e.to_string())?;
        let receipt = ok.receipt.ok_or("an ok reply without a receipt")?;
        wire::verify_receipt(
            &self.code.root_key,
            &parsed.header,
            ok.last_applied,
            &receipt,
        )
        .map_err(|e| e.to_string())?;
        self.epoch = parsed.header.epoch;
        self.cursor = ok.cursor.clone();
        for c in &ok.certificates {
            if wire::verify_certificate(
                &self.code.root_key,
                &c.signed_bytes(&self.code.clinic_id),
                &c.signature,
            )
            .is_ok()
            {
                self.hpke_key_id = c.key_id;
                self.hpke_key = c.public;
            }
        }
        Ok(ok)
    }
}
