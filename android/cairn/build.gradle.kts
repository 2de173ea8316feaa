import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.dokka")
    `maven-publish`
}

// The published version: -PcairnVersion=0.1.0 for a release (gradle.properties
// holds the snapshot default).
val cairnVersion = providers.gradleProperty("cairnVersion").getOrElse("0.1.0-SNAPSHOT")

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

    publishing {
        // What maven-publish publishes: the release AAR and its sources jar.
        // The javadoc jar is Dokka's (below), not AGP's withJavadocJar(): the
        // two would both claim the `javadoc` classifier.
        singleVariant("release") {
            withSourcesJar()
        }
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
    // Background sync: ClinicSyncWorker and ClinicSyncScheduler (WorkManager).
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    // The API is `suspend` and exposes Flow: coroutines are part of it.
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.10.2")

    testImplementation("junit:junit:4.13.2")
    testImplementation("org.jetbrains.kotlin:kotlin-test-junit:2.1.0")
    // The plain jar, with JNA's native part for desktop systems.
    testImplementation("net.java.dev.jna:jna:5.17.0")
}

// API reference: Dokka 2 (Gradle plugin v2 mode, gradle.properties), HTML.
// `gradle :cairn:dokkaGenerate` writes it to build/dokka/html.
// Dokka's defaults document the public API of the main sources only.
dokka {
    moduleName.set("Cairn")
}

// Maven Central wants a javadoc jar; it holds Dokka's HTML.
val dokkaJavadocJar by tasks.registering(Jar::class) {
    description = "The Dokka HTML API reference, packaged as the javadoc jar."
    group = "documentation"
    from(tasks.dokkaGeneratePublicationHtml.flatMap { it.outputDirectory })
    archiveClassifier.set("javadoc")
}

// An AAR without libcairn_ffi.so loads nothing: refuse to publish one.
val checkNativeLibraries by tasks.registering {
    description = "Fails unless ../build-rust.sh has put libcairn_ffi.so in src/main/jniLibs for every ABI."
    group = "verification"
    val libraries = listOf("arm64-v8a", "armeabi-v7a", "x86_64").map {
        layout.projectDirectory.file("src/main/jniLibs/$it/libcairn_ffi.so")
    }
    doLast {
        val missing = libraries.map { it.asFile }.filterNot { it.isFile }
        if (missing.isNotEmpty()) {
            throw GradleException("run android/build-rust.sh first (release build): missing ${missing.joinToString()}")
        }
    }
}
tasks.withType<AbstractPublishToMaven>().configureEach { dependsOn(checkNativeLibraries) }

publishing {
    publications {
        register<MavenPublication>("release") {
            groupId = "app.cairn"
            artifactId = "cairn"
            version = cairnVersion
            // AGP creates the `release` component late, after this script runs.
            afterEvaluate { from(components["release"]) }
            artifact(dokkaJavadocJar)
            pom {
                name.set("Cairn")
                description.set("Cairn's encrypted, offline-first journal for Android: the Rust core and its Kotlin API.")
                url.set(providers.gradleProperty("cairnUrl"))
                licenses {
                    license {
                        name.set("Apache-2.0")
                        url.set("https://www.apache.org/licenses/LICENSE-2.0.txt")
                    }
                }
            }
        }
    }
    repositories {
        // `gradle :cairn:publishReleasePublicationToStagingRepository` writes the
        // publication to cairn/build/staging-repo, to inspect or upload.
        maven {
            name = "staging"
            url = uri(layout.buildDirectory.dir("staging-repo"))
        }
    }
}
