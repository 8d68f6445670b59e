//! Is a table or column in use? Pure: the facts come from the shared usage table (`api`), the
//! answer feeds the drop_column, drop_table and rename rules.

/// A point in time: microseconds since 2000-01-01 (TimestampTz) and its text for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instant {
    pub at: i64,
    pub text: String,
}

/// Last recorded read and write of one object (None: none since tracking started).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectUse {
    pub last_read: Option<Instant>,
    pub last_write: Option<Instant>,
}

/// What the usage table knows about one relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationUsage {
    pub now: i64,
    /// `safe_ddl.usage_window` in microseconds.
    pub window_us: i64,
    /// Since when uses of this relation have been recorded without a gap.
    pub tracking_since: Instant,
    /// The relation as a whole (any query that touched it).
    pub table: ObjectUse,
    /// Whether the relation as a whole has a slot (its every use is then recorded).
    pub table_recorded: bool,
    /// Columns with a slot (their every use since the slot was claimed is recorded; a reset
    /// leaves the slot, with no use).
    pub columns: Vec<(String, ObjectUse)>,
    /// Whole-row references (`SELECT t FROM t`): a use of every column.
    pub whole_row: ObjectUse,
    /// When a use (of anything) was last dropped because the usage table was full.
    pub overflow: Option<Instant>,
    /// The role asking may not see this relation's uses (safe_ddl.column_usage hides them): the
    /// verdict stands, its reason names no time.
    pub hidden: bool,
}

fn later(a: &Option<Instant>, b: &Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.at >= y.at { x.clone() } else { y.clone() }),
        (x, y) => x.clone().or_else(|| y.clone()),
    }
}

impl RelationUsage {
    /// Why `column` (or the table, for None) of `table_name` counts as in use, or None when it is
    /// proven unused: no read or write within the window, and tracking has run at least as long.
    pub fn in_use(&self, table_name: &str, column: Option<&str>) -> Option<String> {
        let why = self.reason(table_name, column)?;
        if !self.hidden {
            return Some(why);
        }
        let what = column.map_or_else(
            || table_name.to_string(),
            |c| format!("column {c} of {table_name}"),
        );
        Some(format!(
            "It is in use or not proven unused: safe_ddl's usage record says so for {what}, but you hold no \
             privilege on {table_name}, so when it was used is not shown."
        ))
    }

    fn reason(&self, table_name: &str, column: Option<&str>) -> Option<String> {
        let (what, used, recorded) = match column {
            Some(c) => {
                let slot = self.columns.iter().find(|(name, _)| name == c);
                let own = slot.map(|(_, u)| u.clone()).unwrap_or_default();
                let merged = ObjectUse {
                    last_read: later(&own.last_read, &self.whole_row.last_read),
                    last_write: later(&own.last_write, &self.whole_row.last_write),
                };
                (
                    format!("column {c} of {table_name}"),
                    merged,
                    slot.is_some(),
                )
            }
            None => (
                table_name.to_string(),
                self.table.clone(),
                self.table_recorded,
            ),
        };
        let cutoff = self.now - self.window_us;
        let window = duration_text(self.window_us);
        let recent: Vec<String> = [("read", &used.last_read), ("written", &used.last_write)]
            .into_iter()
            .filter_map(|(verb, t)| {
                let t = t.as_ref()?;
                (t.at >= cutoff)
                    .then(|| format!("{verb} {} ago ({})", duration_text(self.now - t.at), t.text))
            })
            .collect();
        if !recent.is_empty() {
            return Some(format!(
                "It is in use: safe_ddl saw {what} {}, within safe_ddl.usage_window ({window}).",
                recent.join(" and last ")
            ));
        }
        if self.tracking_since.at > cutoff {
            return Some(format!(
                "It is not proven unused: safe_ddl has tracked the use of {table_name} only since {} ({} ago), \
                 less than safe_ddl.usage_window ({window}).",
                self.tracking_since.text,
                duration_text(self.now - self.tracking_since.at)
            ));
        }
        // An object without a slot has no recorded use, but while uses are being dropped for
        // lack of space that proves nothing.
        if let Some(o) = self
            .overflow
            .as_ref()
            .filter(|o| o.at > cutoff && !recorded)
        {
            return Some(format!(
                "It is not proven unused: the usage table overflowed at {} ({} ago) and dropped the uses it had \
                 no slot for, and {what} has no slot, so a use of it may have been dropped. \
                 Raise safe_ddl.usage_max_entries (server start), or wait until no use has been dropped \
                 for safe_ddl.usage_window ({window}); see SELECT * FROM safe_ddl.usage_tracking();",
                o.text,
                duration_text(self.now - o.at)
            ));
        }
        None
    }
}

