//! The last-use stamps of the usage table, pure: a stamp is one u64, `(seconds since
//! 2000-01-01) << 24 | tag`, where the tag is the pid of the only backend that used the object in
//! that second, or MULTI once more than one did (0 = never used). The tag lets a transaction
//! discount its own uses when it judges a drop or rename (a migration that reads a column and then
//! drops it, as Django's contenttypes.0002 does, is not a client of that column), and nothing
//! else: a use by any other backend stays visible, however the stores interleave.
//!
//! A backend updates a stamp only when it changes (the hot path is one relaxed load and a
//! compare): to (its second, itself) when the stored second is older; to MULTI when the stored
//! second is the same or newer and another backend's tag is in it. Each successful store is noted
//! in the backend's `Own` record for the slot (what it replaced), so that the transaction's own
//! stores can be seen through.

use std::sync::atomic::{AtomicU64, Ordering};

const TAG_BITS: u32 = 24;
/// The tag of a second in which more than one backend used the object (pids are < 2^22 on
/// Linux; a pid that does not fit below MULTI is tagged MULTI, so its uses are never discounted).
pub const MULTI: u32 = (1 << TAG_BITS) - 1;

pub fn encode(second: u64, tag: u32) -> u64 {
    (second << TAG_BITS) | u64::from(tag & MULTI)
}

pub fn second(stamp: u64) -> u64 {
    stamp >> TAG_BITS
}

pub fn tag(stamp: u64) -> u32 {
    (stamp as u32) & MULTI
}

/// The tag of the backend with process id `pid`.
pub fn tag_of_pid(pid: i32) -> u32 {
    match u32::try_from(pid) {
        Ok(p) if p > 0 && p < MULTI => p,
        _ => MULTI,
    }
}

/// The second of a TimestampTz (microseconds since 2000-01-01); at least 1, so that a stamp is
/// never 0 (never used).
pub fn second_of(micros: i64) -> u64 {
    (micros / 1_000_000).max(1) as u64
}

/// A stamp as a TimestampTz (whole seconds); 0 for never used.
pub fn micros(stamp: u64) -> i64 {
    if stamp == 0 {
        0
    } else {
        i64::try_from(second(stamp))
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000)
    }
}

/// What backend `me` stores when it uses an object in `now` (a second) and finds `stored`: None
/// when the stamp already says so (the same or a newer second, and `me` alone or several).
pub fn next(stored: u64, now: u64, me: u32) -> Option<u64> {
    let (s, t) = (second(stored), tag(stored));
    if s < now {
        Some(encode(now, me))
    } else if t == me || t == MULTI {
        None
    } else {
        // Another backend used it in this second or a later one (a statement that started
        // earlier can reach the executor later): both did, and the later second stands.
        Some(encode(s, MULTI))
    }
}

/// Records a use of `field` by `me` in second `now`. Returns (replaced, stored) when it stored.
pub fn update(field: &AtomicU64, now: u64, me: u32) -> Option<(u64, u64)> {
    let mut current = field.load(Ordering::Relaxed);
    loop {
        let new = next(current, now, me)?;
        match field.compare_exchange_weak(current, new, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some((current, new)),
            Err(seen) => current = seen,
        }
    }
}

/// The current transaction's own stores into one stamp: the value it found before (or, once
/// another backend stored in between, the value it last replaced) and the value it last stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Own {
    pub before: u64,
    pub ours: u64,
}

/// `own` after this transaction replaced `replaced` by `stored`.
pub fn noted(own: Option<Own>, replaced: u64, stored: u64) -> Own {
    match own {
        // Replacing its own last store: what was there before it still is the last real use.
        Some(o) if o.ours == replaced => Own {
            before: o.before,
            ours: stored,
        },
        // Its first store, or someone else stored since its last one: that is the last use.
        _ => Own {
            before: replaced,
            ours: stored,
        },
    }
}

