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
