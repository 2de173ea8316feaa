//! One request in, one reply out: docs/sync-protocol.md §9, "Server, every
//! request", then enroll, push (with its pull) or withdraw, in that order.
//!
//! The handler keeps nothing between requests: the device, the enrollment
//! and the replay record are read from storage each time. Only the keys are
//! cached, and reloaded whenever storage's `keys_version` moves (a
//! `rotate-keys` run by another process is seen at the next request).

use std::sync::{Arc, Mutex};

use cairn_core::sync::WireError;
use cairn_core::sync::frame;
use cairn_core::sync::messages::{EnrollBody, ErrorBody, ErrorCode, Id16, OkBody, PushBody};
use cairn_core::sync::wire::{
    self, ReplyHeader, ReplyKey, ReplyKind, Request, RequestKind, seal_reply, sign_receipt,
    unsealed_reply,
};
use zeroize::Zeroizing;

use crate::Error;
use crate::ingest::{self, hex};
use crate::keys::{HpkeKey, KeySet};
use crate::receiver;
use crate::storage::{
    EnrollOutcome, EnrollTx, PushOutcome, PushTx, RequestRef, Storage, WithdrawOutcome,
};

/// A request whose clock is further behind the server's than this is
/// `stale` (7 days); request ids are kept a day longer.
pub const STALE_MS: u64 = 7 * 86_400_000;
/// How long request ids are kept for the replay check.
pub const REQUEST_RETENTION_MS: u64 = 8 * 86_400_000;
/// What `busy` asks a device to wait, seconds.
pub const BUSY_RETRY_SECONDS: u64 = 5;

/// The server: storage and the cached keys.
pub struct Server {
    storage: Box<dyn Storage>,
    keys: Mutex<Option<Arc<KeySet>>>,
}

