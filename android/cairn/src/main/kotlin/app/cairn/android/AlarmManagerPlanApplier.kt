package app.cairn.android

import android.Manifest
import android.annotation.SuppressLint
import android.app.AlarmManager
import android.app.PendingIntent
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.SharedPreferences
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Build
import android.util.Log
import androidx.annotation.WorkerThread
import androidx.core.app.NotificationChannelCompat
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import app.cairn.CairnException
import app.cairn.PlannedNotification
import app.cairn.ReminderReport
import app.cairn.Reminders
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.IOException
import java.time.Instant
import java.time.ZoneId

/**
 * What the reminder receivers need from the app. Implement it on the
 * `Application`: the receivers run when the app is not on screen (an alarm,
 * a reboot) and find it through `context.applicationContext`.
 */
interface ReminderHost {
    /**
     * The reminders of the app's open journal (opening it if needed, with
     * `Journal.openOrCreate(file, KeystoreKeyProvider(this))`), or null when
     * it cannot be opened now (no journal yet, signed out). Called from a
     * coroutine on `Dispatchers.IO`; the host keeps ownership: the receivers
     * never close it.
     */
    suspend fun cairnReminders(): Reminders?

    /** The notifications' small icon: a monochrome drawable. Defaults to the app's icon. */
    fun reminderSmallIcon(): Int = 0

    /** The channel's name in the system settings. */
    fun reminderChannelName(): CharSequence = ReminderAlarmReceiver.CHANNEL_NAME

    /**
     * The title of the public version of a notification that shows a rule's
     * own title (the version the lock screen shows while the phone is
     * locked); its text is the core's generic text of that reminder.
     * Override it to translate.
     */
    fun reminderPublicTitle(): CharSequence = ReminderAlarmReceiver.PUBLIC_TITLE
}

/**
 * Hands the core's reminder plan to AlarmManager: [ReminderPlanApplier] with
 * AlarmManager as the backend and the held ids in SharedPreferences
 * (`app.cairn.reminders`). Each alarm, when it fires, reaches
 * [ReminderAlarmReceiver], which posts the notification.
 *
 * Call [applyPlan] at app start (with `resync = true`), after every change to
 * the rules or the quiet hours, and after each report; the receivers call it
 * after a notification was shown, at boot, and on time-zone and clock
 * changes. It suspends, and moves to `Dispatchers.IO` for AlarmManager and
 * SharedPreferences: call it from any coroutine.
 */
class AlarmManagerPlanApplier(
    context: Context,
    reminders: Reminders,
    horizonDays: Int = ReminderPlanApplier.DEFAULT_HORIZON_DAYS,
) {
    private val context = context.applicationContext
    private val applier = ReminderPlanApplier(
        reminders,
        AlarmManagerBackend(this.context),
        SharedPreferencesHeldAlarms(prefs(this.context)),
        horizonDays,
    )

    /**
     * Applies the plan for the device's current zone
     * (`ZoneId.systemDefault()`).
     *
     * @param resync set every alarm again (see [ReminderPlanApplier.applyPlan]).
     * @throws CairnException from the journal: `Closed`, or `UnknownZone` if
     *   the device's zone is not an IANA zone Cairn knows (a custom
     *   `GMT+02:00`); nothing changes then.
     */
    suspend fun applyPlan(resync: Boolean = false): AppliedPlan = withContext(Dispatchers.IO) {
        applier.applyPlan(ZoneId.systemDefault(), Instant.now(), resync).also(::logDamage)
    }

    /**
     * [applyPlan] for a platform callback that must finish before it returns
     * (a `BroadcastReceiver` of the app's own without `goAsync()`): blocks
     * the calling thread. Never from a coroutine: use [applyPlan] there.
     */
    @WorkerThread
    fun applyPlanBlocking(resync: Boolean = false): AppliedPlan =
        applier.applyPlanBlocking(ZoneId.systemDefault(), Instant.now(), resync).also(::logDamage)

    /** Cancels every reminder alarm (sign-out, a deleted journal). */
    suspend fun clear(): List<String> = withContext(Dispatchers.IO) { applier.clear() }

    /**
     * Damaged records were skipped and every good rule scheduled; says which
     * (table and random id only, never content).
     */
    private fun logDamage(applied: AppliedPlan) {
        if (applied.corrupted.isNotEmpty()) {
            Log.w(
                TAG,
                "plan skipped ${applied.corrupted.size} damaged record(s): " +
                    applied.corrupted.joinToString { "${it.table}/${it.id}" },
            )
        }
    }

    companion object {
        internal const val PREFERENCES = "app.cairn.reminders"
        private const val TAG = "CairnReminders"

        internal fun prefs(context: Context): SharedPreferences =
            context.getSharedPreferences(PREFERENCES, Context.MODE_PRIVATE)

        /** Whether reminders will be exact: below Android 12 always; from 12 only with the exact-alarm permission. */
        fun exactAlarmsAllowed(context: Context): Boolean {
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.S) return true
            val am = context.getSystemService(AlarmManager::class.java) ?: return false
            return am.canScheduleExactAlarms()
        }
    }
}

