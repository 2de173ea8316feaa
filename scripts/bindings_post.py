#!/usr/bin/env python3
"""Finishes the bindings uniffi 0.32.2 generates, where its templates fall
short of the API Cairn promises (docs/native-api.md). Called by
scripts/bindings.sh on every generation; each edit must apply exactly as
many times as expected, or this fails (a new uniffi version must be looked
at, not patched blindly).

  bindings_post.py kotlin FILE
  bindings_post.py swift FILE

Kotlin:
  * CairnException.message is the plain sentence (Rust's Display, which
    uniffi exports as toString()), not a `field=..., reason=...` dump.
Swift:
  * CairnError's cases are lowerCamelCase (`.invalidInput(field:reason:)`),
    as Swift's API guidelines and every Apple error enum have them.
  * Cancelling the Task that awaits a read cancels the Rust future (uniffi's
    Swift template ignores Task cancellation): the read is interrupted and
    the await throws CancellationError. Writes are not cancelled: they
    complete and return their result.
"""
import re
import sys

ERROR_CASES = [
    "InvalidInput", "KeyLength", "UnknownZone", "UnknownTracker", "DuplicateTracker",
    "WrongKey", "Corrupted", "StoreExists", "StoreNotFound", "NotAStore", "Incompatible",
    "NotFound", "Closed", "Storage", "Io", "Internal", "NotEnrolled", "AlreadyEnrolled",
    "EnrollmentUsed", "EnrollmentExpired", "EnrollmentRevoked", "DeviceRevoked",
    "SyncRefused", "BadReply", "StaleReply", "ServerBusy", "ProtocolIncompatible",
]


# The reads a cancelled Task interrupts (object_method, as uniffi names
# their scaffolding); every other async call is a write or an open.
CANCELLABLE = {
    "journal_entry", "journal_entries", "journal_summary", "journal_tags_on_low_days",
    "journal_trackers", "journal_tracker", "journal_pending_changes",
    "journal_integrity_check", "journal_testing_endless_read",
    "journal_safety_plan", "journal_flags", "journal_flag_settings",
    "journal_insights", "journal_patterns", "journal_course", "journal_questionnaire_changes",
    "journal_coping_plan", "journal_clinic_settings", "journal_report", "journal_report_html",
    "journal_fhir_bundle",
    "reminders_get", "reminders_list", "reminders_events", "reminders_quiet_hours",
    "reminders_plan", "reminders_occurrences", "reminders_adherence",
    "clinicsync_status", "clinicsync_manifest", "clinicsync_log", "clinicsync_conflicts",
}


def fail(msg):
    sys.exit(f"bindings_post.py: {msg}")


def sub(pattern, repl, text, expect=None, flags=0):
    new, n = re.subn(pattern, repl, text, flags=flags)
    if n == 0 or (expect is not None and n != expect):
        fail(f"pattern {pattern!r} applied {n} times (expected {expect or 'some'})")
    return new


def kotlin(text):
    start = text.index("sealed class CairnException")
    end = text.index("companion object ErrorHandler", start)
    block = text[start:end]
    block = sub(r'override val message\n(\s*)get\(\) = "[^"\n]*"',
                r"override val message\n\1get() = toString()", block)
    block = sub(r'override val message\n(\s*)get\(\) = ""',
                r"override val message\n\1get() = toString()", block) if 'get() = ""' in block else block
    return text[:start] + block + text[end:]


def swift(text):
    # lowerCamelCase error cases, inside CairnError and its converter only.
    start = text.index("enum CairnError: Swift.Error")
    end = text.index("public func FfiConverterTypeCairnError_lift", start)
    block = text[start:end]
    for case in ERROR_CASES:
        lower = case[0].lower() + case[1:]
        block = sub(rf"(case |case let |\.){case}\b", rf"\g<1>{lower}", block)
    # `internal` is a keyword: its declaration needs backticks (after a dot,
    # `.internal`, it needs none).
    block = sub(r"case internal\b", "case `internal`", block, expect=1)
    text = text[:start] + block + text[end:]

    # Task cancellation reaches the Rust future.
    text = sub(
        r"    freeFunc: \(UInt64\) -> \(\),\n",
        "    freeFunc: (UInt64) -> (),\n    cancelFunc: ((UInt64) -> ())? = nil,\n",
        text, expect=1)
    text = sub(
        r"        pollResult = await withUnsafeContinuation \{\n"
        r"            pollFunc\(\n"
        r"                rustFuture,\n"
        r"                \{ handle, pollResult in\n"
        r"                    uniffiFutureContinuationCallback\(handle: handle, pollResult: pollResult\)\n"
        r"                \},\n"
        r"                uniffiContinuationHandleMap.insert\(obj: \$0\)\n"
        r"            \)\n"
        r"        \}\n"
        r"    \} while pollResult != UNIFFI_RUST_FUTURE_POLL_READY\n",
        "        pollResult = await withTaskCancellationHandler {\n"
        "            await withUnsafeContinuation {\n"
        "                pollFunc(\n"
        "                    rustFuture,\n"
        "                    { handle, pollResult in\n"
        "                        uniffiFutureContinuationCallback(handle: handle, pollResult: pollResult)\n"
        "                    },\n"
        "                    uniffiContinuationHandleMap.insert(obj: $0)\n"
        "                )\n"
        "            }\n"
        "        } onCancel: {\n"
        "            // Wakes the await above and drops the Rust future's work:\n"
        "            // a running read is interrupted. Writes pass no cancelFunc:\n"
        "            // they complete and return their result.\n"
        "            cancelFunc?(rustFuture)\n"
        "        }\n"
        "    } while pollResult != UNIFFI_RUST_FUTURE_POLL_READY\n"
        "    if cancelFunc != nil { try Task.checkCancellation() }\n",
        text, expect=1)
    # Only reads are cancellable: a write, once called, completes and its
    # caller gets its result even if its Task was cancelled meanwhile.
    def site(m):
        if m.group(2) not in CANCELLABLE:
            return m.group(0)
        return (m.group(0) + m.group(3) + "cancelFunc: ffi_cairn_ffi_rust_future_cancel_"
                + m.group(4) + ",")
    text, n = re.subn(
        r"rustFutureFunc: \{\s*uniffi_cairn_ffi_fn_(method|constructor)_(\w+)\("
        r"(?:(?!rustFutureFunc).)*?"
        r"(\n\s*)freeFunc: ffi_cairn_ffi_rust_future_free_(\w+),",
        site, text, flags=re.S)
    found = set(re.findall(r"uniffi_cairn_ffi_fn_method_(\w+)\(", text))
    # The test-only exports exist in the testing build only.
    missing = {m for m in CANCELLABLE - found if "_testing_" not in m}
    if n == 0 or missing:
        fail(f"async call sites: {n}; cancellable reads not found: {sorted(missing)}")
    text = sub(r'fatalError\("Cancellation not supported yet"\)',
               "throw CancellationError()", text, expect=1)
    return text


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("kotlin", "swift"):
        fail("usage: bindings_post.py kotlin|swift FILE")
    lang, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = kotlin(text) if lang == "kotlin" else swift(text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
