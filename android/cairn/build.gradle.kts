import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "app.cairn"
    compileSdk = 35

    defaultConfig {
        minSdk = 26
        // Keeps JNA and the generated bindings (reached by reflection and
        // from native code) in apps that shrink with R8.
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].apply {
        java.srcDirs("src/main/kotlin")
        // libcairn_ffi.so per ABI, built by ../build-rust.sh (not committed).
        jniLibs.srcDirs("src/main/jniLibs")
    }
    sourceSets["test"].java.srcDirs("src/test/kotlin")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    testOptions {
        unitTests.all {
            // Unit tests run on the development machine's JVM: they load a
            // host build of the library. tests/kotlin.sh (repository root) is
            // the supported way to run them; this lets Gradle run them after
            // `bash scripts/bindings.sh --testing build/kotlin-bindings`.
            it.systemProperty("jna.library.path", rootDir.resolve("../build/kotlin-bindings/lib").absolutePath)
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // The generated bindings call the library through JNA. The AAR carries
    // JNA's own native part for every Android ABI.
    api("net.java.dev.jna:jna:5.17.0@aar")
    implementation("androidx.annotation:annotation:1.9.1")
    // Reminders: NotificationCompat and the notification channel.
    implementation("androidx.core:core:1.15.0")
    // CairnSyncWorker (the background sync extension point).
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")

    testImplementation("junit:junit:4.13.2")
    testImplementation("org.jetbrains.kotlin:kotlin-test-junit:2.1.0")
    // The plain jar, with JNA's native part for desktop systems.
    testImplementation("net.java.dev.jna:jna:5.17.0")
}