impl Server {
    /// A server over `storage`.
    pub fn new(storage: Box<dyn Storage>) -> Server {
        Server {
            storage,
            keys: Mutex::new(None),
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// The clinic's keys, reloaded when storage's `keys_version` changed.
    pub fn keys(&self) -> Result<Arc<KeySet>, Error> {
        let version = self.storage.keys_version();
        let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let version = match (version, &*cache) {
            (Ok(v), _) => v,
            // Another writer holds the database: the keys last loaded still
            // sign a `busy` reply (or whatever else needs no write).
            (Err(Error::Busy), Some(k)) => return Ok(k.clone()),
            (Err(e), _) => return Err(e),
        };
        if let Some(k) = &*cache
            && k.version == version
        {
            return Ok(k.clone());
        }
        let k = Arc::new(self.storage.load_keys()?);
        *cache = Some(k.clone());
        Ok(k)
    }
}

/// What to answer.
enum Answer {
    /// For a request the server could not open.
    Unsealed(ErrorBody),
    /// An error sealed to the requester.
    Sealed(ErrorBody, ReplyKey),
    /// Applied.
    Ok(OkBody, ReplyKey),
}

fn error(code: ErrorCode) -> ErrorBody {
    ErrorBody {
        code: code as u64,
        ..ErrorBody::default()
    }
}

fn with_last(code: ErrorCode, last_applied: u64) -> ErrorBody {
    ErrorBody {
        last_applied,
        ..error(code)
    }
}

fn busy() -> ErrorBody {
    ErrorBody {
        retry_after: BUSY_RETRY_SECONDS,
        ..error(ErrorCode::Busy)
    }
}

/// The ids a reply repeats, taken from the request's bytes where they are
/// (a request that does not parse still gets an answer it can match).
struct Echo {
    device_id: Id16,
    request_id: Id16,
    minor: u8,
    kind: &'static str,
}

impl Echo {
    fn of(request: &[u8]) -> Echo {
        let take = |at: usize| -> Id16 {
            request
                .get(at..at + 16)
                .map_or([0; 16], |b| b.try_into().expect("16 bytes"))
        };
        Echo {
            device_id: take(24),
            request_id: take(44),
            minor: wire::MINOR,
            kind: "unknown",
        }
    }
}

/// Answers one request (the bytes of a `POST /v1/sync` body) at server time
/// `now_ms`. Every protocol outcome, errors included, is a signed reply;
/// `Err` is for the server's own failures (storage), which the HTTP layer
/// answers with a 500.
pub fn handle(server: &Server, request: &[u8], now_ms: u64) -> Result<Vec<u8>, Error> {
    let keys = server.keys()?;
    let mut echo = Echo::of(request);
    let answer = answer(server, &keys, request, now_ms, &mut echo)?;
    let header = |kind| ReplyHeader {
        kind,
        minor: echo.minor,
        clinic_id: keys.clinic_id,
        device_id: echo.device_id,
        request_id: echo.request_id,
        request_hash: wire::sha256(request),
        epoch: keys.epoch,
        server_clock_ms: now_ms,
        extensions: Vec::new(),
    };
    let device = hex(&echo.device_id);
    Ok(match answer {
        Answer::Unsealed(body) => {
            tracing::info!(kind = echo.kind, device = %device, code = code_name(&body), "refused (unsealed)");
            unsealed_reply(
                &header(ReplyKind::UnsealedError),
                &body.encode(),
                &keys.root,
            )
        }
        Answer::Sealed(body, key) => {
            tracing::info!(kind = echo.kind, device = %device, code = code_name(&body), "refused");
            let nonce = nonce()?;
            seal_reply(
                &header(ReplyKind::Error),
                &body.encode(),
                &key,
                &nonce,
                &keys.root,
            )
        }
        Answer::Ok(mut body, key) => {
            let h = header(ReplyKind::Ok);
            body.receipt = Some(sign_receipt(&keys.root, &h, body.last_applied));
            tracing::info!(
                kind = echo.kind,
                device = %device,
                last_applied = body.last_applied,
                rejected = body.rejected.len(),
                restamped = body.restamped.len(),
                pulled = body.changes.len(),
                more = body.more,
                "ok"
            );
            let nonce = nonce()?;
            let plain = Zeroizing::new(body.encode());
            seal_reply(&h, &plain, &key, &nonce, &keys.root)
        }
    })
}

fn code_name(body: &ErrorBody) -> &'static str {
    ErrorCode::from_u64(body.code).map_or("unknown", ErrorCode::name)
}

fn nonce() -> Result<[u8; 16], Error> {
    use ring::rand::SecureRandom as _;
    let mut n = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut n)
        .map_err(|_| Error::Runtime("the system random source failed".into()))?;
    Ok(n)
}

/// An opened request: what every kind needs after step 4.
struct Opened<'a> {
    request: Request<'a>,
    body: Zeroizing<Vec<u8>>,
    reply_key: ReplyKey,
}

/// Opens a request's body with the HPKE key it names (step 4, or step 3
/// for enroll): any failure is `malformed`.
fn open<'a>(
    hpke_key: &HpkeKey,
    request: Request<'a>,
    bytes: &'a [u8],
) -> Result<Opened<'a>, ErrorCode> {
    let info = wire::hpke_info(&request.header.clinic_id, &request.header.device_id);
    let opened = receiver::open(
        &hpke_key.private,
        &request.enc,
        &info,
        request.header_bytes,
        request.ciphertext,
        ReplyKey::EXPORT_LABEL,
    )
    .map_err(|_| ErrorCode::Malformed)?;
    let body = Zeroizing::new(frame::unframe(&opened.plaintext).map_err(|_| ErrorCode::Malformed)?);
    let reply_key = ReplyKey::from_secret(
        *opened.reply_secret,
        request.enc,
        request.header.request_id,
        bytes,
    );
    Ok(Opened {
        request,
        body,
        reply_key,
    })
}

