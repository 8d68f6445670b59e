//! When to enter the lock queue although the table's holders are older than the stall budget:
//! when the blocking transactions seen ending during this wait say that the current holders will
//! all end within it.
//!
//! On a table that is never free (a stream of overlapping read transactions of about a second
//! each), waiting outside the lock queue for a free instant can last long. Queueing stalls the
//! application until every current holder has ended, so it is worth it only when they are
//! expected to end soon: each holder's expected remaining time is the longest duration seen so
//! far (from a transaction's start to the look that found it gone) minus its age. It is told only from at least `MIN_SEEN` transactions seen ending, and
//! holders whose age is unknown (another role's session, without pg_read_all_stats), who sit
//! idle in transaction (they end when their client says so, not when a statement ends) or who
//! are already older than anything seen make the forecast unknown: then nothing changes.
//! Whatever the forecast, a queued attempt is bounded by the lock timeout: a wrong forecast costs
//! at most one lock timeout of stall, and the caller forgets what it has seen (`forget`).

/// Durations kept: the most recent ones, so that a change of traffic is followed.
const KEEP: usize = 8;
/// Transactions that must have been seen ending before a forecast is made.
pub const MIN_SEEN: usize = 3;

/// One look at a conflicting holder: its virtual transaction and its transaction's age (ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Holder {
    pub vxid: Option<(i32, u32)>,
    pub age_ms: Option<f64>,
    /// Idle in transaction: no statement running whose end could be forecast.
    pub idle: bool,
}

#[derive(Default, Debug)]
pub struct Forecast {
    /// Holders seen at the previous look, with the time their transaction started (ms on the
    /// caller's clock).
    last: Vec<((i32, u32), f64)>,
    /// Durations of blocking transactions that ended while we waited, most recent last: from
    /// their start to the look that found them gone, an upper bound (a forecast from upper
    /// bounds queues later, never sooner, than the truth would).
    durations: Vec<f64>,
}

impl Forecast {
    /// Record a look, at `now_ms` on a monotonic clock, at the current holders: those seen
    /// before and gone now have ended.
    pub fn observe(&mut self, holders: &[Holder], now_ms: f64) {
        let now: Vec<((i32, u32), f64)> = holders
            .iter()
            .filter_map(|h| Some((h.vxid?, now_ms - h.age_ms?)))
            .collect();
        for (vxid, started) in &self.last {
            if !now.iter().any(|(v, _)| v == vxid) {
                self.durations.push(now_ms - started);
            }
        }
        let excess = self.durations.len().saturating_sub(KEEP);
        self.durations.drain(..excess);
        self.last = now;
    }

    /// The longest duration seen among the recent ones, once `MIN_SEEN` have ended.
    pub fn typical_ms(&self) -> Option<f64> {
        if self.durations.len() < MIN_SEEN {
            return None;
        }
        self.durations.iter().copied().reduce(f64::max)
    }

    /// Forget the durations seen (after a forecast proved wrong).
    pub fn forget(&mut self) {
        self.durations.clear();
    }

    /// How long queueing now would stall the application, by the forecast: until the last of
    /// `holders` is expected to end. None when it cannot be told.
    pub fn expected_stall_ms(&self, holders: &[Holder]) -> Option<f64> {
        let typical = self.typical_ms()?;
        holders.iter().try_fold(0f64, |stall, h| {
            if h.idle {
                return None;
            }
            let age = h.age_ms?;
            (age < typical).then(|| stall.max(typical - age))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Forecast, Holder};

    fn h(id: u32, age: f64) -> Holder {
        Holder {
            vxid: Some((3, id)),
            age_ms: Some(age),
            idle: false,
        }
    }

    /// Three transactions of `ms`, each seen at its start and found gone at its end.
    fn seen(ms: f64) -> Forecast {
        let mut f = Forecast::default();
        let mut now = 0.0;
        for i in 100..103 {
            f.observe(&[h(i, 0.0)], now);
            now += ms;
        }
        f.observe(&[], now);
        f
    }

    #[test]
    fn unknown_until_enough_have_ended() {
        let mut f = Forecast::default();
        f.observe(&[h(1, 900.0)], 0.0);
        assert_eq!(f.expected_stall_ms(&[h(2, 1000.0)]), None);
        f.observe(&[h(2, 1000.0)], 100.0);
        f.observe(&[h(3, 1000.0)], 200.0);
        assert_eq!(f.expected_stall_ms(&[h(3, 100.0)]), None);
        f.observe(&[h(4, 10.0)], 300.0);
        // 1 started at -900, found gone at 100: 1000 ms; 2 (-900, 200) and 3 (-800, 300): 1100.
        assert_eq!(f.typical_ms(), Some(1100.0));
        assert_eq!(f.expected_stall_ms(&[h(4, 1050.0)]), Some(50.0));
    }

    #[test]
    fn durations_are_upper_bounds() {
        let mut f = Forecast::default();
        // Seen at age 100, found gone 900 ms later: it lasted between 100 and 1000 ms.
        for i in 0..3 {
            let t = f64::from(i) * 2000.0;
            f.observe(&[h(i, 100.0)], t);
            f.observe(&[], t + 900.0);
        }
        assert_eq!(f.typical_ms(), Some(1000.0));
    }

    #[test]
    fn remaining_time_of_the_last_holder() {
        let f = seen(1400.0);
        assert_eq!(
            f.expected_stall_ms(&[h(2, 1000.0), h(3, 10.0)]),
            Some(1390.0)
        );
        assert_eq!(f.expected_stall_ms(&[h(2, 1300.0)]), Some(100.0));
    }

    #[test]
    fn overdue_idle_or_invisible_holders_make_it_unknown() {
        let f = seen(400.0);
        assert_eq!(f.expected_stall_ms(&[h(2, 500.0)]), None);
        let invisible = Holder {
            vxid: None,
            age_ms: None,
            idle: false,
        };
        assert_eq!(f.expected_stall_ms(&[h(2, 100.0), invisible]), None);
        let idle = Holder {
            idle: true,
            ..h(3, 100.0)
        };
        assert_eq!(f.expected_stall_ms(&[h(2, 100.0), idle]), None);
        assert_eq!(f.expected_stall_ms(&[h(2, 100.0)]), Some(300.0));
    }

    #[test]
    fn keeps_recent_durations_only_and_forgets() {
        let mut f = Forecast::default();
        f.observe(&[h(0, 5000.0)], 0.0);
        for i in 1..=9 {
            f.observe(&[h(i, 0.0)], f64::from(i) * 100.0);
        }
        f.observe(&[], 1000.0);
        assert_eq!(f.typical_ms(), Some(100.0));
        f.forget();
        assert_eq!(f.typical_ms(), None);
    }
}