/// The last use of a stamp that is not by the current transaction of backend `me` (whose own
/// stores into it are `own`): the stamp itself, unless this transaction stored it and nobody has
/// stored since.
pub fn effective(current: u64, me: u32, own: Option<Own>) -> u64 {
    match own {
        Some(o) if me != MULTI && current != 0 && tag(current) == me && o.ours == current => {
            o.before
        }
        _ => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const A: u32 = 4_194_303; // pid_max on 64-bit Linux
    const B: u32 = 77;

    #[test]
    fn encoding_round_trips_and_is_never_zero() {
        let s = encode(second_of(851_000_000_123_456), A);
        assert_eq!(second(s), 851_000_000);
        assert_eq!(tag(s), A);
        assert_eq!(micros(s), 851_000_000_000_000);
        assert_eq!(micros(0), 0);
        assert_eq!(second_of(0), 1);
        assert_eq!(second_of(-5), 1);
        assert_eq!(tag_of_pid(12345), 12345);
        assert_eq!(tag_of_pid(1 << 24), MULTI);
        assert_eq!(tag_of_pid(MULTI as i32), MULTI);
        assert_eq!(tag_of_pid(0), MULTI);
    }

    #[test]
    fn next_stores_only_when_the_stamp_changes() {
        // never used, or an older second: my second, my tag
        assert_eq!(next(0, 10, A), Some(encode(10, A)));
        assert_eq!(next(encode(9, B), 10, A), Some(encode(10, A)));
        assert_eq!(next(encode(9, MULTI), 10, A), Some(encode(10, A)));
        // same second: mine or several already -> nothing (the hot path)
        assert_eq!(next(encode(10, A), 10, A), None);
        assert_eq!(next(encode(10, MULTI), 10, A), None);
        // same second, someone else -> several
        assert_eq!(next(encode(10, B), 10, A), Some(encode(10, MULTI)));
        // a newer second by someone else (my statement started earlier) -> several, at that second
        assert_eq!(next(encode(11, B), 10, A), Some(encode(11, MULTI)));
        assert_eq!(next(encode(11, A), 10, A), None);
        assert_eq!(next(encode(11, MULTI), 10, A), None);
    }

    #[test]
    fn own_stores_are_seen_through_and_nobody_elses() {
        let old = encode(5, B);
        // my first store replaced B's old use; two more of my stores keep it
        let mut own = noted(None, old, encode(10, A));
        own = noted(Some(own), encode(10, A), encode(12, A));
        assert_eq!(effective(encode(12, A), A, Some(own)), old);
        // someone else in the same second: several, a real use
        assert_eq!(
            effective(encode(12, MULTI), A, Some(own)),
            encode(12, MULTI)
        );
        // someone else stored after me, I stored again: their use is the one before mine
        own = noted(Some(own), encode(13, B), encode(14, A));
        assert_eq!(effective(encode(14, A), A, Some(own)), encode(13, B));
        // my tag, but not a store of this transaction (an earlier one of this backend): real
        assert_eq!(effective(encode(20, A), A, None), encode(20, A));
        assert_eq!(effective(encode(20, A), A, Some(own)), encode(20, A));
        // a backend whose pid does not fit never discounts
        let m = noted(None, 0, encode(10, MULTI));
        assert_eq!(
            effective(encode(10, MULTI), MULTI, Some(m)),
            encode(10, MULTI)
        );
        assert_eq!(effective(0, A, Some(Own { before: 0, ours: 0 })), 0);
    }

    /// Backends race on one stamp: the "victim" (tag A) uses it in its transaction and then
    /// judges it; the others' uses must survive the victim's discount whatever the interleaving.
    #[test]
    fn concurrent_uses_by_others_are_never_discounted() {
        for round in 0..200u64 {
            let field = Arc::new(AtomicU64::new(encode(3, 9)));
            let others = 3;
            let handles: Vec<_> = (0..others)
                .map(|i| {
                    let f = Arc::clone(&field);
                    std::thread::spawn(move || {
                        let me = 100 + i;
                        let mut last = 0;
                        for step in 0..50u64 {
                            // seconds go forward, with some statements stamped earlier
                            let sec =
                                10 + (step + round + u64::from(i)) / 3 - (step % 5 == 0) as u64;
                            update(&f, sec, me);
                            last = last.max(sec);
                            if step % 7 == 0 {
                                std::thread::yield_now();
                            }
                        }
                        last
                    })
                })
                .collect();
            let mut own: Option<Own> = None;
            for step in 0..50u64 {
                let sec = 10 + step / 4;
                if let Some((replaced, stored)) = update(&field, sec, A) {
                    own = Some(noted(own, replaced, stored));
                }
                if step % 5 == 0 {
                    std::thread::yield_now();
                }
            }
            let latest_other = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .max()
                .unwrap();
            let seen = effective(field.load(Ordering::Relaxed), A, own);
            assert_ne!(tag(seen), A, "round {round}: a use of mine was counted");
            assert!(
                second(seen) >= latest_other,
                "round {round}: the others' last use ({latest_other}) was hidden: {} / {}",
                second(seen),
                tag(seen)
            );
        }
    }

    /// Alone, a transaction's own uses vanish completely from its judgement.
    #[test]
    fn alone_my_uses_are_discounted_to_what_was_there() {
        let field = AtomicU64::new(encode(3, 9));
        let mut own = None;
        for sec in [10, 10, 11, 15, 15, 16] {
            if let Some((replaced, stored)) = update(&field, sec, A) {
                own = Some(noted(own, replaced, stored));
            }
        }
        assert_eq!(field.load(Ordering::Relaxed), encode(16, A));
        assert_eq!(effective(encode(16, A), A, own), encode(3, 9));
    }
}
