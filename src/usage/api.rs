//! SQL side of usage tracking: the rows behind `safe_ddl.column_usage`, `reset_usage()`, and the
//! per-relation facts the drop/rename rules judge with.

use std::ffi::CStr;

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

use super::store::{self, Entry};
use super::verdict::{Instant, ObjectUse, RelationUsage};
use super::{own, stamp, standbys};
use crate::gucs;

fn db() -> u32 {
    // SAFETY: a plain global of the backend.
    u32::from(unsafe { pg_sys::MyDatabaseId })
}

fn ts(at: i64) -> Option<TimestampWithTimeZone> {
    (at > 0)
        .then(|| TimestampWithTimeZone::try_from(at).ok())
        .flatten()
}

fn instant(at: i64) -> Option<Instant> {
    if at <= 0 {
        return None;
    }
    // SAFETY: timestamptz_to_str returns a static buffer, copied before anything else runs.
    let text = unsafe { CStr::from_ptr(pg_sys::timestamptz_to_str(at)) }
        .to_string_lossy()
        .into_owned();
    Some(Instant { at, text })
}

/// The uses of an entry as the current transaction judges them: not counting its own.
fn object_use(e: &Entry) -> ObjectUse {
    let last =
        |write: bool, current: u64| instant(stamp::micros(own::effective(e.slot, write, current)));
    ObjectUse {
        last_read: last(false, e.last_read),
        last_write: last(true, e.last_write),
        created: (e.created > 0).then_some(e.created),
    }
}

/// Which usage entries the current user may see (issue 12): superusers all; others those of
/// relations they own (member of the owner) or hold any table privilege on (all entries), or hold
/// column privileges on (the relation and whole-row entries, and the entries of those columns).
/// Entries of dropped relations: superusers only.
#[derive(Default)]
struct Visibility {
    superuser: Option<bool>,
    /// relid -> (whole table visible, relation exists)
    tables: std::collections::HashMap<u32, (bool, bool)>,
}

impl Visibility {
    const TABLE_BITS: pg_sys::AclMode = (pg_sys::ACL_SELECT
        | pg_sys::ACL_INSERT
        | pg_sys::ACL_UPDATE
        | pg_sys::ACL_DELETE
        | pg_sys::ACL_TRUNCATE
        | pg_sys::ACL_REFERENCES
        | pg_sys::ACL_TRIGGER) as pg_sys::AclMode;
    const COLUMN_BITS: pg_sys::AclMode =
        (pg_sys::ACL_SELECT | pg_sys::ACL_INSERT | pg_sys::ACL_UPDATE | pg_sys::ACL_REFERENCES)
            as pg_sys::AclMode;

    /// May the current user see every entry of `rel` (superuser, owner, or a table privilege)?
    fn whole(&mut self, rel: u32) -> bool {
        self.superuser() || self.table(rel).0
    }

    fn superuser(&mut self) -> bool {
        // SAFETY: a catalog lookup inside the calling transaction.
        *self
            .superuser
            .get_or_insert_with(|| unsafe { pg_sys::superuser() })
    }

    /// (whole table visible, relation exists), cached per relation.
    fn table(&mut self, rel: u32) -> (bool, bool) {
        // SAFETY: ACL lookups inside the calling transaction; a missing relation is reported
        // through `missing` rather than raised.
        *self.tables.entry(rel).or_insert_with(|| unsafe {
            let (user, oid) = (pg_sys::GetUserId(), pg_sys::Oid::from(rel));
            let mut missing = false;
            let any = pg_sys::pg_class_aclcheck_ext(oid, user, Self::TABLE_BITS, &mut missing)
                == pg_sys::AclResult::ACLCHECK_OK;
            if missing {
                return (false, false);
            }
            (any || crate::pg_version::owns_relation(oid, user), true)
        })
    }

