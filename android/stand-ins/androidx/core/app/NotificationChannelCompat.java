package androidx.core.app;

public class NotificationChannelCompat {
    public static class Builder {
        public Builder(String id, int importance) { throw new RuntimeException("Stub!"); }
        public Builder setName(CharSequence name) { throw new RuntimeException("Stub!"); }
        public NotificationChannelCompat build() { throw new RuntimeException("Stub!"); }
    }
}
