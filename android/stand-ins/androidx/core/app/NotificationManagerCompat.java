package androidx.core.app;

import android.app.Notification;
import android.content.Context;

public final class NotificationManagerCompat {
    public static final int IMPORTANCE_HIGH = 4;

    public static NotificationManagerCompat from(Context context) { throw new RuntimeException("Stub!"); }
    public boolean areNotificationsEnabled() { throw new RuntimeException("Stub!"); }
    public void createNotificationChannel(NotificationChannelCompat channel) { throw new RuntimeException("Stub!"); }
    public void notify(String tag, int id, Notification notification) { throw new RuntimeException("Stub!"); }
}
