package app.cairn

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * Runs the JUnit classes named on the command line, one line per test, and
 * ends with `N passed, N failed`; exits 1 on any failure. tests/kotlin.sh
 * uses it on the desktop JVM; Gradle runs the same classes with its own runner.
 */
fun main(args: Array<String>) {
    val core = JUnitCore()
    core.addListener(object : RunListener() {
        private val failed = mutableSetOf<Description>()
        private var started = 0L

        override fun testStarted(description: Description) {
            started = System.nanoTime()
        }

        override fun testFailure(failure: Failure) {
            failed += failure.description
            println("FAIL ${name(failure.description)}")
            println(failure.trace.lineSequence().take(25).joinToString("\n") { "     $it" })
        }

        override fun testAssumptionFailure(failure: Failure) {
            failed += failure.description
            println("skip ${name(failure.description)}: ${failure.message}")
        }

        override fun testFinished(description: Description) {
            if (description !in failed) {
                val ms = (System.nanoTime() - started) / 1_000_000
                println("ok   ${name(description)} ($ms ms)")
            }
        }
    })
    val classes = args.map { Class.forName(it) }.toTypedArray()
    val result = core.run(*classes)
    val failed = result.failureCount
    val skipped = result.assumptionFailureCount + result.ignoreCount
    val passed = result.runCount - failed - result.assumptionFailureCount
    if (skipped > 0) println("$skipped skipped")
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}

private fun name(d: Description) =
    if (d.methodName == null) d.className else "${d.testClass?.simpleName ?: d.className}.${d.methodName}"
