package android.content;

import android.content.pm.ApplicationInfo;
import android.content.pm.PackageManager;
import java.io.File;

public abstract class Context {
    public static final int MODE_PRIVATE = 0;

    public abstract Context getApplicationContext();
    public abstract File getNoBackupFilesDir();
    public abstract File getFilesDir();
    public abstract SharedPreferences getSharedPreferences(String name, int mode);
    public abstract PackageManager getPackageManager();
    public abstract String getPackageName();
    public abstract ApplicationInfo getApplicationInfo();
    public final <T> T getSystemService(Class<T> serviceClass) { throw new RuntimeException("Stub!"); }
}