/// Steps 1 to 4 of §9 "Server, every request", then the kind's own steps.
fn answer(
    server: &Server,
    keys: &KeySet,
    bytes: &[u8],
    now_ms: u64,
    echo: &mut Echo,
) -> Result<Answer, Error> {
    // 1. The envelope.
    let request = match Request::parse(bytes) {
        Ok(r) => r,
        Err(WireError::Incompatible { .. }) => {
            return Ok(Answer::Unsealed(error(ErrorCode::Incompatible)));
        }
        Err(_) => return Ok(Answer::Unsealed(error(ErrorCode::Malformed))),
    };
    let h = &request.header;
    // The lower of the two minors (this build's is 0 for now).
    #[allow(clippy::unnecessary_min_or_max)]
    {
        echo.minor = h.minor.min(wire::MINOR);
    }
    echo.kind = match h.kind {
        RequestKind::Enroll => "enroll",
        RequestKind::Push => "push",
        RequestKind::Withdraw => "withdraw",
    };
    if h.clinic_id != keys.clinic_id {
        return Ok(Answer::Unsealed(error(ErrorCode::WrongClinic)));
    }
    // 2. The HPKE key.
    let Some(hpke_key) = keys.find(h.key_id, now_ms) else {
        return Ok(Answer::Unsealed(ErrorBody {
            certificates: keys.certificates(),
            ..error(ErrorCode::UnknownKey)
        }));
    };
    match h.kind {
        RequestKind::Push | RequestKind::Withdraw => {
            // 3. The device, its signature, then whether it is revoked;
            // nothing else is read before these pass.
            let device = match server.storage().device(&h.device_id) {
                Ok(Some(d)) => d,
                Ok(None) => return Ok(Answer::Unsealed(error(ErrorCode::UnknownDevice))),
                Err(Error::Busy) => return Ok(Answer::Unsealed(busy())),
                Err(e) => return Err(e),
            };
            if request.verify(&device.public_key).is_err() {
                return Ok(Answer::Unsealed(error(ErrorCode::BadSignature)));
            }
            if device.revoked {
                return Ok(Answer::Unsealed(error(ErrorCode::DeviceRevoked)));
            }
            // 4. Open the body.
            let opened = match open(hpke_key, request, bytes) {
                Ok(o) => o,
                Err(code) => return Ok(Answer::Unsealed(error(code))),
            };
            if opened.request.header.kind == RequestKind::Push {
                let Ok(push) = PushBody::decode(&opened.body) else {
                    return Ok(Answer::Unsealed(error(ErrorCode::Malformed)));
                };
                sealed_steps(opened, now_ms, |o, r| push_tx(server, keys, o, r, push))
            } else {
                sealed_steps(opened, now_ms, |_, r| withdraw_tx(server, r))
            }
        }
        RequestKind::Enroll => {
            // 3. Open, check the key inside, the device id derived from it,
            // then the signature (4 is done with it).
            let opened = match open(hpke_key, request, bytes) {
                Ok(o) => o,
                Err(code) => return Ok(Answer::Unsealed(error(code))),
            };
            let Ok(body) = EnrollBody::decode(&opened.body) else {
                return Ok(Answer::Unsealed(error(ErrorCode::Malformed)));
            };
            if wire::device_id(&body.device_key) != opened.request.header.device_id
                || opened.request.verify(&body.device_key).is_err()
            {
                return Ok(Answer::Unsealed(error(ErrorCode::BadSignature)));
            }
            sealed_steps(opened, now_ms, |_, r| enroll_tx(server, keys, r, &body))
        }
    }
}

