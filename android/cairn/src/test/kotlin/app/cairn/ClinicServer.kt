package app.cairn

import org.junit.Assume.assumeTrue
import java.io.File
import java.nio.file.Files
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * A real `cairn-clinic serve` on 127.0.0.1 with a fresh data folder, and its
 * operator commands (`enroll`, `entries --json`, `revoke`, the patient's
 * records: [command], [safetyPlan], [flags]). The binary is
 * `$CAIRN_CLINIC_BIN` (tests/kotlin.sh builds it and sets it); without it the
 * test is skipped. [close] kills the server and deletes the folder; a JVM
 * that exits first kills it too.
 */
class ClinicServer private constructor(private val bin: String, val dir: File) : AutoCloseable {
    private val process: Process
    private val killAtExit = Thread { kill() }

    /** `http://127.0.0.1:PORT`, as the server printed it. */
    val url: String

    init {
        val log = File(dir, "server.log")
        process = ProcessBuilder(bin, "--data", dir.resolve("data").path, "serve", "--listen", "127.0.0.1:0")
            .redirectError(ProcessBuilder.Redirect.to(log))
            .start()
        Runtime.getRuntime().addShutdownHook(killAtExit)
        // The first stdout line says where it listens; the rest is drained.
        val lines = LinkedBlockingQueue<String>()
        Thread {
            process.inputStream.bufferedReader().forEachLine { lines.put(it) }
        }.apply { isDaemon = true }.start()
        val first = lines.poll(30, TimeUnit.SECONDS)
        if (first == null) {
            kill()
            error("cairn-clinic serve printed nothing within 30 s (alive: ${process.isAlive}); log:\n${log.readText().take(2000)}")
        }
        url = Regex("listening on (http://\\S+)").find(first)?.groupValues?.get(1)
            ?: run { kill(); error("unexpected first line from cairn-clinic serve: $first") }
    }

    /** A new enrollment code for [patient] (created on first use). */
    fun enrollmentCode(patient: String): String = admin("enroll", "--patient", patient, "--url", url).trim()

    /** The clinic's entries of [patient] (`entries --json`): id, tracker, value, note, tags, at. */
    @Suppress("UNCHECKED_CAST")
    fun entries(patient: String): List<Map<String, Any?>> =
        Json.parse(entriesJson(patient)) as List<Map<String, Any?>>

    /** `entries --json` as printed. */
    fun entriesJson(patient: String): String = admin("entries", "--patient", patient, "--json")

    /** Revokes a device: its requests are refused from now on. */
    fun revoke(deviceId: String) {
        admin("revoke", deviceId)
    }

    /**
     * Runs a command that writes a patient's records (`tracker add`,
     * `reminder add`, `session add`, `safety-plan set`, ...); its stdout
     * trimmed: the new record's id for an `add`.
     */
    fun command(vararg args: String): String = admin(*args).trim()

    /**
     * The patient's safety plan as the clinic holds it (`safety-plan show
     * --json`): each part (`warning_signs`, `coping_strategies`, ...) to
     * its items.
     */
    @Suppress("UNCHECKED_CAST")
    fun safetyPlan(patient: String): Map<String, List<String>> =
        Json.parse(admin("safety-plan", "show", "--patient", patient, "--json")) as Map<String, List<String>>

    /**
     * Every patient's flags as the clinic holds them (`flags --json`):
     * patient, id, kind, title, reason, state, raised_at, acknowledged_at,
     * acknowledged_by, source.
     */
    @Suppress("UNCHECKED_CAST")
    fun flags(): List<Map<String, Any?>> = Json.parse(admin("flags", "--json")) as List<Map<String, Any?>>

    /** Runs an operator command on the same data folder; its stdout. */
    fun admin(vararg args: String): String {
        val out = File(dir, "admin.out")
        val err = File(dir, "admin.err")
        val p = ProcessBuilder(listOf(bin, "--data", dir.resolve("data").path) + args)
            .redirectOutput(out)
            .redirectError(err)
            .start()
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly()
            error("cairn-clinic ${args.first()} did not finish within 60 s")
        }
        check(p.exitValue() == 0) { "cairn-clinic ${args.first()} exited ${p.exitValue()}: ${err.readText().take(2000)}" }
        return out.readText()
    }

    /** Kills the server and deletes its folder. */
    override fun close() {
        kill()
        runCatching { Runtime.getRuntime().removeShutdownHook(killAtExit) }
        dir.deleteRecursively()
    }

    private fun kill() {
        if (!process.isAlive) return
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(5, TimeUnit.SECONDS)
        }
    }

    companion object {
        /** Starts a server; skips the test when `CAIRN_CLINIC_BIN` is not set. */
        fun start(): ClinicServer {
            val bin = System.getenv("CAIRN_CLINIC_BIN")
            assumeTrue("CAIRN_CLINIC_BIN is not set (bash tests/kotlin.sh sets it)", !bin.isNullOrEmpty())
            check(File(bin!!).canExecute()) { "CAIRN_CLINIC_BIN=$bin is not an executable" }
            return ClinicServer(bin, Files.createTempDirectory("cairn-clinic-test").toFile())
        }
    }
}

/** Just enough JSON for `cairn-clinic entries --json`: objects, arrays, strings, numbers, booleans, null. */
object Json {
    fun parse(text: String): Any? {
        val p = Parser(text)
        val value = p.value()
        p.skipSpace()
        check(p.i == text.length) { "trailing characters at ${p.i}" }
        return value
    }

    private class Parser(val s: String) {
        var i = 0

        fun skipSpace() {
            while (i < s.length && s[i].isWhitespace()) i++
        }

        fun value(): Any? {
            skipSpace()
            check(i < s.length) { "unexpected end of JSON" }
            return when (s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                else -> num()
            }
        }

        private fun word(w: String, v: Any?): Any? {
            check(s.startsWith(w, i)) { "bad JSON at $i" }
            i += w.length
            return v
        }

        private fun num(): Double {
            val start = i
            while (i < s.length && s[i] in "+-0123456789.eE") i++
            return s.substring(start, i).toDouble()
        }

        private fun str(): String {
            val sb = StringBuilder()
            i++ // opening quote
            while (true) {
                val c = s[i++]
                when (c) {
                    '"' -> return sb.toString()
                    '\\' -> {
                        when (val e = s[i++]) {
                            'n' -> sb.append('\n')
                            't' -> sb.append('\t')
                            'r' -> sb.append('\r')
                            'b' -> sb.append('\b')
                            'f' -> sb.append('\u000c')
                            'u' -> {
                                sb.append(s.substring(i, i + 4).toInt(16).toChar())
                                i += 4
                            }
                            else -> sb.append(e)
                        }
                    }
                    else -> sb.append(c)
                }
            }
        }

        private fun arr(): List<Any?> {
            val out = mutableListOf<Any?>()
            i++
            skipSpace()
            if (s[i] == ']') return out.also { i++ }
            while (true) {
                out += value()
                skipSpace()
                when (s[i++]) {
                    ',' -> continue
                    ']' -> return out
                    else -> error("bad JSON array at ${i - 1}")
                }
            }
        }

        private fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            i++
            skipSpace()
            if (s[i] == '}') return out.also { i++ }
            while (true) {
                skipSpace()
                val k = str()
                skipSpace()
                check(s[i++] == ':') { "bad JSON object at ${i - 1}" }
                out[k] = value()
                skipSpace()
                when (s[i++]) {
                    ',' -> continue
                    '}' -> return out
                    else -> error("bad JSON object at ${i - 1}")
                }
            }
        }
    }
}
