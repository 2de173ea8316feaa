package android.app;

public class AlarmManager {
    public static final int RTC_WAKEUP = 0;
    public static final String ACTION_SCHEDULE_EXACT_ALARM_PERMISSION_STATE_CHANGED =
        "android.app.action.SCHEDULE_EXACT_ALARM_PERMISSION_STATE_CHANGED";

    public void setExactAndAllowWhileIdle(int type, long triggerAtMillis, PendingIntent operation) { throw new RuntimeException("Stub!"); }
    public void setWindow(int type, long windowStartMillis, long windowLengthMillis, PendingIntent operation) { throw new RuntimeException("Stub!"); }
    public void cancel(PendingIntent operation) { throw new RuntimeException("Stub!"); }
    public boolean canScheduleExactAlarms() { throw new RuntimeException("Stub!"); }
}