/// Step 5 (stale) and the kind's transaction (which holds step 6, the
/// replay record); every error from here on is sealed.
fn sealed_steps(
    opened: Opened<'_>,
    now_ms: u64,
    run: impl FnOnce(&Opened<'_>, RequestRef) -> Result<Result<OkBody, ErrorBody>, Error>,
) -> Result<Answer, Error> {
    let h = &opened.request.header;
    if h.clock_ms.saturating_add(STALE_MS) < now_ms {
        return Ok(Answer::Sealed(error(ErrorCode::Stale), opened.reply_key));
    }
    let r = RequestRef {
        device_id: h.device_id,
        request_id: h.request_id,
        request_hash: opened.reply_key.request_hash,
        now_ms,
    };
    let result = match run(&opened, r) {
        Err(Error::Busy) => Err(busy()),
        other => other?,
    };
    Ok(match result {
        Ok(body) => Answer::Ok(body, opened.reply_key),
        Err(body) => Answer::Sealed(body, opened.reply_key),
    })
}

fn enroll_tx(
    server: &Server,
    keys: &KeySet,
    request: RequestRef,
    body: &EnrollBody,
) -> Result<Result<OkBody, ErrorBody>, Error> {
    let outcome = server.storage().enroll(&EnrollTx { request, body })?;
    Ok(match outcome {
        EnrollOutcome::Enrolled {
            patient_id,
            last_applied,
        } => Ok(OkBody {
            last_applied,
            certificates: keys.certificates(),
            patient_id: Some(patient_id),
            // The feed from its beginning: a new device has no changes of
            // its own to be sent back.
            cursor: 0u64.to_be_bytes().to_vec(),
            ..OkBody::default()
        }),
        EnrollOutcome::Replayed => Err(error(ErrorCode::Replayed)),
        EnrollOutcome::BadProof => Err(error(ErrorCode::BadProof)),
        EnrollOutcome::Used => Err(error(ErrorCode::EnrollmentUsed)),
        EnrollOutcome::Expired => Err(error(ErrorCode::EnrollmentExpired)),
        EnrollOutcome::Revoked => Err(error(ErrorCode::EnrollmentRevoked)),
        EnrollOutcome::DeviceRevoked => Err(error(ErrorCode::DeviceRevoked)),
        // The device made one key for another enrollment: a device bug.
        EnrollOutcome::OtherPatient => Err(error(ErrorCode::Malformed)),
    })
}

fn push_tx(
    server: &Server,
    keys: &KeySet,
    opened: &Opened<'_>,
    request: RequestRef,
    push: PushBody,
) -> Result<Result<OkBody, ErrorBody>, Error> {
    let h = &opened.request.header;
    // A cursor from another epoch (or none, or unreadable) pulls from the
    // beginning, the device's own changes included.
    let pull_after = if h.epoch == keys.epoch {
        ingest::read_cursor(&push.cursor)
    } else {
        None
    };
    let changes = ingest::check_batch(h.first, h.last, &h.device_id, push.changes);
    let outcome = server.storage().ingest_batch(PushTx {
        request,
        first: h.first,
        last: h.last,
        changes,
        pull_after,
    })?;
    Ok(match outcome {
        PushOutcome::Applied {
            last_applied,
            rejected,
            restamped,
            pulled,
            cursor,
            more,
            stored,
        } => {
            tracing::debug!(stored, "push applied");
            Ok(OkBody {
                last_applied,
                rejected,
                restamped,
                changes: pulled,
                cursor,
                more,
                // A device sealing to an older key learns the current one.
                certificates: if h.key_id == keys.current().key_id {
                    Vec::new()
                } else {
                    keys.certificates()
                },
                ..OkBody::default()
            })
        }
        PushOutcome::Replayed => Err(error(ErrorCode::Replayed)),
        PushOutcome::Gap { last_applied } => Err(with_last(ErrorCode::Gap, last_applied)),
        PushOutcome::SequenceReused { last_applied, held } => Err(ErrorBody {
            held,
            ..with_last(ErrorCode::SequenceReused, last_applied)
        }),
        PushOutcome::DeviceRevoked => Err(error(ErrorCode::DeviceRevoked)),
    })
}

fn withdraw_tx(server: &Server, request: RequestRef) -> Result<Result<OkBody, ErrorBody>, Error> {
    Ok(match server.storage().withdraw(&request)? {
        WithdrawOutcome::Withdrawn { last_applied } => Ok(OkBody {
            last_applied,
            ..OkBody::default()
        }),
        WithdrawOutcome::Replayed => Err(error(ErrorCode::Replayed)),
        WithdrawOutcome::DeviceRevoked => Err(error(ErrorCode::DeviceRevoked)),
    })
}