/** AlarmManager as an [AlarmBackend]: one broadcast PendingIntent per plan id. */
internal class AlarmManagerBackend(private val context: Context) : AlarmBackend {
    private val alarmManager: AlarmManager = requireNotNull(context.getSystemService(AlarmManager::class.java))

    override fun exactAlarmsAllowed(): Boolean = AlarmManagerPlanApplier.exactAlarmsAllowed(context)

    override fun schedule(alarm: AlarmRequest) {
        val pending = PendingIntent.getBroadcast(
            context,
            0,
            ReminderAlarmReceiver.intent(context, alarm.id).also { putNotification(it, alarm.notification, alarm.showsTitle) },
            PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE,
        ) ?: return
        if (alarm.exact) {
            try {
                alarmManager.setExactAndAllowWhileIdle(AlarmManager.RTC_WAKEUP, alarm.triggerAt.toEpochMilli(), pending)
                return
            } catch (e: SecurityException) {
                // The permission was revoked since the plan: a window instead;
                // the next apply sees the change and sets everything again.
                Log.w(TAG, "exact alarm refused, setting a window")
            }
        }
        val window = if (alarm.exact) ReminderPlanApplier.MIN_WINDOW else alarm.window
        alarmManager.setWindow(AlarmManager.RTC_WAKEUP, alarm.triggerAt.toEpochMilli(), window.toMillis(), pending)
    }

    override fun cancel(id: String) {
        val pending = PendingIntent.getBroadcast(
            context,
            0,
            ReminderAlarmReceiver.intent(context, id),
            PendingIntent.FLAG_NO_CREATE or PendingIntent.FLAG_IMMUTABLE,
        ) ?: return
        alarmManager.cancel(pending)
        pending.cancel()
    }

    private fun putNotification(intent: Intent, n: PlannedNotification, showsTitle: Boolean) {
        // Lock-screen text only (generic unless the patient opted in): it
        // sits in the system's alarm list.
        intent.putExtra(ReminderAlarmReceiver.EXTRA_ID, n.id)
            .putExtra(ReminderAlarmReceiver.EXTRA_OCCURRENCE, n.occurrence)
            .putExtra(ReminderAlarmReceiver.EXTRA_DUE_MS, n.due.toEpochMilli())
            .putExtra(ReminderAlarmReceiver.EXTRA_FIRE_AT_MS, n.fireAt.toEpochMilli())
            .putExtra(ReminderAlarmReceiver.EXTRA_TITLE, n.title)
            .putExtra(ReminderAlarmReceiver.EXTRA_BODY, n.body)
            .putExtra(ReminderAlarmReceiver.EXTRA_SHOWS_TITLE, showsTitle)
    }

    private companion object {
        const val TAG = "CairnReminders"
    }
}

/** The held ids in SharedPreferences, written with `commit()`. */
internal class SharedPreferencesHeldAlarms(private val prefs: SharedPreferences) : HeldAlarmStore {
    override fun load(): HeldAlarms {
        // A copy: the returned set must not be modified.
        val ids = prefs.getStringSet(IDS, null)?.toSet() ?: emptySet()
        val exact = when (prefs.getInt(MODE, UNKNOWN)) {
            EXACT -> true
            WINDOW -> false
            else -> null
        }
        return HeldAlarms(ids, exact)
    }

    override fun save(held: HeldAlarms) {
        val mode = when (held.exact) {
            true -> EXACT
            false -> WINDOW
            null -> UNKNOWN
        }
        if (!prefs.edit().putStringSet(IDS, HashSet(held.ids)).putInt(MODE, mode).commit()) {
            throw IOException("could not save the reminder alarms")
        }
    }

    private companion object {
        const val IDS = "held_ids"
        const val MODE = "held_mode"
        const val UNKNOWN = 0
        const val EXACT = 1
        const val WINDOW = 2
    }
}

/**
 * Receives a reminder alarm: posts its notification (the plan's generic text,
 * or the title the patient chose to show), reports it `Shown`, and applies the
 * plan again so that the horizon keeps moving even if the app is not opened.
 * The journal work runs in a coroutine within the receiver's time
 * (`goAsync()`). Not exported: only its own PendingIntents reach it.
 */
class ReminderAlarmReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        if (intent.action != ACTION_FIRE) return
        val id = intent.getStringExtra(EXTRA_ID) ?: return
        val occurrence = intent.getStringExtra(EXTRA_OCCURRENCE) ?: return
        val dueMs = intent.getLongExtra(EXTRA_DUE_MS, 0L)
        val fireAtMs = intent.getLongExtra(EXTRA_FIRE_AT_MS, dueMs)
        val title = intent.getStringExtra(EXTRA_TITLE) ?: return
        val body = intent.getStringExtra(EXTRA_BODY).orEmpty()
        // Missing on alarms set by an older version: treated as private.
        val showsTitle = intent.getBooleanExtra(EXTRA_SHOWS_TITLE, true)
        val app = context.applicationContext
        val host = app as? ReminderHost
        val shown = post(app, host, id, occurrence, dueMs, fireAtMs, title, body, showsTitle)
        val shownAt = Instant.now()
        runAsync {
            val reminders = host?.cairnReminders() ?: return@runAsync
            // Not shown (notifications off): adherence counts it "not shown",
            // a delivery problem rather than the patient's.
            if (shown) {
                try {
                    reminders.report(occurrence, Instant.ofEpochMilli(dueMs), ReminderReport.Shown(shownAt))
                } catch (e: CairnException.NotFound) {
                    // The rule was deleted while its alarm was on its way.
                }
            }
            AlarmManagerPlanApplier(app, reminders).applyPlan()
        }
    }

    // POST_NOTIFICATIONS is checked below (Android 13+).
    @SuppressLint("MissingPermission")
    private fun post(
        context: Context,
        host: ReminderHost?,
        id: String,
        occurrence: String,
        dueMs: Long,
        fireAtMs: Long,
        title: String,
        body: String,
        showsTitle: Boolean,
    ): Boolean {
        val manager = NotificationManagerCompat.from(context)
        if (!manager.areNotificationsEnabled()) return false
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU &&
            ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) != PackageManager.PERMISSION_GRANTED
        ) {
            return false
        }
        manager.createNotificationChannel(
            NotificationChannelCompat.Builder(CHANNEL_ID, NotificationManagerCompat.IMPORTANCE_HIGH)
                .setName(host?.reminderChannelName() ?: CHANNEL_NAME)
                .build(),
        )
        val icon = host?.reminderSmallIcon()?.takeIf { it != 0 } ?: context.applicationInfo.icon
        val builder = NotificationCompat.Builder(context, CHANNEL_ID)
            .setSmallIcon(icon)
            .setContentTitle(title)
            .setContentText(body)
            .setCategory(NotificationCompat.CATEGORY_REMINDER)
            .setPriority(NotificationCompat.PRIORITY_HIGH)
            .setWhen(fireAtMs)
            .setAutoCancel(true)
        if (showsTitle) {
            // The rule's own title, which the patient chose to see: shown in
            // full once the phone is unlocked; while it is locked, the public
            // version (a generic title, the core's generic text) stands in.
            val public = NotificationCompat.Builder(context, CHANNEL_ID)
                .setSmallIcon(icon)
                .setContentTitle(host?.reminderPublicTitle() ?: PUBLIC_TITLE)
                .setContentText(body)
                .setCategory(NotificationCompat.CATEGORY_REMINDER)
                .setWhen(fireAtMs)
                .build()
            builder.setVisibility(NotificationCompat.VISIBILITY_PRIVATE).setPublicVersion(public)
        } else {
            // The core's generic text, written for the lock screen.
            builder.setVisibility(NotificationCompat.VISIBILITY_PUBLIC)
        }
        openApp(context, id, occurrence, dueMs)?.let { builder.setContentIntent(it) }
        return try {
            manager.notify(id, NOTIFICATION_ID, builder.build())
            true
        } catch (e: SecurityException) {
            false // the permission was revoked meanwhile
        } catch (e: IllegalArgumentException) {
            Log.e(TAG, "reminder notification refused (no valid small icon?)", e)
            false
        }
    }

    /** Opens the app with the occurrence, so that it can offer done, skip and snooze. */
    private fun openApp(context: Context, id: String, occurrence: String, dueMs: Long): PendingIntent? {
        val launch = context.packageManager.getLaunchIntentForPackage(context.packageName) ?: return null
        launch.setData(Uri.parse("$SCHEME:$id"))
            .putExtra(EXTRA_OCCURRENCE, occurrence)
            .putExtra(EXTRA_DUE_MS, dueMs)
            .addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TOP)
        return PendingIntent.getActivity(context, 0, launch, PendingIntent.FLAG_UPDATE_CURRENT or PendingIntent.FLAG_IMMUTABLE)
    }

    companion object {
        /** The notification channel of reminders. */
        const val CHANNEL_ID = "app.cairn.reminders"

        /** Notifications are posted with the plan id as tag and this id. */
        const val NOTIFICATION_ID = 0x0CA1

        const val ACTION_FIRE = "app.cairn.action.REMINDER"

        /**
         * Extras of the alarm and of the launch intent: the occurrence and
         * its due time in milliseconds since 1970, for
         * `reminders.report(occurrence, Instant.ofEpochMilli(dueMs), ...)`.
         */
        const val EXTRA_ID = "app.cairn.extra.ID"
        const val EXTRA_OCCURRENCE = "app.cairn.extra.OCCURRENCE"
        const val EXTRA_DUE_MS = "app.cairn.extra.DUE_MS"
        const val EXTRA_FIRE_AT_MS = "app.cairn.extra.FIRE_AT_MS"
        const val EXTRA_TITLE = "app.cairn.extra.TITLE"
        const val EXTRA_BODY = "app.cairn.extra.BODY"
        const val EXTRA_SHOWS_TITLE = "app.cairn.extra.SHOWS_TITLE"

        /** The default channel name ([ReminderHost.reminderChannelName]). */
        const val CHANNEL_NAME = "Reminders"

        /**
         * The default title of the lock-screen version of a notification
         * showing a rule's own title ([ReminderHost.reminderPublicTitle]);
         * the core's generic title for medication reminders.
         */
        const val PUBLIC_TITLE = "Reminder"

        private const val SCHEME = "cairn-reminder"
        private const val TAG = "CairnReminders"

        /** The alarm's intent: its data (the plan id) makes each alarm distinct. */
        internal fun intent(context: Context, id: String): Intent =
            Intent(context, ReminderAlarmReceiver::class.java)
                .setAction(ACTION_FIRE)
                .setData(Uri.parse("$SCHEME:$id"))
    }
}