/// "3 s", "12 min", "5 h", "2 days": the largest unit that fits, rounded down.
pub fn duration_text(us: i64) -> String {
    let s = us.max(0) / 1_000_000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7_199 => format!("{} min", s / 60),
        7_200..=172_799 => format!("{} h", s / 3_600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    fn at(minutes_ago: i64) -> Option<Instant> {
        Some(Instant {
            at: 10_000 * MIN - minutes_ago * MIN,
            text: format!("T-{minutes_ago}"),
        })
    }

    fn usage(since_minutes_ago: i64, email: ObjectUse) -> RelationUsage {
        RelationUsage {
            now: 10_000 * MIN,
            window_us: 60 * MIN,
            tracking_since: at(since_minutes_ago).unwrap(),
            table: email.clone(),
            table_recorded: true,
            columns: vec![("email".into(), email)],
            whole_row: ObjectUse::default(),
            overflow: None,
            hidden: false,
        }
    }

    #[test]
    fn recent_read_or_write_is_in_use() {
        let u = usage(
            600,
            ObjectUse {
                last_read: at(5),
                last_write: at(90),
            },
        );
        let why = u.in_use("public.t", Some("email")).unwrap();
        assert!(
            why.contains("column email of public.t read 5 min ago (T-5)"),
            "{why}"
        );
        assert!(!why.contains("written"), "{why}");
        assert!(u.in_use("public.t", None).is_some());
    }

    #[test]
    fn unused_for_the_window_is_free_only_when_tracked_long_enough() {
        let old = ObjectUse {
            last_read: at(61),
            last_write: None,
        };
        assert_eq!(
            usage(600, old.clone()).in_use("public.t", Some("email")),
            None
        );
        // never seen, but tracking has run 30 min of a 60 min window
        let why = usage(30, ObjectUse::default())
            .in_use("public.t", Some("other"))
            .unwrap();
        assert!(why.contains("not proven unused"), "{why}");
        assert!(why.contains("30 min ago"), "{why}");
        // a column with no recorded use at all, tracked long enough
        assert_eq!(usage(600, old).in_use("public.t", Some("other")), None);
    }

    #[test]
    fn whole_row_reads_use_every_column() {
        let mut u = usage(600, ObjectUse::default());
        u.whole_row.last_read = at(5);
        let why = u.in_use("public.t", Some("anything")).unwrap();
        assert!(why.contains("read 5 min ago"), "{why}");
    }

    #[test]
    fn overflow_makes_objects_without_a_slot_unproven_for_a_window() {
        let old = ObjectUse {
            last_read: at(61),
            last_write: None,
        };
        let mut u = usage(600, old.clone());
        u.overflow = at(30);
        // no slot: uses may have been dropped
        let why = u.in_use("public.t", Some("other")).unwrap();
        assert!(why.contains("overflowed at T-30 (30 min ago)"), "{why}");
        assert!(
            why.contains("column other of public.t has no slot"),
            "{why}"
        );
        assert!(why.contains("safe_ddl.usage_max_entries"), "{why}");
        // a slot: every use since it was claimed is recorded, and the last is old
        assert_eq!(u.in_use("public.t", Some("email")), None);
        // a table without a slot
        u.table_recorded = false;
        assert!(u
            .in_use("public.t", None)
            .unwrap()
            .contains("public.t has no slot"));
        // an overflow longer ago than the window proves nothing is hidden
        u.overflow = at(61);
        assert_eq!(u.in_use("public.t", Some("other")), None);
        assert_eq!(u.in_use("public.t", None), None);
        // a window of 0 disables in_use, overflow included
        let mut off = usage(600, old);
        off.window_us = 0;
        off.overflow = at(0);
        assert_eq!(off.in_use("public.t", Some("other")), None);
    }

    #[test]
    fn hidden_usage_keeps_the_verdict_and_shows_no_time() {
        let mut u = usage(
            600,
            ObjectUse {
                last_read: at(5),
                last_write: None,
            },
        );
        u.hidden = true;
        let why = u.in_use("public.t", Some("email")).unwrap();
        assert!(why.contains("no privilege on public.t"), "{why}");
        assert!(!why.contains("T-5") && !why.contains("min"), "{why}");
        u.columns[0].1.last_read = at(61);
        assert_eq!(u.in_use("public.t", Some("email")), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(5_000_000), "5 s");
        assert_eq!(duration_text(86_400_000_000), "24 h");
        assert_eq!(duration_text(3 * 86_400_000_000), "3 days");
    }
}
