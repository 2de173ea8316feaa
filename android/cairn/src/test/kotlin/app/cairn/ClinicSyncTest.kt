package app.cairn

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Before
import org.junit.Test
import java.net.HttpURLConnection
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.URL
import java.time.LocalDate
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * ClinicSyncRunner against the real `cairn-clinic serve` (one per test, on
 * 127.0.0.1, killed after it): two phones of one patient, the sharing
 * manifest, each sync error from a real exchange, conflicts, the audit log,
 * the records the clinic sets (trackers, reminder plans, sessions, the
 * safety plan) merging with the patient's edits, and a flag the clinic
 * acknowledges.
 */
class ClinicSyncTest {
    private lateinit var server: ClinicServer
    private lateinit var tmp: TempFolder
    private val journals = mutableListOf<Journal>()
    private val syncs = mutableListOf<ClinicSync>()

    @Before
    fun startServer() {
        tmp = TempFolder()
        server = ClinicServer.start()
    }

    @After
    fun stopServer() = runBlocking<Unit> {
        try {
            syncs.forEach { it.close() }
            journals.forEach {
                it.closeJournal()
                it.close()
            }
        } finally {
            if (::server.isInitialized) server.close()
            tmp.delete()
        }
    }

    /** A new journal (a phone) and its ClinicSync, closed after the test. */
    private suspend fun phone(name: String): Pair<Journal, ClinicSync> {
        val journal = Journal.create(tmp.path("$name.cairn"), generateKey())
        journals += journal
        val sync = journal.sync()
        syncs += sync
        return journal to sync
    }

    private suspend fun Journal.notes(): List<String> = allEntries().mapNotNull { it.note }.sorted()

    @Test
    fun twoPhonesOfOnePatientConverge() = runBlocking<Unit> {
        val (a, syncA) = phone("a")
        val (b, syncB) = phone("b")
        // Logged before enrolling: sent at enrollment too.
        a.log(mood(4.0, note = "a before enrolling"))
        val enrolledA = ClinicSyncRunner.enroll(syncA, server.enrollmentCode("pat"), SHARING)
        assertEquals(1, enrolledA.sent, "$enrolledA")
        ClinicSyncRunner.enroll(syncB, server.enrollmentCode("pat"), SHARING)
        assertEquals(EnrollmentState.ACTIVE, syncA.status().enrollment)
        assertEquals(EnrollmentState.ACTIVE, syncB.status().enrollment)
        assertEquals(syncA.status().patientId, syncB.status().patientId)
        assertTrue(syncA.status().patientId.isNotEmpty())

        for (i in 1..3) {
            a.log(mood(i.toDouble(), note = "a $i", at = now().minusSeconds(60L * i)))
            b.log(mood(i + 3.0, note = "b $i", at = now().minusSeconds(30L * i)))
        }
        repeat(2) {
            ClinicSyncRunner.syncNow(syncA)
            ClinicSyncRunner.syncNow(syncB)
        }

        val all = listOf("a 1", "a 2", "a 3", "a before enrolling", "b 1", "b 2", "b 3")
        assertEquals(all, a.notes())
        assertEquals(all, b.notes())
        assertEquals(a.allEntries().map { it.id }.toSet(), b.allEntries().map { it.id }.toSet())
        assertEquals(0L, syncA.status().pending)
        assertEquals(0L, syncB.status().pending)
        assertNotNull(syncA.status().lastSync)
        assertNull(syncA.status().lastError)

        val clinic = server.entries("pat")
        assertEquals(all, clinic.map { it["note"] as String }.sorted(), "each note once at the clinic")
        assertEquals(a.allEntries().map { it.id.value }.toSet(), clinic.map { it["id"] }.toSet())

        // Nothing new: one round each, nothing sent or pulled.
        val idle = ClinicSyncRunner.syncNow(syncA)
        assertEquals(SyncSummary(1, 0, 0, 0, 0, idle.acknowledged, listOf(), false), idle)
    }

