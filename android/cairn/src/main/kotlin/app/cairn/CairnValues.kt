// The Kotlin halves of Cairn's typed values (bindings/src/values.rs and
// bindings/uniffi.toml): the id types. Instants, days, times, zones and
// weekdays are java.time's own (Instant, LocalDate, LocalTime, ZoneId,
// DayOfWeek). Hand-written; the generated cairn_ffi.kt beside it uses them.
//
// Ids are data classes, not value classes: a value class parameter mangles
// the function's JVM name, and Java callers could not call it.
package app.cairn

/** An entry's id (32 hex characters). */
data class EntryId(val value: String) {
    override fun toString(): String = value
}

/** A tracker's id: a word for built-ins (`mood`), 32 hex characters for custom ones. */
data class TrackerId(val value: String) {
    override fun toString(): String = value
}

/** A reminder rule's id. */
data class ReminderId(val value: String) {
    override fun toString(): String = value
}

/** A recorded event's id (a treatment session). */
data class EventId(val value: String) {
    override fun toString(): String = value
}

/** A risk flag's id (32 hex characters). */
data class FlagId(val value: String) {
    override fun toString(): String = value
}

/**
 * Microseconds since 1970, as the core receives instants (it rounds them to
 * whole milliseconds). An instant beyond ±292,000 years is clamped, and the
 * core refuses it with [CairnException.InvalidInput]. (Not
 * `ChronoUnit.MICROS.between`: it counts in nanoseconds first, which
 * overflow beyond ±292 years, from 2262 and before 1678.)
 */
internal fun cairnMicroseconds(instant: java.time.Instant): Long =
    try {
        Math.addExact(Math.multiplyExact(instant.epochSecond, 1_000_000L), instant.nano / 1_000L)
    } catch (e: ArithmeticException) {
        if (instant.isBefore(java.time.Instant.EPOCH)) Long.MIN_VALUE else Long.MAX_VALUE
    }

/**
 * Seconds since midnight, as the core receives wall-clock times. A time with
 * a fraction of a second is sent as not whole minutes, so the core refuses it
 * ([CairnException.InvalidInput]) instead of dropping the fraction.
 */
internal fun cairnSecondOfDay(time: java.time.LocalTime): Int =
    time.toSecondOfDay() + if (time.second == 0 && time.nano != 0) 1 else 0
