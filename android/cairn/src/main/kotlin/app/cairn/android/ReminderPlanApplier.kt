package app.cairn.android

import app.cairn.PlannedNotification
import app.cairn.PlatformLimits
import app.cairn.RecordRef
import app.cairn.Reminder
import app.cairn.Reminders
import app.cairn.androidLimits
import app.cairn.diffPlan
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import java.time.Duration
import java.time.Instant
import java.time.ZoneId

// Plain JVM code (no android.* imports), so that tests/kotlin.sh runs its
// tests on the desktop; AlarmManagerPlanApplier plugs AlarmManager and
// SharedPreferences in.

/**
 * One alarm to set for a planned notification: exactly at [triggerAt]
 * (`setExactAndAllowWhileIdle`), or anywhere in the [window] after it
 * (`setWindow`). [showsTitle] is true when the notification carries the
 * rule's own title (the patient opted in with `showTitle`) rather than the
 * core's generic text: it is then posted private, with a generic public
 * version for the lock screen.
 */
data class AlarmRequest(
    val notification: PlannedNotification,
    val exact: Boolean,
    val window: Duration,
    val showsTitle: Boolean = false,
) {
    /** The plan's stable id: the alarm's identity in the OS. */
    val id: String get() = notification.id

    /** When the alarm goes off: the notification's `fireAt`. */
    val triggerAt: Instant get() = notification.fireAt
}

/**
 * What this app believes the OS holds: AlarmManager cannot list an app's
 * alarms, so the ids are kept beside them. [exact] is the mode they were set
 * in, or null when unknown (never applied, or an apply was interrupted):
 * then the next apply sets everything again.
 */
data class HeldAlarms(val ids: Set<String>, val exact: Boolean?) {
    companion object {
        val NONE = HeldAlarms(emptySet(), null)
    }
}

/** Where [HeldAlarms] are kept (Android: app-private SharedPreferences). Durable when `save` returns. */
interface HeldAlarmStore {
    fun load(): HeldAlarms
    fun save(held: HeldAlarms)
}

/** The OS's alarm service (Android: AlarmManager). */
interface AlarmBackend {
    /** Whether exact alarms may be set now (`canScheduleExactAlarms()` on Android 12+, always below). */
    fun exactAlarmsAllowed(): Boolean

    /** Sets (or replaces, for the same id) an alarm. */
    fun schedule(alarm: AlarmRequest)

    /** Cancels the alarm with this id; nothing if there is none. */
    fun cancel(id: String)
}

/** What one apply did. */
data class AppliedPlan(
    /** Notifications in the plan (including those already due, kept until delivered). */
    val planned: Int,
    /** Alarms set now. */
    val scheduled: List<String>,
    /** Alarms cancelled now. */
    val cancelled: List<String>,
    /** Whether the alarms are exact; false means the app lacks the exact-alarm permission. */
    val exact: Boolean,
    /** Whether every alarm was set again rather than only the difference. */
    val resynced: Boolean,
    /** Damaged records the plan skipped (ids only: safe to log); every good rule is still planned. */
    val corrupted: List<RecordRef> = emptyList(),
)

/** The alarms to cancel and to set, and the ids held afterwards. */
data class AlarmChanges(val cancel: List<String>, val schedule: List<AlarmRequest>, val held: Set<String>)

/**
 * Applies the core's reminder plan to an [AlarmBackend]: computes the plan
 * (`Reminders.plan`) for the device's zone, compares it with the ids held
 * ([HeldAlarmStore], through `diffPlan`), cancels the alarms no longer
 * planned and sets the new ones, exact when the backend allows it and
 * otherwise in a delivery window. Re-applying an unchanged plan changes
 * nothing: ids are stable.
 *
 * Applies (and [clear]) are serialised within the process, suspending
 * rather than blocking while another runs. The backend and the store are
 * called on the caller's dispatcher: `AlarmManagerPlanApplier` moves to
 * `Dispatchers.IO` for them. Does not close [reminders].
 *
 * @param horizonDays how far ahead to plan (1-62).
 * @param maxAlarms at most this many alarms: Android allows an app 500
 *   alarms in all, WorkManager's included, and throws past that.
 */
