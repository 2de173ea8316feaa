// Versions of the build plugins, applied by the modules.
plugins {
    id("com.android.library") version "8.7.3" apply false
    id("com.android.application") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.1.0" apply false
    // API reference for the library's javadoc jar (v2 mode: gradle.properties).
    id("org.jetbrains.dokka") version "2.0.0" apply false
}
