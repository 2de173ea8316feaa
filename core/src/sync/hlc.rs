//! Hybrid logical clocks (Kulkarni et al. 2014): stamps that order versions
//! across devices, never run behind causality, and stay close to real time.
//!
//! A stamp is a u64: 48 bits of milliseconds since 1970 (to the year 10889)
//! and 16 bits of counter. Ties between equal stamps are broken by the
//! author's id (see the merge). The patient's "when it happened" is data,
//! never a stamp.

/// How far ahead of the local clock a received stamp may be and still
/// advance it (one hour). A stamp further ahead is not taken in; the clinic
/// server re-stamps such changes.
pub const MAX_AHEAD_MS: u64 = 60 * 60 * 1000;
const MS_MAX: u64 = (1 << 48) - 1;

/// A hybrid logical clock stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(pub u64);

impl Hlc {
    /// A stamp from its parts.
    pub fn new(ms: u64, counter: u16) -> Hlc {
        Hlc((ms.min(MS_MAX) << 16) | u64::from(counter))
    }
    /// The physical part, ms.
    pub fn ms(self) -> u64 {
        self.0 >> 16
    }
    /// The counter.
    pub fn counter(self) -> u16 {
        self.0 as u16
    }

    /// The next counter value at `ms`; a counter past 65,535 moves to the
    /// next millisecond.
    fn bump(ms: u64, counter: u16) -> Hlc {
        match counter.checked_add(1) {
            Some(c) => Hlc::new(ms, c),
            None => Hlc::new(ms + 1, 0),
        }
    }

    /// The stamp for a local write (or a send) at physical time `now_ms`.
    #[must_use]
    pub fn tick(self, now_ms: u64) -> Hlc {
        if now_ms > self.ms() {
            Hlc::new(now_ms, 0)
        } else {
            Hlc::bump(self.ms(), self.counter())
        }
    }

    /// The clock after receiving `msg` at physical time `now_ms`. A stamp
    /// more than [`MAX_AHEAD_MS`] ahead of `now_ms` does not move the clock.
    #[must_use]
    pub fn receive(self, msg: Hlc, now_ms: u64) -> Hlc {
        if msg.ms() > now_ms.saturating_add(MAX_AHEAD_MS) {
            return self.tick(now_ms);
        }
        let l = self.ms().max(msg.ms()).max(now_ms);
        if l == self.ms() && l == msg.ms() {
            Hlc::bump(l, self.counter().max(msg.counter()))
        } else if l == self.ms() {
            Hlc::bump(l, self.counter())
        } else if l == msg.ms() {
            Hlc::bump(l, msg.counter())
        } else {
            Hlc::new(l, 0)
        }
    }

    /// Whether a stamp is too far ahead of `now_ms` to be kept as is.
    pub fn too_far_ahead(self, now_ms: u64) -> bool {
        self.ms() > now_ms.saturating_add(MAX_AHEAD_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_follow_time_and_never_go_back() {
        let a = Hlc::default().tick(1000);
        assert_eq!((a.ms(), a.counter()), (1000, 0));
        let b = a.tick(900); // the clock went back
        assert_eq!((b.ms(), b.counter()), (1000, 1));
        assert!(b > a);
        let c = b.tick(2000);
        assert_eq!((c.ms(), c.counter()), (2000, 0));
    }

    #[test]
    fn a_full_counter_moves_to_the_next_millisecond() {
        let a = Hlc::new(5, u16::MAX);
        let b = a.tick(5);
        assert_eq!((b.ms(), b.counter()), (6, 0));
        assert!(b > a);
    }

    #[test]
    fn receiving_takes_the_larger_and_bounds_the_future() {
        let local = Hlc::new(1000, 3);
        let r = local.receive(Hlc::new(1000, 7), 500);
        assert_eq!((r.ms(), r.counter()), (1000, 8));
        let r = local.receive(Hlc::new(1500, 2), 1200);
        assert_eq!((r.ms(), r.counter()), (1500, 3));
        let r = local.receive(Hlc::new(800, 9), 1000);
        assert_eq!((r.ms(), r.counter()), (1000, 4));
        let r = local.receive(Hlc::new(900, 9), 3000);
        assert_eq!((r.ms(), r.counter()), (3000, 0));
        // A phone a year ahead does not drag this clock with it.
        let year = 365 * 24 * 3600 * 1000;
        let r = local.receive(Hlc::new(2000 + year, 0), 2000);
        assert_eq!(r.ms(), 2000);
        assert!(Hlc::new(2000 + year, 0).too_far_ahead(2000));
        assert!(!Hlc::new(2000 + MAX_AHEAD_MS, 0).too_far_ahead(2000));
    }
}
