package app.cairn.android

import app.cairn.PlannedNotification
import app.cairn.PlatformLimits
import app.cairn.RecordRef
import app.cairn.Reminders
import app.cairn.androidLimits
import app.cairn.diffPlan

// Plain JVM code (no android.* imports), so that tests/kotlin.sh runs its
// tests on the desktop; AlarmManagerPlanApplier plugs AlarmManager and
// SharedPreferences in.

/**
 * One alarm to set for a planned notification: exactly at [triggerAtMs]
 * (`setExactAndAllowWhileIdle`), or anywhere in the [windowMs] after it
 * (`setWindow`). [showsTitle] is true when the notification carries the
 * rule's own title (the patient opted in with `showTitle`) rather than the
 * core's generic text: it is then posted private, with a generic public
 * version for the lock screen.
 */
data class AlarmRequest(
    val notification: PlannedNotification,
    val exact: Boolean,
    val windowMs: Long,
    val showsTitle: Boolean = false,
) {
    /** The plan's stable id: the alarm's identity in the OS. */
    val id: String get() = notification.id
    val triggerAtMs: Long get() = notification.fireAtMs
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
 * Blocking (the journal's disk I/O): call off the main thread. Applies are
 * serialised within the process. Does not close [reminders].
 *
 * @param horizonDays how far ahead to plan (1-62).
 * @param maxAlarms at most this many alarms: Android allows an app 500
 *   alarms in all, WorkManager's included, and throws past that.
 */
class ReminderPlanApplier(
    private val reminders: Reminders,
    private val alarms: AlarmBackend,
    private val store: HeldAlarmStore,
    private val horizonDays: UInt = DEFAULT_HORIZON_DAYS,
    private val maxAlarms: UInt = DEFAULT_MAX_ALARMS,
) {
    /**
     * Brings the OS's alarms in line with the plan at [nowMs] in [deviceZone]
     * (an IANA name: `ZoneId.systemDefault().id`).
     *
     * @param resync set every planned alarm again, not only the new ones:
     *   after a reboot, a clock change, an app update or a force stop (all of
     *   which may have dropped alarms without telling the app), and at app
     *   start. Also done on its own when the exact-alarm permission changed
     *   since the last apply, or when the last one was interrupted.
     * @throws app.cairn.CairnException from the journal (`Closed`, an unknown
     *   zone as `InvalidInput`...); nothing was changed then.
     */
    fun apply(deviceZone: String, nowMs: Long = System.currentTimeMillis(), resync: Boolean = false): AppliedPlan =
        synchronized(LOCK) {
            val exact = alarms.exactAlarmsAllowed()
            val limits = limits(exact)
            // Planned from a while back, so that an alarm the OS has not
            // delivered yet (an inexact window, Doze) is not cancelled
            // because its fire time has passed.
            val planned = reminders.plan(nowMs - LOOKBACK_MS, deviceZone, limits, horizonDays)
            val plan = planned.notifications
            val held = store.load()
            val full = resync || held.exact != exact
            val changes = changes(plan, held, exact, nowMs, full).withTitles()
            if (changes.cancel.isNotEmpty() || changes.schedule.isNotEmpty() || held != HeldAlarms(changes.held, exact)) {
                // Written ahead: if the process dies half-way, the ids that
                // may be set are known and the next apply sets all again.
                store.save(HeldAlarms(held.ids + changes.schedule.map { it.id }, exact = null))
                for (id in changes.cancel) alarms.cancel(id)
                for (a in changes.schedule) alarms.schedule(a)
                store.save(HeldAlarms(changes.held, exact))
            }
            AppliedPlan(plan.size, changes.schedule.map { it.id }, changes.cancel, exact, full, planned.corrupted)
        }

    /** Cancels every alarm held and forgets them (sign-out, a wiped journal). */
    fun clear(): List<String> = synchronized(LOCK) {
        val held = store.load()
        store.save(HeldAlarms(held.ids, exact = null))
        val ids = held.ids.sorted()
        for (id in ids) alarms.cancel(id)
        store.save(HeldAlarms.NONE)
        ids
    }

    /**
     * Marks the alarms whose notification may show its rule's own title (one
     * look at the rules, only when alarms are set). Read after the plan, so
     * a rule changed in between errs on the private side: one deleted, or
     * whose own title the notification carries, counts as titled.
     */
    private fun AlarmChanges.withTitles(): AlarmChanges {
        if (schedule.isEmpty()) return this
        val rules = reminders.list().reminders.associateBy { it.id }
        return copy(
            schedule = schedule.map { a ->
                val rule = rules[a.notification.reminderId]
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
        const val DEFAULT_HORIZON_DAYS: UInt = 7u
        const val DEFAULT_MAX_ALARMS: UInt = 400u

        /**
         * How long after its fire time an alarm stays held though no longer
         * planned: Doze and inexact windows may deliver that late. Never
         * longer than a day, so that only the occurrence itself is kept.
         */
        const val LOOKBACK_MS: Long = 60 * 60_000L

        /** Smallest delivery window of an inexact alarm. */
        const val MIN_WINDOW_MS: Long = 10 * 60_000L

        private val LOCK = Any()

        /**
         * The pure decision: what to cancel and set given [plan] (computed
         * from [LOOKBACK_MS] before [nowMs]), the ids [held], whether exact
         * alarms are allowed, and whether to set everything again ([full]).
         *
         * - cancel: held ids not in the plan (`diffPlan`'s `remove`);
         * - set: planned notifications not held (all of them when [full]),
         *   only those still ahead of [nowMs]: one already due is left to the
         *   alarm that may still deliver it, never set again to show twice;
         * - held afterwards: planned ids that were held or are set now.
         */
        fun changes(
            plan: List<PlannedNotification>,
            held: HeldAlarms,
            exactAllowed: Boolean,
            nowMs: Long,
            full: Boolean,
        ): AlarmChanges {
            val heldIds = held.ids.sorted()
            val diff = diffPlan(plan, heldIds)
            val candidates = if (full) plan else diff.add
            val schedule = candidates.filter { it.fireAtMs >= nowMs }.map { request(it, exactAllowed) }
            val scheduled = schedule.mapTo(HashSet()) { it.id }
            val kept = plan.mapNotNullTo(HashSet()) { n -> n.id.takeIf { it in held.ids || it in scheduled } }
            return AlarmChanges(diff.remove, schedule, kept)
        }

        /** Exact only when both the plan and the OS allow it; otherwise a window of at least [MIN_WINDOW_MS]. */
        fun request(n: PlannedNotification, exactAllowed: Boolean): AlarmRequest =
            if (n.exact && exactAllowed) {
                AlarmRequest(n, exact = true, windowMs = 0)
            } else {
                AlarmRequest(n, exact = false, windowMs = maxOf(n.windowMinutes.toLong() * 60_000L, MIN_WINDOW_MS))
            }
    }
}