    fn entry(&mut self, rel: u32, attnum: i16) -> bool {
        if self.superuser() {
            return true;
        }
        let (whole, exists) = self.table(rel);
        // SAFETY: ACL lookups inside the calling transaction, on an existing relation.
        unsafe {
            let user = pg_sys::GetUserId();
            let oid = pg_sys::Oid::from(rel);
            if whole || !exists {
                return whole;
            }
            if attnum > 0 {
                let mut missing = false;
                pg_sys::pg_attribute_aclcheck_ext(
                    oid,
                    attnum,
                    user,
                    Self::COLUMN_BITS,
                    &mut missing,
                ) == pg_sys::AclResult::ACLCHECK_OK
                    && !missing
            } else {
                pg_sys::pg_attribute_aclcheck_all(
                    oid,
                    user,
                    Self::COLUMN_BITS,
                    pg_sys::AclMaskHow::ACLMASK_ANY,
                ) == pg_sys::AclResult::ACLCHECK_OK
            }
        }
    }
}

/// Every recorded use in this database that the current user may see (Visibility): relid, attnum (-32768 = the relation as a whole,
/// 0 = whole-row reference), last read, last write, and since when the relation is tracked.
/// Backs the view safe_ddl.column_usage.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe)]
fn _usage_entries() -> TableIterator<
    'static,
    (
        name!(relid, pg_sys::Oid),
        name!(attnum, i16),
        name!(last_read, Option<TimestampWithTimeZone>),
        name!(last_write, Option<TimestampWithTimeZone>),
        name!(tracking_since, Option<TimestampWithTimeZone>),
    ),
