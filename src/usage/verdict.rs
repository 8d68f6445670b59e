//! Is a table or column in use? Pure: the facts come from the shared usage table (`api`), the
//! answer feeds the drop_column, drop_table and rename rules.
//!
//! Three answers. In use (`in_use` gives the reason): used within `usage_window`, or not proven
//! unused. Proven unused (`in_use` is None): no use within the window, and every use in it would
//! be on record (tracking ran for the whole window, or since the object's creation). Never used
//! (`never_used`): created while tracking ran and not used by anyone since, apart from the
//! transaction that created it and the one asking: no client can depend on it, so dropping or
//! renaming it is no hazard at all.

/// A point in time: microseconds since 2000-01-01 (TimestampTz) and its text for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instant {
    pub at: i64,
    pub text: String,
}

/// Last recorded read and write of one object (None: none since tracking started), not
/// counting the asking transaction's own uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectUse {
    pub last_read: Option<Instant>,
    pub last_write: Option<Instant>,
    /// When the object was created, if tracking saw it (TimestampTz).
    pub created: Option<i64>,
}

impl ObjectUse {
    fn unused(&self) -> bool {
        self.last_read.is_none() && self.last_write.is_none()
    }
}

/// What the usage table knows about one relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationUsage {
    pub now: i64,
    /// `safe_ddl.usage_window` in microseconds.
    pub window_us: i64,
    /// Since when uses of this relation have been recorded without a gap.
    pub tracking_since: Instant,
    /// Why tracking (re)started then, when that was not the first start with tracking (a
    /// stop without a complete save, a promotion, a reset): said with "tracked only since".
    pub restart_note: Option<String>,
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
    /// Part of an inheritance tree or partitioning: dropping or renaming it reaches other
    /// relations, or its data is used through its parent without a use of its own on record.
    pub inheritance: bool,
    /// Other objects depend on the relation (views, other tables' foreign keys or defaults using
    /// its sequences, functions, columns of its row type): dropping it with CASCADE drops them
    /// too, and they may be in use though the relation itself never was.
    pub depended_on: bool,
    /// Columns (quoted as the rules name them) that other objects depend on beyond what serves
    /// the column alone (its default, an index or constraint on it alone): a generated column,
    /// an index or constraint on several columns, a view, another table's foreign key. Dropping
    /// the column drops them too.
    pub depended_on_columns: Vec<String>,
    /// The relation has triggers of its own (not internal): their functions may read or write any
    /// column by name, which no usage record sees.
    pub triggers: bool,
    /// Code no usage record sees uses the relation: a logical replication subscription writes it
    /// (its apply worker and initial copy pass neither executor nor utility hooks; dropping or
    /// renaming a column or the relation stops the subscription), a publication sends it to
    /// subscribers (whose reads are on their servers), or it belongs to an extension (whose
    /// functions and upgrade scripts name its columns).
    pub unseen_users: bool,
    /// Standbys of safe_ddl.usage_standbys that could not be asked for their uses, and why
    /// ("standby 1 (host=...): connection refused"): nothing is proven unused without them.
    pub unasked: Vec<String>,
}

/// One object as the verdict sees it.
struct Object {
    what: String,
    used: ObjectUse,
    /// It has a slot of its own (its every use since is recorded, even while the table is full).
    recorded: bool,
    /// Since when its every use is on record: its creation, if tracking saw it.
    created: Option<i64>,
}