    @Test
    fun sharingManifestAndNotesTurnedOff() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING)

        val manifest = sync.manifest()
        assertEquals(SharingCategory.entries.toSet(), manifest.items.map { it.category }.toSet())
        assertEquals(setOf(SharingCategory.RATINGS, SharingCategory.NOTES), manifest.items.filter { it.shared }.map { it.category }.toSet())
        assertTrue(manifest.items.all { it.description.isNotBlank() })
        assertTrue(manifest.notes.isNotEmpty() && manifest.notes.all { it.isNotBlank() })
        assertEquals(EnrollmentState.ACTIVE, manifest.status.enrollment)

        val shared = journal.log(mood(6.0, note = "shared note"))
        ClinicSyncRunner.syncNow(sync)
        sync.setSharing(SharingCategory.NOTES, false)
        val after = sync.manifest()
        assertFalse(after.items.single { it.category == SharingCategory.NOTES }.shared)
        assertTrue(after.items.single { it.category == SharingCategory.RATINGS }.shared)
        assertEquals(listOf(SharingCategory.RATINGS), sync.status().sharing)
        assertTrue(after.notes.isNotEmpty())

        val withheld = journal.log(mood(3.0, note = "not for the clinic"))
        ClinicSyncRunner.syncNow(sync)

        val clinic = server.entries("pat").associateBy { it["id"] }
        assertEquals("shared note", clinic[shared.id.value]?.get("note"), "what the clinic received stays")
        val entry = assertNotNull(clinic[withheld.id.value], "the entry reaches the clinic")
        assertEquals(3.0, entry["value"])
        assertNull(entry["note"], "its note does not")
        assertFalse(server.entriesJson("pat").contains("not for the clinic"))
        // It stays on the phone.
        assertEquals("not for the clinic", journal.entry(withheld.id).note)
        assertTrue(sync.log(10).any { it.event == "sharing" && it.detail == "notes off" })
    }

    @Test
    fun typedErrorsOneByOne() = runBlocking<Unit> {
        val code = server.enrollmentCode("pat")
        assertEquals(server.url, checkEnrollmentCode(code))
        // A typo: one character of the code changed.
        val at = code.length / 2
        val typo = code.substring(0, at) + (if (code[at] == 'A') 'B' else 'A') + code.substring(at + 1)
        val invalid = plain(assertFailsWith<CairnException.InvalidInput> { checkEnrollmentCode(typo) })
        assertEquals("code", invalid.field)

        val (a, syncA) = phone("a")
        plain(assertFailsWith<CairnException.NotEnrolled> { syncA.status() })
        plain(assertFailsWith<CairnException.NotEnrolled> { ClinicSyncRunner.syncNow(syncA) })

        ClinicSyncRunner.enroll(syncA, code, SHARING)
        plain(assertFailsWith<CairnException.AlreadyEnrolled> { syncA.enroll(server.enrollmentCode("pat"), SHARING) })

        // The same code from a second phone.
        val (_, syncB) = phone("b")
        plain(assertFailsWith<CairnException.EnrollmentUsed> { ClinicSyncRunner.enroll(syncB, code, SHARING) })
        assertEquals(EnrollmentState.PENDING, syncB.status().enrollment)
        // A code whose secret is wrong (its checksum made right again).
        val forged = forgeSecret(server.enrollmentCode("pat"))
        assertEquals(server.url, checkEnrollmentCode(forged))
        plain(assertFailsWith<CairnException.EnrollmentRevoked> { ClinicSyncRunner.enroll(syncB, forged, SHARING) })
        // A new code works.
        ClinicSyncRunner.enroll(syncB, server.enrollmentCode("pat"), SHARING)
        assertEquals(EnrollmentState.ACTIVE, syncB.status().enrollment)

        // Garbage for a reply: nothing applied.
        a.log(mood(5.0, note = "tell nobody"))
        val pending = syncA.status().pending
        assertEquals(1L, pending)
        val request = assertNotNull(syncA.prepare())
        val bad = plain(assertFailsWith<CairnException.BadReply> { syncA.receive(request.requestId, "<html>captive portal</html>".toByteArray()) })
        assertTrue(bad.reason.isNotBlank())
        assertEquals(pending, syncA.status().pending)
        assertEquals(SyncFailureAction.RETRY, ClinicSyncRunner.failureAction(bad))

        // A reply to a request the journal is not waiting for.
        plain(assertFailsWith<CairnException.StaleReply> { syncA.receive("0".repeat(32), ByteArray(10)) })
        plain(assertFailsWith<CairnException.StaleReply> { syncA.receive(request.requestId, ByteArray(10)) })

        // The same request sent twice: the second reply is the clinic's `replayed`.
        val again = assertNotNull(syncA.prepare())
        post(again)
        val replayed = plain(assertFailsWith<CairnException.SyncRefused> { syncA.receive(again.requestId, post(again)) })
        assertEquals("replayed", replayed.reason)
        // The runner sends again by itself; the entry reaches the clinic once.
        ClinicSyncRunner.syncNow(syncA)
        assertEquals(0L, syncA.status().pending)
        assertEquals(listOf("tell nobody"), server.entries("pat").mapNotNull { it["note"] })

        // Revoked by the clinic.
        val device = syncA.status().deviceId
        server.revoke(device)
        a.log(mood(2.0))
        val revoked = plain(assertFailsWith<CairnException.DeviceRevoked> { ClinicSyncRunner.syncNow(syncA) })
        assertEquals(EnrollmentState.REVOKED, syncA.status().enrollment)
        assertEquals(SyncFailureAction.STOP, ClinicSyncRunner.failureAction(revoked))
        plain(assertFailsWith<CairnException.DeviceRevoked> { ClinicSyncRunner.syncNow(syncA) })

        // The patient withdraws on the other phone.
        ClinicSyncRunner.withdraw(syncB)
        assertEquals(EnrollmentState.WITHDRAWN, syncB.status().enrollment)
        val notEnrolled = plain(assertFailsWith<CairnException.NotEnrolled> { ClinicSyncRunner.syncNow(syncB) })
        assertEquals(SyncFailureAction.STOP, ClinicSyncRunner.failureAction(notEnrolled))
    }

    @Test
    fun transportFailuresAreRetryable() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING)
        journal.log(mood(5.0, note = "later"))

        // Nothing listens there.
        val closedPort = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        val refused = assertFailsWith<ClinicUnreachableException> {
            ClinicSyncRunner.syncNow(sync, serverOverride = "http://127.0.0.1:$closedPort")
        }
        assertNull(refused.httpStatus)
        assertEquals(SyncFailureAction.RETRY, ClinicSyncRunner.failureAction(refused))

        // A proxy that answers 503 with Retry-After: the body is not read.
        val stub = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        val paths = mutableListOf<String>()
        stub.createContext("/") { exchange ->
            paths += exchange.requestURI.path + " " + exchange.requestHeaders.getFirst("Content-Type")
            exchange.requestBody.readBytes()
            exchange.responseHeaders.add("Retry-After", "7")
            val body = "busy".toByteArray()
            exchange.sendResponseHeaders(503, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        stub.start()
        try {
            val busy = assertFailsWith<ClinicUnreachableException> {
                ClinicSyncRunner.syncNow(sync, serverOverride = "http://127.0.0.1:${stub.address.port}/")
            }
            assertEquals(503, busy.httpStatus)
            assertEquals(7L, busy.retryAfterSeconds)
            assertEquals(7L, ClinicSyncRunner.retryAfterSeconds(busy))
            assertEquals(SyncFailureAction.RETRY, ClinicSyncRunner.failureAction(busy))
            assertEquals(listOf("/v1/sync application/cairn-sync"), paths)
        } finally {
            stub.stop(0)
        }

        // Nothing was lost: the real server gets it.
        assertEquals(1L, sync.status().pending)
        val summary = ClinicSyncRunner.syncNow(sync)
        assertEquals(1, summary.sent)
        assertEquals(listOf("later"), server.entries("pat").mapNotNull { it["note"] })
        assertFailsWith<IllegalArgumentException> { ClinicSyncRunner.syncNow(sync, maxRounds = 0) }
    }

    @Test
    fun aCancelledSyncStopsWaitingAndLosesNothing() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING)
        journal.log(mood(5.0, note = "after the hang"))
        // A server that takes the request and never answers.
        val release = java.util.concurrent.CountDownLatch(1)
        val stub = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0)
        stub.executor = java.util.concurrent.Executors.newCachedThreadPool()
        stub.createContext("/") { exchange ->
            exchange.requestBody.readBytes()
            release.await(30, java.util.concurrent.TimeUnit.SECONDS)
            exchange.close()
        }
        stub.start()
        try {
            val started = System.nanoTime()
            assertFailsWith<kotlinx.coroutines.TimeoutCancellationException> {
                kotlinx.coroutines.withTimeout(500) {
                    ClinicSyncRunner.syncNow(sync, serverOverride = "http://127.0.0.1:${stub.address.port}")
                }
            }
            val ms = (System.nanoTime() - started) / 1_000_000
            assertTrue(ms < 10_000, "the cancelled request was abandoned at once, not after the read timeout ($ms ms)")
        } finally {
            release.countDown()
            stub.stop(0)
            (stub.executor as java.util.concurrent.ExecutorService).shutdownNow()
        }
        assertEquals(1L, sync.status().pending)
        assertEquals(1, ClinicSyncRunner.syncNow(sync).sent)
        assertEquals(listOf("after the hang"), server.entries("pat").mapNotNull { it["note"] })
    }

    @Test
    fun anEntryEditedOnBothPhonesIsOneConflictOnBoth() = runBlocking<Unit> {
        val (a, syncA) = phone("a")
        val (b, syncB) = phone("b")
        ClinicSyncRunner.enroll(syncA, server.enrollmentCode("pat"), SHARING)
        ClinicSyncRunner.enroll(syncB, server.enrollmentCode("pat"), SHARING)
        val at = now().minusSeconds(600)
        val entry = a.log(mood(5.0, note = "first", at = at))
        ClinicSyncRunner.syncNow(syncA)
        ClinicSyncRunner.syncNow(syncB)
        assertEquals("first", b.entry(entry.id).note)

        // Edited on both phones between syncs.
        a.updateEntry(entry.id, mood(6.0, note = "edited on a", at = at))
        b.updateEntry(entry.id, mood(2.0, note = "edited on b", at = at))
        val first = ClinicSyncRunner.syncNow(syncA)
        val second = ClinicSyncRunner.syncNow(syncB)
        val third = ClinicSyncRunner.syncNow(syncA)
        // B meets A's edit, then A meets B's: one conflict version on each.
        assertEquals(listOf(0, 1, 1), listOf(first.conflicts, second.conflicts, third.conflicts))

        val onA = syncA.conflicts()
        val onB = syncB.conflicts()
        assertEquals(1, onA.size, "$onA")
        assertEquals(onA, onB, "the same conflict version on both phones")
        assertEquals(entry.id, onA.single().entryId)
        assertEquals(1L, syncA.status().conflicts)
        assertEquals(1L, syncB.status().conflicts)
        // Both show the same version, and the conflict holds the other one.
        val shownA = a.entry(entry.id)
        val shownB = b.entry(entry.id)
        assertEquals(shownA.note, shownB.note)
        assertEquals(shownA.value, shownB.value)
        val other = assertNotNull(onA.single().entry)
        assertEquals(setOf("edited on a", "edited on b"), setOf(shownA.note, other.note))

        // Editing it again resolves the conflict, on both once synced.
        a.updateEntry(entry.id, mood(4.0, note = "settled", at = at))
        ClinicSyncRunner.syncNow(syncA)
        ClinicSyncRunner.syncNow(syncB)
        assertEquals(listOf(), syncA.conflicts())
        assertEquals(listOf(), syncB.conflicts())
        assertEquals("settled", b.entry(entry.id).note)
    }

    @Test
    fun aDeleteAgainstAnEditIsResolvedByKeepingTheEdit() = runBlocking<Unit> {
        val (a, syncA) = phone("a")
        val (b, syncB) = phone("b")
        ClinicSyncRunner.enroll(syncA, server.enrollmentCode("pat"), SHARING)
        ClinicSyncRunner.enroll(syncB, server.enrollmentCode("pat"), SHARING)
        val at = now().minusSeconds(600)
        val entry = a.log(mood(5.0, note = "first", at = at))
        val untouched = a.log(mood(7.0, note = "never in conflict", at = at.minusSeconds(60)))
        ClinicSyncRunner.syncNow(syncA)
        ClinicSyncRunner.syncNow(syncB)
        assertEquals("first", b.entry(entry.id).note)

        // No conflict version: NotFound.
        val none = assertFailsWith<CairnException.NotFound> { syncA.resolveConflict(untouched.id, null) }
        assertEquals("conflicts", none.table)
        assertEquals(untouched.id.value, none.id)
        assertFailsWith<CairnException.NotFound> { syncA.resolveConflict(entry.id, null) }

        // Offline on both phones: A deletes the entry, B edits its note.
        a.deleteEntry(entry.id)
        b.updateEntry(entry.id, mood(5.0, note = "edited on b", at = at))
        repeat(2) {
            ClinicSyncRunner.syncNow(syncA)
            ClinicSyncRunner.syncNow(syncB)
        }

        val onA = syncA.conflicts()
        val onB = syncB.conflicts()
        assertEquals(1, onA.size, "$onA")
        assertEquals(onA, onB, "the same conflict version on both phones")
        val conflict = onA.single()
        assertEquals(entry.id, conflict.entryId)
        val deviceA = syncA.status().deviceId
        val deviceB = syncB.status().deviceId
        // Both phones show the same winner; the conflict holds the other version.
        val shownA = runCatching { a.entry(entry.id) }
        val shownB = runCatching { b.entry(entry.id) }
        val deleteWon = shownA.isFailure
        assertEquals(deleteWon, shownB.isFailure, "the same winner on both phones: $shownA / $shownB")
        if (deleteWon) {
            assertTrue(shownA.exceptionOrNull() is CairnException.NotFound, "$shownA")
            assertEquals(deviceB, conflict.author)
            assertEquals("edited on b", assertNotNull(conflict.entry).note)
        } else {
            assertEquals("edited on b", shownA.getOrThrow().note)
            assertEquals("edited on b", shownB.getOrThrow().note)
            assertEquals(deviceA, conflict.author)
            assertNull(conflict.entry, "the conflict version is the delete")
        }

        // Resolved on A, keeping the edit: name its author if it is the
        // conflict version, keep what is shown otherwise.
        val kept = assertNotNull(syncA.resolveConflict(entry.id, if (deleteWon) conflict.author else null))
        assertEquals(entry.id, kept.id)
        assertEquals("edited on b", kept.note)
        assertEquals(Value.Scale(5.0), kept.value)
        assertEquals(kept, a.entry(entry.id), "the entry is back on A")
        assertEquals(listOf(), syncA.conflicts())
        assertFailsWith<CairnException.NotFound> { syncA.resolveConflict(entry.id, null) }

        repeat(2) {
            ClinicSyncRunner.syncNow(syncA)
            ClinicSyncRunner.syncNow(syncB)
        }
        assertEquals(listOf(), syncA.conflicts())
        assertEquals(listOf(), syncB.conflicts())
        assertEquals(0L, syncA.status().conflicts)
        assertEquals(0L, syncB.status().conflicts)
        assertEquals("edited on b", a.entry(entry.id).note)
        assertEquals("edited on b", b.entry(entry.id).note)
        assertEquals(listOf("edited on b", "never in conflict"), a.notes())
        assertEquals(listOf("edited on b", "never in conflict"), b.notes())
        assertFailsWith<CairnException.NotFound> { syncB.resolveConflict(entry.id, null) }

        val atClinic = server.entries("pat").filter { it["id"] == entry.id.value }
        assertEquals(1, atClinic.size, "the entry once at the clinic: ${server.entriesJson("pat")}")
        assertEquals("edited on b", atClinic.single()["note"])
        assertEquals(5.0, atClinic.single()["value"])
    }

    @Test
    fun theLogKeepsTheClinicsReceipts() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING)
        journal.log(mood(5.0))
        journal.log(mood(6.0))
        ClinicSyncRunner.syncNow(sync)

        val log = sync.log(50)
        assertTrue(log.isNotEmpty())
        assertEquals(log.sortedByDescending { it.at }, log, "newest first")
        assertTrue(log.any { it.event == "enroll" }, "$log")
        val pushes = log.filter { it.event == "push" }
        assertTrue(pushes.isNotEmpty(), "$log")
        for (p in pushes) {
            assertTrue(p.receipt.matches(Regex("[0-9a-f]{128}")), "a signed receipt (64 bytes, hex): ${p.receipt}")
        }
        assertEquals(2L, pushes.maxOf { it.acknowledged }, "both entries acknowledged")
        assertTrue(pushes.sumOf { it.sent } >= 2)
        assertEquals(1, sync.log(1).size)
        assertFailsWith<CairnException.InvalidInput> { sync.log(-1) }
    }

    @Test
    fun whatTheClinicSetsReachesThePhoneAndSafetyPlanEditsMerge() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING + SharingCategory.SAFETY_PLAN)

        // Between two syncs, the clinic defines a tracker, a routine after
        // each infusion, tomorrow's infusion and three parts of the safety plan.
        val trackerId = server.command(
            "tracker", "add", "--patient", "pat", "--name", "Dissociation", "--kind", "scale",
            "--min", "0", "--max", "4", "--min-label", "not at all", "--max-label", "completely",
        )
        val routineId = server.command(
            "reminder", "add", "--patient", "pat", "--category", "post-session",
            "--after-event", "infusion", "--steps", "30m,1d@09:00", "--title", "Drink water",
        )
        val infusionDay = LocalDate.now(PARIS).plusDays(1)
        val infusionAt = infusionDay.atTime(10, 0).atZone(PARIS).toInstant()
        val sessionId = server.command(
            "session", "add", "--patient", "pat", "--kind", "infusion", "--at", infusionAt.toString(), "--zone", "Europe/Paris",
        )
        for (id in listOf(trackerId, routineId, sessionId)) assertTrue(id.matches(Regex("[0-9a-f]{32}")), id)
        server.command("safety-plan", "set", "--patient", "pat", "--part", "warning-signs", "Not sleeping", "Skipping meals")
        server.command("safety-plan", "set", "--patient", "pat", "--part", "people", "Sam (sister)")
        server.command("safety-plan", "set", "--patient", "pat", "--part", "professionals", "Clinic line 01 23 45 67 89")

        assertTrue(ClinicSyncRunner.syncNow(sync).pulled > 0)

        // The tracker, ready to rate on.
        val scale = TrackerKind.Scale(0.0, 4.0, 1.0, "not at all", "completely")
        assertEquals(listOf(Tracker(TrackerId(trackerId), "Dissociation", scale, false)), journal.trackers().filter { !it.builtin })
        assertEquals(TrackerId(trackerId), journal.tracker("Dissociation").id)
        val rated = journal.log(NewEntry(tracker = "Dissociation", value = Value.Scale(3.0), at = now(), zone = PARIS))
        assertEquals(TrackerId(trackerId), rated.tracker)

        // The routine and the session it follows.
        val rules = journal.reminders().list()
        assertEquals(listOf(), rules.corrupted)
        val routine = rules.reminders.single()
        assertEquals(ReminderId(routineId), routine.id)
        assertEquals(ReminderCategory.POST_SESSION, routine.category)
        assertEquals(
            ReminderSchedule.AfterEvent("infusion", listOf(ReminderStep.After(30), ReminderStep.DayAt(1, time("09:00")))),
            routine.schedule,
        )
        assertEquals("Drink water", routine.title)
        assertTrue(routine.enabled)
        assertNull(routine.zone, "it follows the phone's zone")
        assertEquals(listOf(ReminderEvent(EventId(sessionId), "infusion", infusionAt, PARIS)), journal.reminders().events())
        // The phone plans its notifications from them: 30 minutes after the
        // infusion, then 09:00 the day after.
        val planned = journal.reminders().plan(now(), PARIS, androidLimits(true), 7).notifications
            .filter { it.reminderId == routine.id }
        assertEquals(
            listOf(infusionAt + 30 * MINUTE, infusionDay.plusDays(1).atTime(9, 0).atZone(PARIS).toInstant()),
            planned.map { it.fireAt },
        )

        // The safety plan, part by part.
        val fromClinic = SafetyPlan(
            warningSigns = listOf("Not sleeping", "Skipping meals"),
            copingStrategies = listOf(),
            distractions = listOf(),
            peopleToAsk = listOf("Sam (sister)"),
            professionals = listOf("Clinic line 01 23 45 67 89"),
            safeEnvironment = listOf(),
            reasonsForLiving = listOf(),
        )
        assertEquals(fromClinic, journal.safetyPlan())
        assertEquals(fromClinic.byPart(), server.safetyPlan("pat"))

        // Before the next sync, the patient adds a warning sign on the phone
        // and the clinic someone to ask: both edits hold, on both sides.
        val onPhone = journal.safetyPlan().let { it.copy(warningSigns = it.warningSigns + "Staying in bed") }
        assertEquals(onPhone, journal.setSafetyPlan(onPhone))
        server.command("safety-plan", "set", "--patient", "pat", "--part", "people", "Sam (sister)", "Crisis line 3114")
        ClinicSyncRunner.syncNow(sync)

        val merged = fromClinic.copy(
            warningSigns = listOf("Not sleeping", "Skipping meals", "Staying in bed"),
            peopleToAsk = listOf("Sam (sister)", "Crisis line 3114"),
        )
        assertEquals(merged, journal.safetyPlan())
        assertEquals(merged.byPart(), server.safetyPlan("pat"))
        assertEquals(0L, sync.status().pending)
        // The rating on the clinic's tracker reached the clinic.
        val entry = server.entries("pat").single { it["id"] == rated.id.value }
        assertEquals(trackerId, entry["tracker"])
        assertEquals(3.0, entry["value"])
    }

    @Test
    fun aFlagRaisedOnThePhoneIsAcknowledgedByTheClinic() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        ClinicSyncRunner.enroll(
            sync, server.enrollmentCode("pat"), SHARING + SharingCategory.QUESTIONNAIRES + SharingCategory.FLAGS,
        )
        val checkIn = journal.checkin("phq9", listOf(1, 1, 1, 1, 1, 1, 1, 1, 2), now(), PARIS)
        val flag = checkIn.flags.single()
        assertEquals(FlagState.OPEN, flag.state)
        ClinicSyncRunner.syncNow(sync)

        val atClinic = server.flags().single()
        assertEquals(flag.id.value, atClinic["id"])
        assertEquals("pat", atClinic["patient"])
        assertEquals("item9_positive", atClinic["kind"])
        assertEquals(flag.reason, atClinic["reason"])
        assertEquals(checkIn.entry.id.value, atClinic["source"])
        assertEquals("open", atClinic["state"])

        assertEquals("acknowledged", server.command("ack-flag", "--patient", "pat", "--by", "Dr Rivera", flag.id.value))
        assertEquals("acknowledged", server.flags().single()["state"])
        // Not on the phone until it syncs.
        assertEquals(FlagState.OPEN, journal.flags().single().state)
        assertTrue(ClinicSyncRunner.syncNow(sync).pulled > 0)

        val acknowledged = journal.flags().single()
        assertEquals(flag.id, acknowledged.id)
        assertEquals(FlagState.ACKNOWLEDGED, acknowledged.state)
        assertEquals("Dr Rivera", acknowledged.acknowledgedBy)
        val at = assertNotNull(acknowledged.acknowledgedAt)
        assertTrue(at >= flag.raisedAt && at <= now().plusSeconds(60), "$at")
        assertEquals(flag.copy(state = FlagState.ACKNOWLEDGED, acknowledgedAt = at, acknowledgedBy = "Dr Rivera"), acknowledged)
        assertEquals(0L, sync.status().pending)
        assertEquals("Dr Rivera", server.flags().single()["acknowledged_by"])
    }

    @Test
    fun theClinicsSettingsReachThePhone() = runBlocking<Unit> {
        val (journal, sync) = phone("a")
        assertEquals(ClinicSettings(null, null, null), journal.clinicSettings())
        ClinicSyncRunner.enroll(sync, server.enrollmentCode("pat"), SHARING)
        assertEquals(ClinicSettings(null, null, null), journal.clinicSettings(), "nothing set yet")
        server.command(
            "settings", "--patient", "pat", "--clinic-name", "Northside Clinic",
            "--review-within", "within 2 working days",
        )
        assertTrue(ClinicSyncRunner.syncNow(sync).pulled > 0)
        val settings = journal.clinicSettings()
        assertEquals(ClinicSettings("Northside Clinic", "within 2 working days", null), settings)
        // What the app shows the patient, from them.
        val statement = monitoringStatement(
            MonitoringFacts(enrolled = true, flagsShared = true, clinic = settings.clinicName, reviewWithin = settings.reviewWithin),
        )
        assertTrue(statement.whoSees.contains("Northside Clinic"), statement.whoSees)
        assertTrue(statement.review.contains("within 2 working days"), statement.review)

        // Enrolled, the FHIR Bundle names the clinic's patient.
        journal.checkin("phq9", listOf(0, 0, 0, 0, 0, 0, 0, 0, 0), now(), PARIS)
        val bundle = journal.fhirBundle()
        val patient = "Patient/${sync.status().patientId}"
        assertTrue(sync.status().patientId.isNotEmpty())
        assertTrue(bundle.json.contains("\"$patient\""), bundle.json.take(2000))
    }

    /** The plan's parts by the names `safety-plan show --json` gives them. */
    private fun SafetyPlan.byPart(): Map<String, List<String>> = mapOf(
        "warning_signs" to warningSigns,
        "coping_strategies" to copingStrategies,
        "distractions" to distractions,
        "people_to_ask" to peopleToAsk,
        "professionals" to professionals,
        "safe_environment" to safeEnvironment,
        "reasons_for_living" to reasonsForLiving,
    )

    /** [e]'s message is a plain sentence (no field dump, no class name) without the patient's words. */
    private fun <E : CairnException> plain(e: E): E {
        val m = assertNotNull(e.message)
        assertTrue(m.isNotBlank() && '=' !in m && !m.contains("Exception"), "not a plain sentence: $m")
        for (words in listOf("tell nobody", "captive portal")) assertFalse(m.contains(words), "patient text in: $m")
        return e
    }

    /** POSTs a request's bytes as they are, the way ClinicSyncRunner does; the reply's bytes. */
    private fun post(request: SyncRequest): ByteArray {
        val c = URL(request.url).openConnection() as HttpURLConnection
        try {
            c.requestMethod = "POST"
            c.doOutput = true
            c.setRequestProperty("Content-Type", request.contentType)
            c.outputStream.use { it.write(request.body) }
            assertEquals(200, c.responseCode)
            return c.inputStream.use { it.readBytes() }
        } finally {
            c.disconnect()
        }
    }

    /**
     * [code] with one byte of its one-time secret changed and its checksum
     * (the first 4 bytes of SHA-256 of the rest) made right again: a code
     * that reads well and whose proof the clinic refuses.
     */
    private fun forgeSecret(code: String): String {
        val alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        val bytes = java.io.ByteArrayOutputStream()
        var acc = 0
        var bits = 0
        for (c in code.removePrefix("CAIRN1")) {
            acc = (acc shl 5) or alphabet.indexOf(c)
            bits += 5
            if (bits >= 8) {
                bits -= 8
                bytes.write((acc shr bits) and 0xff)
            }
            acc = acc and ((1 shl bits) - 1)
        }
        val body = bytes.toByteArray().copyOf(bytes.size() - 4)
        // version (1) || clinic id (16) || enrollment id (16) || secret (16) ...
        body[33] = (body[33].toInt() xor 1).toByte()
        val all = body + java.security.MessageDigest.getInstance("SHA-256").digest(body).copyOf(4)
        val out = StringBuilder("CAIRN1")
        acc = 0
        bits = 0
        for (b in all) {
            acc = (acc shl 8) or (b.toInt() and 0xff)
            bits += 8
            while (bits >= 5) {
                bits -= 5
                out.append(alphabet[(acc shr bits) and 31])
            }
            acc = acc and ((1 shl bits) - 1)
        }
        if (bits > 0) out.append(alphabet[(acc shl (5 - bits)) and 31])
        return out.toString()
    }

    private companion object {
        val SHARING = listOf(SharingCategory.RATINGS, SharingCategory.NOTES)
    }
}