class ReminderPlanApplier(
    private val reminders: Reminders,
    private val alarms: AlarmBackend,
    private val store: HeldAlarmStore,
    private val horizonDays: Int = DEFAULT_HORIZON_DAYS,
    private val maxAlarms: Int = DEFAULT_MAX_ALARMS,
) {
    /**
     * Brings the OS's alarms in line with the plan at [now] in [deviceZone]
     * (`ZoneId.systemDefault()`).
     *
     * @param resync set every planned alarm again, not only the new ones:
     *   after a reboot, a clock change, an app update or a force stop (all of
     *   which may have dropped alarms without telling the app), and at app
     *   start. Also done on its own when the exact-alarm permission changed
     *   since the last apply, or when the last one was interrupted.
     * @throws app.cairn.CairnException from the journal (`Closed`,
     *   `UnknownZone` for a zone the zone database lacks...); nothing was
     *   changed then.
     */
    suspend fun applyPlan(deviceZone: ZoneId, now: Instant = Instant.now(), resync: Boolean = false): AppliedPlan =
        LOCK.withLock {
            val exact = alarms.exactAlarmsAllowed()
            // Planned from a while back, so that an alarm the OS has not
            // delivered yet (an inexact window, Doze) is not cancelled
            // because its fire time has passed.
            val planned = reminders.plan(now - LOOKBACK, deviceZone, limits(exact), horizonDays)
            val held = store.load()
            val full = resync || held.exact != exact
            var changes = changes(planned.notifications, held, exact, now, full)
            if (changes.schedule.isNotEmpty()) changes = changes.withTitles(reminders.list().reminders)
            if (changes.cancel.isNotEmpty() || changes.schedule.isNotEmpty() || held != HeldAlarms(changes.held, exact)) {
                // Written ahead: if the process dies half-way, the ids that
                // may be set are known and the next apply sets all again.
                store.save(HeldAlarms(held.ids + changes.schedule.map { it.id }, exact = null))
                for (id in changes.cancel) alarms.cancel(id)
                for (a in changes.schedule) alarms.schedule(a)
                store.save(HeldAlarms(changes.held, exact))
            }
            AppliedPlan(
                planned.notifications.size,
                changes.schedule.map { it.id },
                changes.cancel,
                exact,
                full,
                planned.corrupted,
            )
        }

    /**
     * [applyPlan] for a platform callback that must finish before it
     * returns (a `BroadcastReceiver` without `goAsync()`): blocks the calling
     * thread until the alarms are set. Never call it from the main thread or
     * from a coroutine (use [applyPlan] there).
     */
    fun applyPlanBlocking(deviceZone: ZoneId, now: Instant = Instant.now(), resync: Boolean = false): AppliedPlan =
        // Not built on planBlocking alone: the apply also reads the rules
        // (list(), to post titled notifications privately), which has no
        // blocking twin; one code path keeps the two in step.
        runBlocking { applyPlan(deviceZone, now, resync) }

    /** Cancels every alarm held and forgets them (sign-out, a wiped journal). */
    suspend fun clear(): List<String> = LOCK.withLock {
        val held = store.load()
        store.save(HeldAlarms(held.ids, exact = null))
        val ids = held.ids.sorted()
        for (id in ids) alarms.cancel(id)
        store.save(HeldAlarms.NONE)
        ids
    }

    /**
     * Marks the alarms whose notification may show its rule's own title (one
     * look at the [rules], only when alarms are set). Read after the plan, so
     * a rule changed in between errs on the private side: one deleted, or
     * whose own title the notification carries, counts as titled.
     */
    private fun AlarmChanges.withTitles(rules: List<Reminder>): AlarmChanges {
        val byId = rules.associateBy { it.id }
        return copy(
            schedule = schedule.map { a ->
                val rule = byId[a.notification.reminderId]
                val titled = rule == null || rule.showTitle || (rule.title != null && rule.title == a.notification.title)
                if (titled) a.copy(showsTitle = true) else a
            },
        )
    }

    private fun limits(exact: Boolean): PlatformLimits {
        val l = androidLimits(exact)
        return if (l.maxPending > maxAlarms) l.copy(maxPending = maxAlarms) else l
    }

    companion object {
        const val DEFAULT_HORIZON_DAYS: Int = 7
        const val DEFAULT_MAX_ALARMS: Int = 400

        /**
         * How long after its fire time an alarm stays held though no longer
         * planned: Doze and inexact windows may deliver that late. Never
         * longer than a day, so that only the occurrence itself is kept.
         */
        val LOOKBACK: Duration = Duration.ofHours(1)

        /** Smallest delivery window of an inexact alarm. */
        val MIN_WINDOW: Duration = Duration.ofMinutes(10)

        /** One apply at a time in the process, whichever applier and journal handle. */
        private val LOCK = Mutex()

        /**
         * The pure decision: what to cancel and set given [plan] (computed
         * from [LOOKBACK] before [now]), the ids [held], whether exact
         * alarms are allowed, and whether to set everything again ([full]).
         *
         * - cancel: held ids not in the plan (`diffPlan`'s `remove`);
         * - set: planned notifications not held (all of them when [full]),
         *   only those still ahead of [now]: one already due is left to the
         *   alarm that may still deliver it, never set again to show twice;
         * - held afterwards: planned ids that were held or are set now.
         */
        fun changes(
            plan: List<PlannedNotification>,
            held: HeldAlarms,
            exactAllowed: Boolean,
            now: Instant,
            full: Boolean,
        ): AlarmChanges {
            val heldIds = held.ids.sorted()
            val diff = diffPlan(plan, heldIds)
            val candidates = if (full) plan else diff.add
            val schedule = candidates.filter { it.fireAt >= now }.map { request(it, exactAllowed) }
            val scheduled = schedule.mapTo(HashSet()) { it.id }
            val kept = plan.mapNotNullTo(HashSet()) { n -> n.id.takeIf { it in held.ids || it in scheduled } }
            return AlarmChanges(diff.remove, schedule, kept)
        }

        /** Exact only when both the plan and the OS allow it; otherwise a window of at least [MIN_WINDOW]. */
        fun request(n: PlannedNotification, exactAllowed: Boolean): AlarmRequest =
            if (n.exact && exactAllowed) {
                AlarmRequest(n, exact = true, window = Duration.ZERO)
            } else {
                AlarmRequest(n, exact = false, window = maxOf(Duration.ofMinutes(n.windowMinutes.toLong()), MIN_WINDOW))
            }
    }
}
