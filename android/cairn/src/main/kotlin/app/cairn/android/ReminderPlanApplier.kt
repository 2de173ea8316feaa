package app.cairn.android

/**
 * Extension point: hands the core's reminder plan to the operating system.
 *
 * Placeholder for the reminders issue. The FFI does not export reminder plans
 * yet, so [Plan] stands for the record it will export (the plan plus its diff
 * against what the OS already holds). An implementation will schedule and
 * cancel alarms with AlarmManager (exact times) or WorkManager (inexact ones),
 * keyed by the plan's stable ids so that re-applying a plan is idempotent.
 * Nothing in this module implements it yet.
 */
fun interface ReminderPlanApplier<Plan> {
    /** Applies [plan]; blocking, called off the main thread. */
    fun apply(plan: Plan)
}