/// The later of two times (either may be missing).
pub fn later(a: &Option<Instant>, b: &Option<Instant>) -> Option<Instant> {
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

    /// Created while tracking ran, and used by nobody since (the transaction that created it and
    /// the asking one aside): dropping or renaming it breaks no client. Not with the in-use check
    /// off (a zero window), not for members of inheritance trees, not while a use of it may have
    /// been dropped for lack of space since its creation, not for a role that may not see the
    /// relation's uses (check() would tell it that nobody used it), not when the drop would take
    /// other objects with it that may be in use (`depended_on`, `depended_on_columns`), and not
    /// for a column of a relation with triggers (their functions name columns unseen), and not
    /// for a relation a subscription writes or an extension owns (`unseen_users`).
    pub fn never_used(&self, column: Option<&str>) -> bool {
        let o = self.object("", column);
        let Some(created) = o.created.filter(|c| *c >= self.tracking_since.at) else {
            return false;
        };
        self.window_us > 0
            && self.unasked.is_empty()
            && !self.inheritance
            && !self.hidden
            && o.used.unused()
            && self.overflow.as_ref().is_none_or(|x| x.at < created)
            && !self.unseen_users
            && match column {
                None => !self.depended_on,
                Some(c) => !self.triggers && !self.depended_on_columns.iter().any(|x| x == c),
            }
    }

    /// Any creation on record (the relation's or a column's): only then can it be never used.
    pub fn has_creation(&self) -> bool {
        self.table.created.is_some() || self.columns.iter().any(|(_, u)| u.created.is_some())
    }

    /// The same usage as if no creation had been seen: what the verdict would be without the
    /// never-used exemption.
    pub fn without_creation(&self) -> RelationUsage {
        let mut u = self.clone();
        u.table.created = None;
        u.columns.iter_mut().for_each(|(_, c)| c.created = None);
        u
    }

    fn object(&self, table_name: &str, column: Option<&str>) -> Object {
        match column {
            Some(c) => {
                let slot = self.columns.iter().find(|(name, _)| name == c);
                let own = slot.map(|(_, u)| u.clone()).unwrap_or_default();
                Object {
                    what: format!("column {c} of {table_name}"),
                    used: ObjectUse {
                        last_read: later(&own.last_read, &self.whole_row.last_read),
                        last_write: later(&own.last_write, &self.whole_row.last_write),
                        created: own.created,
                    },
                    recorded: slot.is_some(),
                    // A column added later has its own; the others were created with the table.
                    created: own.created.or(self.table.created),
                }
            }
            None => Object {
                what: table_name.to_string(),
                used: self.table.clone(),
                recorded: self.table_recorded,
                created: self.table.created,
            },
        }
    }

    fn reason(&self, table_name: &str, column: Option<&str>) -> Option<String> {
        let Object {
            what,
            used,
            recorded,
            created,
        } = self.object(table_name, column);
        // Its whole history is on record: created while tracking ran, and no reset since.
        let complete = created.is_some_and(|c| c >= self.tracking_since.at);
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
        if !self.unasked.is_empty() {
            return Some(format!(
                "It is not proven unused: safe_ddl could not ask every standby of safe_ddl.usage_standbys for its uses of \
                 {table_name}, so a use of {what} on a standby would not be seen: {}.",
                self.unasked.join("; ")
            ));
        }
        if self.tracking_since.at > cutoff && !complete {
            let because = self
                .restart_note
                .as_ref()
                .map(|n| format!(" Tracking restarted then: {n}."))
                .unwrap_or_default();
            return Some(format!(
                "It is not proven unused: safe_ddl has tracked the use of {table_name} only since {} ({} ago), \
                 less than safe_ddl.usage_window ({window}).{because}",
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
            restart_note: None,
            table: email.clone(),
            table_recorded: true,
            columns: vec![("email".into(), email)],
            whole_row: ObjectUse::default(),
            overflow: None,
            hidden: false,
            inheritance: false,
            depended_on: false,
            depended_on_columns: vec![],
            triggers: false,
            unseen_users: false,
            unasked: vec![],
        }
    }

    #[test]
    fn recent_read_or_write_is_in_use() {
        let u = usage(
            600,
            ObjectUse {
                last_read: at(5),
                last_write: at(90),
                ..Default::default()
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
            ..Default::default()
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
            ..Default::default()
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
                ..Default::default()
            },
        );
        u.hidden = true;
        let why = u.in_use("public.t", Some("email")).unwrap();
        assert!(why.contains("no privilege on public.t"), "{why}");
        assert!(!why.contains("T-5") && !why.contains("min"), "{why}");
        u.columns[0].1.last_read = at(61);
        assert_eq!(u.in_use("public.t", Some("email")), None);
    }

    /// A table created 30 min ago, tracked since 600 min ago (created: minutes ago of its
    /// creation); `email` has a slot with `email` uses.
    fn created(created_minutes_ago: i64, email: ObjectUse) -> RelationUsage {
        let mut u = usage(600, ObjectUse::default());
        u.table = ObjectUse {
            created: Some(at(created_minutes_ago).unwrap().at),
            ..email.clone()
        };
        u.columns = vec![("email".into(), email)];
        u
    }

    #[test]
    fn created_and_never_used_is_never_used_and_not_in_use() {
        // tracked for 30 min of a 60 min window: the old rule says "not proven unused"
        let mut u = created(30, ObjectUse::default());
        u.tracking_since = at(30).unwrap();
        u.tracking_since.at -= 1;
        for col in [None, Some("email"), Some("no_slot")] {
            assert!(u.never_used(col), "{col:?}");
            assert_eq!(u.in_use("public.t", col), None, "{col:?}");
        }
        // the same table, not seen created: the old rule
        u.table.created = None;
        assert!(!u.never_used(None));
        assert!(u
            .in_use("public.t", Some("email"))
            .unwrap()
            .contains("tracked the use of public.t only since"));
    }

    #[test]
    fn a_use_since_creation_is_a_use() {
        // read 5 min ago: in use, said as always
        let u = created(
            30,
            ObjectUse {
                last_read: at(5),
                ..Default::default()
            },
        );
        assert!(!u.never_used(None) && !u.never_used(Some("email")));
        assert!(u
            .in_use("public.t", Some("email"))
            .unwrap()
            .contains("column email of public.t read 5 min ago (T-5)"));
        // other columns of the table were not used
        assert!(u.never_used(Some("other")));
        // a whole-row read uses every column
        let mut w = created(30, ObjectUse::default());
        w.whole_row.last_read = at(5);
        assert!(!w.never_used(Some("other")));
        assert!(w.in_use("public.t", Some("other")).is_some());
        // written 90 min ago: in use with a 120 min window; proven unused with a 60 min one (the
        // plain allow), but not never used
        let mut old = created(
            200,
            ObjectUse {
                last_write: at(90),
                ..Default::default()
            },
        );
        old.tracking_since = at(200).unwrap();
        old.window_us = 120 * MIN;
        assert!(old
            .in_use("public.t", Some("email"))
            .unwrap()
            .contains("written 90 min ago"));
        old.window_us = 60 * MIN;
        assert_eq!(old.in_use("public.t", Some("email")), None);
        assert!(!old.never_used(Some("email")));
    }

    #[test]
    fn a_reset_after_creation_voids_the_history() {
        let mut u = created(30, ObjectUse::default());
        u.tracking_since = at(10).unwrap(); // reset_usage(t), or a global reset, 10 min ago
        assert!(!u.never_used(None) && !u.never_used(Some("email")));
        let why = u.in_use("public.t", Some("email")).unwrap();
        assert!(why.contains("not proven unused"), "{why}");
        assert!(why.contains("only since T-10"), "{why}");
        // a column added after the reset has its own complete history
        u.columns.push((
            "added".into(),
            ObjectUse {
                created: Some(at(5).unwrap().at),
                ..Default::default()
            },
        ));
        assert!(u.never_used(Some("added")));
        assert_eq!(u.in_use("public.t", Some("added")), None);
        // while the table's old columns are still not proven unused
        assert!(u.in_use("public.t", Some("email")).is_some());
        assert!(u.in_use("public.t", None).is_some());
    }

    #[test]
    fn overflow_since_creation_spoils_never_used_and_within_the_window_also_unused() {
        let mut u = created(30, ObjectUse::default());
        u.overflow = at(20);
        // a slot of its own: no use was dropped, but the table and `email` have slots only
        // because of... the table's creation record; `other` has none
        assert!(!u.never_used(Some("other")));
        let why = u.in_use("public.t", Some("other")).unwrap();
        assert!(
            why.contains("column other of public.t has no slot"),
            "{why}"
        );
        // objects with a slot: proven unused (every use is recorded), but not "never used"
        assert_eq!(u.in_use("public.t", Some("email")), None);
        assert!(!u.never_used(Some("email")));
        // an overflow before the creation says nothing about it
        u.overflow = at(40);
        assert!(u.never_used(Some("other")));
        // one after creation but out of the window: proven unused, not never used
        let mut v = created(200, ObjectUse::default());
        v.overflow = at(100);
        assert!(!v.never_used(Some("other")));
        assert_eq!(v.in_use("public.t", Some("other")), None);
    }

    #[test]
    fn never_used_needs_nothing_depending_on_it_and_no_triggers() {
        let mut u = created(30, ObjectUse::default());
        assert!(u.never_used(None) && u.never_used(Some("email")));
        u.depended_on_columns = vec!["email".into()];
        assert!(!u.never_used(Some("email")));
        assert!(u.never_used(Some("other")) && u.never_used(None));
        u.depended_on = true;
        assert!(!u.never_used(None));
        u.depended_on_columns.clear();
        u.triggers = true;
        assert!(!u.never_used(Some("other")));
        u.triggers = false;
        assert!(u.never_used(Some("other")));
        u.unseen_users = true;
        assert!(!u.never_used(Some("other")));
    }

    #[test]
    fn never_used_needs_a_window_and_no_inheritance() {
        let mut u = created(30, ObjectUse::default());
        u.window_us = 0;
        assert!(!u.never_used(None));
        assert_eq!(u.in_use("public.t", None), None);
        let mut p = created(30, ObjectUse::default());
        p.inheritance = true;
        assert!(!p.never_used(None) && !p.never_used(Some("email")));
        // but its history is still complete
        assert_eq!(p.in_use("public.t", None), None);
        // hidden: no uses shown, so not "never used" either (only proven unused)
        let mut h = created(30, ObjectUse::default());
        h.hidden = true;
        assert!(!h.never_used(Some("email")));
        assert_eq!(h.in_use("public.t", Some("email")), None);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_text(5_000_000), "5 s");
        assert_eq!(duration_text(86_400_000_000), "24 h");
        assert_eq!(duration_text(3 * 86_400_000_000), "3 days");
    }
}