/**
 * Applies the plan again when the OS may have dropped or shifted alarms: at
 * boot (alarms are gone), after an app update, on a time-zone change
 * (reminders that follow the device move), on a clock change, and when the
 * exact-alarm permission is granted. Not exported: these are protected
 * system broadcasts, which reach it anyway.
 */
class ReminderRescheduleReceiver : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val action = intent.action ?: return
        if (action !in ACTIONS) return
        val app = context.applicationContext
        val host = app as? ReminderHost ?: run {
            Log.w(TAG, "the Application does not implement ReminderHost; reminders not rescheduled")
            return
        }
        runAsync {
            val reminders = host.cairnReminders() ?: return@runAsync
            // A zone change only moves follow-device reminders: the diff is
            // enough. Everything else may have lost alarms: set all again.
            AlarmManagerPlanApplier(app, reminders).applyPlan(resync = action != Intent.ACTION_TIMEZONE_CHANGED)
        }
    }

    private companion object {
        const val TAG = "CairnReminders"
        val ACTIONS = setOf(
            Intent.ACTION_BOOT_COMPLETED,
            Intent.ACTION_MY_PACKAGE_REPLACED,
            Intent.ACTION_TIMEZONE_CHANGED,
            Intent.ACTION_TIME_CHANGED,
            AlarmManager.ACTION_SCHEDULE_EXACT_ALARM_PERMISSION_STATE_CHANGED,
        )
    }
}

/**
 * The receivers' work: off the main thread, on one thread at a time,
 * outliving the receiver object but not the process.
 */
private val receiverScope = CoroutineScope(
    SupervisorJob() + Dispatchers.IO.limitedParallelism(1) + CoroutineName("cairn-reminders"),
)

/**
 * Runs [work] in a coroutine within the receiver's time (`goAsync()`, about
 * ten seconds); logs failures, never crashes the app.
 */
private fun BroadcastReceiver.runAsync(work: suspend () -> Unit) {
    val pending = goAsync()
    receiverScope.launch {
        try {
            work()
        } catch (e: CancellationException) {
            throw e
        } catch (e: CairnException) {
            // Cairn's messages name fields and ids, never patient text.
            Log.w("CairnReminders", "reminders not applied: ${e::class.simpleName}: ${e.message}")
        } catch (e: Exception) {
            // KeyVaultException from the host, IOException from the
            // preferences, AlarmManager's limit...: never a crash of the app.
            Log.e("CairnReminders", "reminders not applied", e)
        } finally {
            pending.finish()
        }
    }
}
