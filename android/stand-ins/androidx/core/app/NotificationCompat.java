package androidx.core.app;

import android.app.Notification;
import android.app.PendingIntent;
import android.content.Context;

public class NotificationCompat {
    public static final String CATEGORY_REMINDER = "reminder";
    public static final int PRIORITY_HIGH = 1;
    public static final int VISIBILITY_PUBLIC = Notification.VISIBILITY_PUBLIC;
    public static final int VISIBILITY_PRIVATE = Notification.VISIBILITY_PRIVATE;
    public static final int VISIBILITY_SECRET = Notification.VISIBILITY_SECRET;

    public static class Builder {
        public Builder(Context context, String channelId) { throw new RuntimeException("Stub!"); }
        public Builder setSmallIcon(int icon) { throw new RuntimeException("Stub!"); }
        public Builder setContentTitle(CharSequence title) { throw new RuntimeException("Stub!"); }
        public Builder setContentText(CharSequence text) { throw new RuntimeException("Stub!"); }
        public Builder setCategory(String category) { throw new RuntimeException("Stub!"); }
        public Builder setPriority(int pri) { throw new RuntimeException("Stub!"); }
        public Builder setVisibility(int visibility) { throw new RuntimeException("Stub!"); }
        public Builder setPublicVersion(Notification n) { throw new RuntimeException("Stub!"); }
        public Builder setWhen(long when) { throw new RuntimeException("Stub!"); }
        public Builder setAutoCancel(boolean autoCancel) { throw new RuntimeException("Stub!"); }
        public Builder setContentIntent(PendingIntent intent) { throw new RuntimeException("Stub!"); }
        public Notification build() { throw new RuntimeException("Stub!"); }
    }
}
