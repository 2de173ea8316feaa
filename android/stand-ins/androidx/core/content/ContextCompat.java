package androidx.core.content;

import android.content.Context;

public class ContextCompat {
    public static int checkSelfPermission(Context context, String permission) { throw new RuntimeException("Stub!"); }
}
