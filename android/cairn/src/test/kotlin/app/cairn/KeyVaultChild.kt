package app.cairn

import app.cairn.android.DataKeyVault
import app.cairn.android.FileWrappedKeyStore
import app.cairn.android.KeyLock
import app.cairn.android.KeySlot
import app.cairn.android.WrappedKey
import app.cairn.android.WrappedKeyStore
import app.cairn.android.WrappingKey
import kotlinx.coroutines.runBlocking
import java.io.File
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.security.InvalidKeyException
import java.security.SecureRandom
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.SecretKey
import javax.crypto.spec.SecretKeySpec
import kotlin.concurrent.thread
import kotlin.system.exitProcess

// Shared storage for the key tests, and the second JVM process some of them
// start (KeyRaceTest, KeyHandoverTest): everything a vault keeps lives in
// files of one folder, so two processes see the same storage, as two
// processes of one app do on a phone.

/**
 * A software AES key in a file, standing in for a Keystore alias shared by
 * the app's processes. [create] replaces the file atomically, as generating a
 * key under an existing alias replaces it.
 */
class FileWrappingKey(private val file: File, private val created: AtomicInteger = AtomicInteger()) : WrappingKey {
    override fun get(): SecretKey? = if (file.exists()) SecretKeySpec(file.readBytes(), "AES") else null

    override fun create(): SecretKey {
        created.incrementAndGet()
        val bytes = ByteArray(32).also { SecureRandom().nextBytes(it) }
        val tmp = File(file.parentFile, "${file.name}.${Thread.currentThread().id}.${ProcessHandle.current().pid()}.tmp")
        tmp.writeBytes(bytes)
        Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
        return SecretKeySpec(bytes, "AES")
    }

    override fun delete() {
        file.delete()
    }

    override fun isPermanentlyInvalidated(e: InvalidKeyException) = false
}

/** Where a vault over [dir] keeps things. */
fun journalFile(dir: File) = File(dir, "journal.cairn")
fun keyStore(dir: File) = FileWrappedKeyStore(dir, "keys")

/** A new vault over the storage in [dir]: its own store, wrapping key and lock objects, the same files. */
fun vaultIn(dir: File, created: AtomicInteger = AtomicInteger(), store: WrappedKeyStore = keyStore(dir)) =
    DataKeyVault(store, FileWrappingKey(File(dir, "wrapping.key"), created), KeyLock(File(dir, "keys.lock")))

fun ByteArray.hex(): String = joinToString("") { "%02x".format(it) }

/**
 * [threads] threads, each with its own vault over [dir], ask for the data key
 * at once (after a barrier, and not before [startAtMs] if given); returns the
 * keys they got, as hex.
 */
fun raceForKey(dir: File, threads: Int, startAtMs: Long? = null, created: AtomicInteger = AtomicInteger()): List<String> {
    val barrier = CyclicBarrier(threads)
    val keys = arrayOfNulls<String>(threads)
    val errors = arrayOfNulls<Throwable>(threads)
    val workers = (0 until threads).map { t ->
        thread(name = "key-race-$t") {
            try {
                val vault = vaultIn(dir, created)
                barrier.await()
                if (startAtMs != null) {
                    val wait = startAtMs - System.currentTimeMillis()
                    if (wait > 0) Thread.sleep(wait)
                }
                keys[t] = runBlocking { vault.dataKey(journalExists = journalFile(dir).exists()).hex() }
            } catch (e: Throwable) {
                errors[t] = e
            }
        }
    }
    workers.forEach { it.join() }
    errors.firstOrNull { it != null }?.let { throw it }
    return keys.map { it!! }
}

/** Where a killed re-key stops: the process halts there, as a kill would stop it. */
enum class KillPoint {
    /** After the pending key is saved, before the journal is re-keyed. */
    AFTER_PENDING_SAVED,

    /** After the journal is re-keyed, before the pending key is promoted. */
    AFTER_REKEY,

    /** In a two-step promotion (a store without an atomic one): the current key replaced, the pending one not yet deleted. */
    MID_PROMOTION,

    /** After the promotion, before anything else. */
    AFTER_PROMOTION,
}

const val KILLED_EXIT = 77

/** A store that halts the process at [point] of a re-key. */
class KillingStore(private val real: WrappedKeyStore, private val point: KillPoint) : WrappedKeyStore {
    override fun load(slot: KeySlot) = real.load(slot)
    override fun save(slot: KeySlot, key: WrappedKey) {
        real.save(slot, key)
        if (slot == KeySlot.PENDING && point == KillPoint.AFTER_PENDING_SAVED) kill()
    }
    override fun delete(slot: KeySlot) = real.delete(slot)
    override fun promotePending() {
        when (point) {
            KillPoint.AFTER_REKEY -> kill()
            KillPoint.MID_PROMOTION -> {
                real.save(KeySlot.CURRENT, real.load(KeySlot.PENDING)!!)
                kill()
            }
            else -> real.promotePending()
        }
        if (point == KillPoint.AFTER_PROMOTION) kill()
    }

    private fun kill(): Nothing {
        System.out.flush()
        Runtime.getRuntime().halt(KILLED_EXIT)
        throw IllegalStateException("unreachable")
    }
}

/**
 * A second JVM, started by the tests with the same class path and native
 * library:
 *
 * - `race <root> <races> <threads> <ready-file> <go-file> <slot-ms>`: waits
 *   for the go file (holding the start instant), then for race i, at start +
 *   i * slot, runs [raceForKey] in `<root>/<i>`; prints `i hex` per caller.
 * - `rekey <dir> <kill-point>`: opens the journal in `<dir>` and re-keys it
 *   through a [KillingStore], which halts the process at that point.
 */
fun main(args: Array<String>) {
    when (args[0]) {
        "race" -> {
            val root = File(args[1])
            val races = args[2].toInt()
            val threads = args[3].toInt()
            val ready = File(args[4])
            val go = File(args[5])
            val slotMs = args[6].toLong()
            generateKey().fill(0) // loads the native library before the start
            ready.writeText("ready")
            while (!go.exists() || go.length() == 0L) Thread.sleep(5)
            val start = go.readText().trim().toLong()
            for (i in 0 until races) {
                for (hex in raceForKey(File(root, "$i"), threads, start + i * slotMs)) println("$i $hex")
            }
            System.out.flush()
            exitProcess(0)
        }
        "rekey" -> {
            val dir = File(args[1])
            val vault = vaultIn(dir, store = KillingStore(keyStore(dir), KillPoint.valueOf(args[2])))
            runBlocking {
                vault.open(journalFile(dir)).use { journal ->
                    vault.rekey(journal, journalFile(dir))
                    journal.closeJournal()
                }
            }
            exitProcess(0)
        }
        else -> {
            System.err.println("unknown mode ${args[0]}")
            exitProcess(2)
        }
    }
}

/** Starts [main] in a second JVM with this one's class path and native library path. */
fun startChildJvm(vararg args: String): Process {
    val java = File(System.getProperty("java.home"), "bin/java").path
    val command = mutableListOf(java, "-cp", System.getProperty("java.class.path"))
    System.getProperty("jna.library.path")?.let { command += "-Djna.library.path=$it" }
    command += "app.cairn.KeyVaultChildKt"
    command += args
    return ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start()
}