> {
    let db = db();
    let mut visible = Visibility::default();
    let rows: Vec<_> = store::entries(db, None, false)
        .into_iter()
        .filter(|e| visible.entry(e.rel, e.attnum))
        .map(|e| {
            let since = store::tracking_since(db, e.rel).and_then(ts);
            (
                pg_sys::Oid::from(e.rel),
                e.attnum,
                ts(stamp::micros(e.last_read)),
                ts(stamp::micros(e.last_write)),
                since,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Forget the recorded uses of `relation` (tracking of it restarts now), or with NULL of every
/// relation in the cluster. Never makes anything look unused: afterwards nothing it covers is
/// proven unused until a whole safe_ddl.usage_window has passed. Wrapped by reset_usage(regclass).
#[pg_extern(volatile)]
fn _reset_usage(relation: Option<pg_sys::Oid>) -> bool {
    if !store::available() {
        return false;
    }
    // SAFETY: plain backend call.
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    if !store::reset(db(), relation.map(u32::from), now) {
        crate::encoding::report(
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                "safe_ddl: cannot reset the usage of this relation: the column usage table is full",
                "safe_ddl",
            )
            .set_detail(
                "The time its tracking restarts needs a slot of its own; without it the relation would look unused at once. \
                 Nothing was reset.",
            )
            .set_hint(
                "Raise safe_ddl.usage_max_entries (takes effect at server restart), or reset everything: SELECT safe_ddl.reset_usage();",
            ),
            PgLogLevel::ERROR,
        );
    }
    true
}

/// Tracking itself: since when, slots used of how many (new objects get none beyond 3/4 of
/// them), uses lost because the table was full, when the last overflow episode began and when
/// its last use was dropped. While `last_overflow` is within safe_ddl.usage_window, objects
/// without a slot are not proven unused.
#[pg_extern(volatile)]
#[allow(clippy::type_complexity)]
fn usage_tracking() -> TableIterator<
    'static,
    (
        name!(tracking, bool),
        name!(since, Option<TimestampWithTimeZone>),
        name!(slots_used, i64),
        name!(slots, i64),
        name!(uses_dropped, i64),
        name!(overflow_since, Option<TimestampWithTimeZone>),
        name!(last_overflow, Option<TimestampWithTimeZone>),
        name!(last_save, Option<TimestampWithTimeZone>),
        name!(since_reason, Option<String>),
    ),
> {
    let row = match store::stats() {
        Some(s) => (
            true,
            ts(s.since),
            s.used as i64,
            s.capacity as i64,
            s.dropped as i64,
            ts(s.overflow_since),
            ts(s.last_overflow),
            store::last_save().and_then(ts),
            Some(
                store::restart()
                    .and_then(|r| r.describe(|t| instant(t).map_or_else(String::new, |i| i.text)))
                    .unwrap_or_else(|| "server start".into()),
            ),
        ),
        None => (false, None, 0, 0, 0, None, None, None, None),
    };
    TableIterator::once(row)
}

/// The facts the drop_column, drop_table and rename rules need about `relid`.
pub fn relation_usage(relid: pg_sys::Oid) -> Option<RelationUsage> {
    let db = db();
    let rel = u32::from(relid);
    // SAFETY: plain backend calls (the shared recovery state, the clock).
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    // SAFETY: as above.
    store::note_promotion_if(unsafe { pg_sys::RecoveryInProgress() }, now);
    let since_at = store::tracking_since(db, rel)?;
    let since = instant(since_at)?;
    // The server-wide restart explains `since` unless this relation's own reset is later.
    let restart_note = store::stats()
        .filter(|s| s.since == since_at)
        .and(store::restart())
        .and_then(|r| r.describe(|t| instant(t).map_or_else(String::new, |i| i.text)));
    let mut usage = RelationUsage {
        now,
        window_us: gucs::usage_window_us(),
        tracking_since: since,
        restart_note,
        table: ObjectUse::default(),
        table_recorded: false,
        columns: vec![],
        whole_row: ObjectUse::default(),
        overflow: store::last_overflow().and_then(instant),
        // The rule of safe_ddl.column_usage: the uses of a relation the role holds no privilege
        // on are not its business (check() and refusals would show them otherwise).
        hidden: !Visibility::default().whole(rel),
        inheritance: in_inheritance_tree(relid),
        depended_on: false,
        depended_on_columns: vec![],
        triggers: false,
        unseen_users: false,
        unasked: vec![],
    };
    for e in store::entries(db, Some(rel), true) {
        match e.attnum {
            store::TABLE => {
                usage.table = object_use(&e);
                usage.table_recorded = true;
            }
            store::WHOLE_ROW => usage.whole_row = object_use(&e),
            attnum => {
                // SAFETY: syscache lookup; missing_ok, so a dropped column gives NULL.
                let name = unsafe { pg_sys::get_attname(relid, attnum, true) };
                if !name.is_null() {
                    // Quoted as an identifier, as the rules name columns (describe/names.rs):
                    // "Order" and order must not be told apart by the quotes.
                    // SAFETY: a palloc'd NUL-terminated name; quote_identifier returns it or a
                    // palloc'd quoted copy.
                    let name =
                        unsafe { crate::encoding::cstr_to_rust(pg_sys::quote_identifier(name)) };
                    usage.columns.push((name, object_use(&e)));
                }
            }
        }
    }
    add_standby_uses(&mut usage, relid);
    // Only an object with a creation record can be judged never used; the others need no more.
    if usage.table.created.is_some() || usage.columns.iter().any(|(_, u)| u.created.is_some()) {
        let (depended_on, columns, triggers) = dependents(relid);
        usage.depended_on = depended_on;
        usage.depended_on_columns = columns;
        usage.triggers = triggers;
        usage.unseen_users = crate::spi_ro::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_subscription_rel \
                             WHERE srrelid OPERATOR(pg_catalog.=) $1) \
                 OR EXISTS (SELECT FROM pg_catalog.pg_depend \
                             WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                               AND objid OPERATOR(pg_catalog.=) $1 \
                               AND deptype OPERATOR(pg_catalog.=) 'e') \
                 OR EXISTS (SELECT FROM pg_catalog.pg_publication_rel \
                             WHERE prrelid OPERATOR(pg_catalog.=) $1) \
                 OR EXISTS (SELECT FROM pg_catalog.pg_publication WHERE puballtables) \
                 OR EXISTS (SELECT FROM pg_catalog.pg_publication_namespace pn \
                              JOIN pg_catalog.pg_class c \
                                ON c.relnamespace OPERATOR(pg_catalog.=) pn.pnnspid \
                             WHERE c.oid OPERATOR(pg_catalog.=) $1)",
            &[relid.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(true);
    }
    Some(usage)
}

/// Fold the uses the standbys of safe_ddl.usage_standbys made of `relid` into `usage`: a use
/// there is a use; a standby that tracked for a shorter time moves `tracking_since` later (and
/// says so); one whose table overflowed adds its overflow; one that cannot be asked is listed in
/// `unasked`.
fn add_standby_uses(usage: &mut RelationUsage, relid: pg_sys::Oid) {
    let setting = gucs::usage_standbys();
    if standbys::configured(&setting).is_empty() {
        return;
    }
    let schema = crate::spi_ro::get_one_with_args::<String>(
        "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e \
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace \
          WHERE e.extname OPERATOR(pg_catalog.=) 'safe_ddl'",
        &[],
    );
    let Ok(Some(schema)) = schema else {
        usage
            .unasked
            .push("the safe_ddl extension's schema is unknown in this database".into());
        return;
    };
    // SAFETY: the current database's name, palloc'd (NULL if it was dropped meanwhile).
    let dbname = unsafe { pg_sys::get_database_name(pg_sys::MyDatabaseId) };
    if dbname.is_null() {
        return;
    }
    // SAFETY: non-null, NUL-terminated.
    let dbname = unsafe { crate::encoding::cstr_to_rust(dbname) };
    let at = |us: i64| if us > 0 { instant(us) } else { None };
    for result in standbys::ask_all_once(&setting, &dbname, &schema, u32::from(relid)) {
        let a = match result {
            Ok(a) => a,
            Err((label, why)) => {
                usage.unasked.push(format!("{label}: {why}"));
                continue;
            }
        };
        for (attnum, read, write) in &a.uses {
            let theirs = ObjectUse {
                last_read: at(*read),
                last_write: at(*write),
                created: None,
            };
            let merge = |mine: &mut ObjectUse| {
                mine.last_read = super::verdict::later(&mine.last_read, &theirs.last_read);
                mine.last_write = super::verdict::later(&mine.last_write, &theirs.last_write);
            };
            match *attnum {
                store::TABLE => merge(&mut usage.table),
                store::WHOLE_ROW => merge(&mut usage.whole_row),
                n => {
                    // SAFETY: syscache lookup; missing_ok.
                    let name = unsafe { pg_sys::get_attname(relid, n, true) };
                    if name.is_null() {
                        continue;
                    }
                    // SAFETY: a palloc'd name, quoted as the rules name columns.
                    let name =
                        unsafe { crate::encoding::cstr_to_rust(pg_sys::quote_identifier(name)) };
                    match usage.columns.iter_mut().find(|(c, _)| *c == name) {
                        Some((_, mine)) => merge(mine),
                        None => usage.columns.push((name, theirs.clone())),
                    }
                }
            }
        }
        if a.since > usage.tracking_since.at {
            if let Some(since) = instant(a.since) {
                usage.tracking_since = since;
                usage.restart_note = Some(format!(
                    "{} has recorded its clients' uses only since then ({})",
                    a.label,
                    a.reason.as_deref().unwrap_or("its start")
                ));
            }
        }
        if a.last_overflow > 0
            && usage
                .overflow
                .as_ref()
                .is_none_or(|o| o.at < a.last_overflow)
        {
            usage.overflow = instant(a.last_overflow);
        }
    }
}

/// This server's uses of `relation` in the current database, for a primary that asks
/// (usage/standbys.rs): one row with attnum NULL (since when tracked, why, the last overflow),
/// then one per slot with a use (last read and write), times as TimestampTz microseconds (0:
/// none). Superusers and members of pg_read_all_stats only: when objects were used is
/// statistics about them.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile)]
fn _usage_export(
    relation: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(attnum, Option<i16>),
        name!(last_read_us, i64),
        name!(last_write_us, i64),
        name!(since_us, Option<i64>),
        name!(since_reason, Option<String>),
        name!(last_overflow_us, Option<i64>),
    ),
> {
    // SAFETY: plain backend calls.
    let allowed = unsafe {
        pg_sys::superuser()
            || pg_sys::has_privs_of_role(
                pg_sys::GetUserId(),
                pg_sys::Oid::from(pg_sys::ROLE_PG_READ_ALL_STATS),
            )
    };
    if !allowed {
        crate::encoding::report(
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "safe_ddl: permission denied to read this server's column usage",
                "safe_ddl",
            )
            .set_hint("Grant pg_read_all_stats here to the role that the primary's safe_ddl.usage_standbys connects as."),
            PgLogLevel::ERROR,
        );
    }
    let db = db();
    let rel = u32::from(relation);
    let Some(since) = store::tracking_since(db, rel) else {
        return TableIterator::new(vec![]);
    };
    let reason = store::restart()
        .and_then(|r| r.describe(|t| instant(t).map_or_else(String::new, |i| i.text)));
    let mut rows = vec![(
        None,
        0,
        0,
        Some(since),
        reason,
        Some(store::last_overflow().unwrap_or(0)),
    )];
    for e in store::entries(db, Some(rel), false) {
        rows.push((
            Some(e.attnum),
            stamp::micros(e.last_read),
            stamp::micros(e.last_write),
            None,
            None,
            None,
        ));
    }
    TableIterator::new(rows)
}

/// What a drop of `relid` (or of one of its columns) would take with it beyond itself, from
/// pg_depend: (other objects depend on the relation, its row type or a sequence it owns; the
/// columns other objects depend on beyond their own default, an index or constraint of the
/// relation on that column alone, or a sequence only that default uses; the relation has
/// non-internal triggers). When it cannot be told: everything.
fn dependents(relid: pg_sys::Oid) -> (bool, Vec<String>, bool) {
    // Objects that are part of the relation itself: dropped with it, used only through it.
    const PART_OF: &str = "( (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
              AND (d.objid OPERATOR(pg_catalog.=) $1 \
                   OR d.objid OPERATOR(pg_catalog.=) ANY (SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid OPERATOR(pg_catalog.=) $1) \
                   OR d.objid OPERATOR(pg_catalog.=) ANY (SELECT o FROM owned_seq))) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_attrdef WHERE adrelid OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_constraint WHERE conrelid OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_trigger'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_trigger WHERE tgrelid OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_rewrite WHERE ev_class OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_policy WHERE polrelid OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_statistic_ext WHERE stxrelid OPERATOR(pg_catalog.=) $1)) \
           OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass \
               AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_type WHERE typrelid OPERATOR(pg_catalog.=) $1)) )";
    // The sequences the relation owns (serial: 'a', identity: 'i').
    const OWNED_SEQ: &str = "owned_seq(o) AS ( \
           SELECT d.objid FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid AND s.relkind OPERATOR(pg_catalog.=) 'S' \
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
              AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
              AND d.refobjid OPERATOR(pg_catalog.=) $1 AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::pg_catalog.\"char\"[]))";
    let relation = format!(
        "WITH {OWNED_SEQ}, referenced(c, o) AS ( \
           SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, $1 \
           UNION ALL SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, oid FROM pg_catalog.pg_type \
                      WHERE typrelid OPERATOR(pg_catalog.=) $1 \
           UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, o FROM owned_seq) \
         SELECT EXISTS (SELECT FROM pg_catalog.pg_depend d \
                          JOIN referenced r ON d.refclassid OPERATOR(pg_catalog.=) r.c \
                                           AND d.refobjid OPERATOR(pg_catalog.=) r.o \
                         WHERE d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['n', 'a']::pg_catalog.\"char\"[]) AND NOT {PART_OF})"
    );
    // Per column: its dependents, minus its own default, an index of the relation that depends on
    // no other column, a constraint of the relation on that column alone, and a sequence it owns
    // that nothing but its own default uses.
    let columns = format!(
        "WITH {OWNED_SEQ} \
         SELECT pg_catalog.array_agg(DISTINCT pg_catalog.quote_ident(a.attname::pg_catalog.text)) \
           FROM pg_catalog.pg_depend d \
           JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.refobjid \
                                         AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid \
          WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
            AND d.refobjid OPERATOR(pg_catalog.=) $1 AND d.refobjsubid OPERATOR(pg_catalog.>) 0 \
            AND d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['n', 'a', 'i']::pg_catalog.\"char\"[]) \
            AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass \
                     AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_attrdef \
                                      WHERE adrelid OPERATOR(pg_catalog.=) $1 AND adnum OPERATOR(pg_catalog.=) d.refobjsubid)) \
            AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                     AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT indexrelid FROM pg_catalog.pg_index WHERE indrelid OPERATOR(pg_catalog.=) $1) \
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend x \
                                      WHERE x.classid OPERATOR(pg_catalog.=) d.classid AND x.objid OPERATOR(pg_catalog.=) d.objid \
                                        AND x.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                                        AND (x.refobjid OPERATOR(pg_catalog.<>) $1 \
                                             OR x.refobjsubid OPERATOR(pg_catalog.<>) ALL (ARRAY[0, d.refobjsubid])))) \
            AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass \
                     AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_constraint \
                                      WHERE conrelid OPERATOR(pg_catalog.=) $1 \
                                        AND conkey OPERATOR(pg_catalog.=) ARRAY[d.refobjsubid::pg_catalog.int2])) \
            AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                     AND d.objid OPERATOR(pg_catalog.=) ANY (SELECT o FROM owned_seq) \
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend x \
                                      WHERE x.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                                        AND x.refobjid OPERATOR(pg_catalog.=) d.objid AND x.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['n', 'a']::pg_catalog.\"char\"[]) \
                                        AND NOT (x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass \
                                                 AND x.objid OPERATOR(pg_catalog.=) ANY (SELECT oid FROM pg_catalog.pg_attrdef \
                                                                  WHERE adrelid OPERATOR(pg_catalog.=) $1 \
                                                                    AND adnum OPERATOR(pg_catalog.=) d.refobjsubid))))"
    );
    let triggers = "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger \
                     WHERE tgrelid OPERATOR(pg_catalog.=) $1 AND NOT tgisinternal)";
    let depended_on = crate::spi_ro::get_one_with_args::<bool>(&relation, &[relid.into()])
        .ok()
        .flatten()
        .unwrap_or(true);
    let triggers = crate::spi_ro::get_one_with_args::<bool>(triggers, &[relid.into()])
        .ok()
        .flatten()
        .unwrap_or(true);
    let columns = match crate::spi_ro::get_one_with_args::<Vec<String>>(&columns, &[relid.into()]) {
        Ok(c) => c.unwrap_or_default(),
        // Cannot be told: every column counts as depended on (the triggers flag says the same).
        Err(_) => return (true, vec![], true),
    };
    (depended_on, columns, triggers)
}

/// Has `relid` a parent or children (inheritance or partitioning)? True when it cannot be told.
fn in_inheritance_tree(relid: pg_sys::Oid) -> bool {
    crate::spi_ro::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_inherits \
                         WHERE inhrelid OPERATOR(pg_catalog.=) $1 OR inhparent OPERATOR(pg_catalog.=) $1)",
        &[relid.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(true)
}
