//! Who holds or waits for a lock on a relation that conflicts with the one a DDL needs: from
//! pg_locks and pg_stat_activity, within what the caller may see there.

use pgrx::{pg_sys, Spi};

use crate::ddl::LockMode;
use crate::encoding::Text;

#[derive(Clone, Debug)]
pub struct Blocker {
    pub pid: Option<i32>,
    /// The virtual transaction holding the lock (backend id, local transaction id).
    pub vxid: Option<(i32, u32)>,
    pub relation: String,
    pub mode: String,
    pub granted: bool,
    pub user: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
    /// How long its transaction has been running, in ms (None when not visible or a prepared
    /// transaction).
    pub xact_age_ms: Option<f64>,
    pub query: Option<String>,
}

impl Blocker {
    /// Sitting idle in its open transaction (also "(aborted)"): it runs no statement.
    pub fn idle_in_transaction(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.starts_with("idle in transaction"))
    }

    pub fn describe(&self) -> String {
        let who = match self.pid {
            Some(pid) => format!("pid {pid}"),
            None => "a prepared transaction".into(),
        };
        let mut parts = vec![format!(
            "{who} {} {} on {}",
            if self.granted { "holds" } else { "waits for" },
            self.mode,
            self.relation
        )];
        if let Some(u) = &self.user {
            parts.push(format!("user {u}"));
        }
        if let Some(a) = self.application.as_ref().filter(|a| !a.is_empty()) {
            parts.push(format!("application {a}"));
        }
        if let Some(s) = &self.state {
            parts.push(format!("state {s}"));
        }
        if let Some(age) = self.xact_age_ms {
            parts.push(format!("in transaction for {:.1} s", age / 1000.0));
        }
        if let Some(q) = self.query.as_ref().filter(|q| !q.is_empty()) {
            parts.push(format!("query: {q}"));
        }
        parts.join(", ")
    }
}

/// Whether any other session holds a lock on one of `relids` that conflicts with `mode`: the
/// lock manager's own answer (GetLockConflicts), cheap enough for every guarded statement, so
/// the pg_locks query of `conflicting` runs only when someone is actually in the way.
pub fn any_conflict(relids: &[u32], mode: LockMode) -> bool {
    relids.iter().any(|relid| {
        // SAFETY: a LOCKTAG as SET_LOCKTAG_RELATION builds it; GetLockConflicts only reads the
        // lock tables (its result array is palloc'd and freed with the memory context).
        unsafe {
            let oid = pg_sys::Oid::from(*relid);
            let db = if pg_sys::IsSharedRelation(oid) {
                0
            } else {
                u32::from(pg_sys::MyDatabaseId)
            };
            let tag = pg_sys::LOCKTAG {
                locktag_field1: db,
                locktag_field2: *relid,
                locktag_field3: 0,
                locktag_field4: 0,
                locktag_type: pg_sys::LockTagType::LOCKTAG_RELATION as u8,
                locktag_lockmethodid: pg_sys::DEFAULT_LOCKMETHOD as u8,
            };
            let mut count: std::ffi::c_int = 0;
            pg_sys::GetLockConflicts(&tag, mode.to_pg(), &mut count);
            count > 0
        }
    })
}

/// Sessions (other than this one) holding or awaiting a lock on any of `relids` that conflicts
/// with `mode`. Never errors: a failed look-up means "nobody known".
pub fn conflicting(relids: &[u32], mode: LockMode) -> Vec<Blocker> {
    if relids.is_empty() {
        return vec![];
    }
    // pg_stat_activity is snapshotted once per transaction; look at the present.
    // SAFETY: plain function call inside a transaction.
    unsafe { pg_sys::pgstat_clear_snapshot() };
    let oids: Vec<pg_sys::Oid> = relids.iter().map(|o| pg_sys::Oid::from(*o)).collect();
    // Runs in the session of whoever runs the DDL (a superuser, often) with its search_path: every
    // function and operator is pg_catalog's (OPERATOR(pg_catalog.*), explicit casts), so one that
    // another role defined in a schema on that path cannot be picked (extract(... FROM ...) is
    // syntax for pg_catalog.extract). See docs/security.md.
    let rows = Spi::connect(|client| {
        let rows = client.select(
            "SELECT l.pid, l.relation::pg_catalog.regclass::pg_catalog.text, l.mode, l.granted, a.usename::pg_catalog.text, \
                    a.application_name, a.state, \
                    (extract(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start) \
                     OPERATOR(pg_catalog.*) 1000::pg_catalog.numeric)::pg_catalog.float8, \
                    pg_catalog.left(pg_catalog.regexp_replace(a.query, '\\s+', ' ', 'g'), 100), l.virtualtransaction \
             FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid \
             WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' \
               AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d \
                                                      WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) \
               AND l.relation OPERATOR(pg_catalog.=) ANY($1) \
               AND (l.pid IS NULL OR l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()) \
             ORDER BY l.granted DESC, a.xact_start NULLS FIRST",
            None,
            &[oids.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            out.push(Blocker {
                pid: row.get::<i32>(1)?,
                relation: row.get::<Text>(2)?.map(String::from).unwrap_or_default(),
                mode: row.get::<Text>(3)?.map(String::from).unwrap_or_default(),
                granted: row.get::<bool>(4)?.unwrap_or(false),
                user: row.get::<Text>(5)?.map(String::from),
                application: row.get::<Text>(6)?.map(String::from),
                state: row.get::<Text>(7)?.map(String::from),
                xact_age_ms: row.get::<f64>(8)?,
                query: row.get::<Text>(9)?.map(String::from),
                vxid: row.get::<Text>(10)?.map(String::from).and_then(|v| parse_vxid(&v)),
            });
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default();
    let mut seen = Vec::new();
    rows.into_iter()
        .filter(|b| LockMode::from_name(&b.mode).is_some_and(|m| m.conflicts_with(mode)))
        .filter(|b| {
            let key = (b.pid, b.relation.clone(), b.granted);
            if seen.contains(&key) {
                false
            } else {
                seen.push(key);
                true
            }
        })
        .collect()
}

/// "3/1234" -> (3, 1234); prepared transactions ("-1/...") have no live backend to wait for.
/// From PostgreSQL 17 the first number is a ProcNumber, which starts at 0 (a BackendId, up to
/// 16, starts at 1): a session in proc slot 0 is awaited like any other (with `> 0` it was not,
/// and the wait for it was invisible to pg_blocking_pids; found by the isolation suite on 17 and 18
/// when an earlier suite left that slot to the blocking session).
fn parse_vxid(v: &str) -> Option<(i32, u32)> {
    let (backend, local) = v.split_once('/')?;
    let backend: i32 = backend.parse().ok()?;
    let local: u32 = local.parse().ok()?;
    (backend >= 0 && local > 0).then_some((backend, local))
}

pub fn summary(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "no conflicting session is visible any more".into();
    }
    let shown: Vec<String> = blockers.iter().take(5).map(Blocker::describe).collect();
    let more = if blockers.len() > 5 {
        format!("\n(and {} more)", blockers.len() - 5)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join("\n"))
}

/// Existing relations other than `targets` on which this transaction already holds a lock that
/// blocks reads or writes (SHARE or stronger), by name: while the statement waits, the
/// application waits on them. Tables, but also views (`CREATE OR REPLACE VIEW` holds ACCESS
/// EXCLUSIVE on the view: every query reading it waits), sequences (`ALTER SEQUENCE` blocks
/// nextval), foreign tables and indexes. Relations created in this transaction (nobody else can
/// see them) and temporary ones are left out. Never errors: a failed look-up means "none known".
pub fn held_elsewhere(targets: &[u32]) -> Vec<String> {
    let oids: Vec<pg_sys::Oid> = targets.iter().map(|o| pg_sys::Oid::from(*o)).collect();
    let rows = Spi::connect(|client| {
        let rows = client.select(
            "SELECT c.oid::pg_catalog.regclass::pg_catalog.text, l.mode, c.oid \
             FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) l.relation \
             WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted \
               AND l.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid() \
               AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d \
                                                      WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) \
               AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,m,v,f,S,i,I}'::pg_catalog.\"char\"[]) \
               AND c.relpersistence OPERATOR(pg_catalog.<>) 't' \
               AND NOT (l.relation OPERATOR(pg_catalog.=) ANY($1)) \
             ORDER BY 1",
            None,
            &[oids.into()],
        )?;
        let mut out: Vec<(String, String, Option<pg_sys::Oid>)> = Vec::new();
        for row in rows {
            out.push((
                row.get::<Text>(1)?.map(String::from).unwrap_or_default(),
                row.get::<Text>(2)?.map(String::from).unwrap_or_default(),
                row.get::<pg_sys::Oid>(3)?,
            ));
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for (name, mode, oid) in rows {
        let blocking = LockMode::from_name(&mode).is_some_and(LockMode::blocks_reads_or_writes);
        // rd_createSubid is set only for a relation created in the current transaction (we hold
        // a lock on it, so opening it in the relcache is safe).
        // SAFETY: relcache look-up of a relation this transaction has locked; closed again.
        let created_here = oid.is_some_and(|oid| unsafe {
            let rel = pg_sys::RelationIdGetRelation(oid);
            if rel.is_null() {
                return false;
            }
            let created = (*rel).rd_createSubid != 0;
            pg_sys::RelationClose(rel);
            created
        });
        if blocking && !created_here && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether session `pid` is blocked by this backend (it waits for a lock we hold, or queues behind
/// our request), and if so whether it waits for a transaction to end (a virtualxid lock: a
/// guarded statement waiting outside the lock queue, or CREATE INDEX CONCURRENTLY). None when it
/// is not blocked by us. pg_locks and pg_blocking_pids() are readable by everyone. Never errors.
pub fn waits_for_us(pid: i32) -> Option<bool> {
    Spi::connect(|client| {
        let row = client
            .select(
                "SELECT pg_catalog.pg_backend_pid() OPERATOR(pg_catalog.=) ANY (pg_catalog.pg_blocking_pids($1)), \
                        EXISTS (SELECT FROM pg_catalog.pg_locks l \
                                 WHERE l.pid OPERATOR(pg_catalog.=) $1 AND NOT l.granted \
                                   AND l.locktype OPERATOR(pg_catalog.=) 'virtualxid')",
                Some(1),
                &[pid.into()],
            )?
            .first();
        let blocked = row.get::<bool>(1)?.unwrap_or(false);
        let outside = row.get::<bool>(2)?.unwrap_or(false);
        Ok::<_, pgrx::spi::Error>(blocked.then_some(outside))
    })
    .unwrap_or(None)
}

/// What keeps the tables locked, for messages and hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One (or a few) transactions that have been running for long.
    Long,
    /// A session sitting idle in its open transaction: it will not end by itself.
    IdleInTransaction,
    /// Short transactions, one after the other: each ends soon, but a new one holds the lock.
    Stream,
}

/// Classify the blockers in the way now, given how many distinct blocking transactions ended
/// while we waited.
pub fn kind(now: &[Blocker], ended_while_waiting: usize) -> Kind {
    if now.iter().any(Blocker::idle_in_transaction) {
        Kind::IdleInTransaction
    } else if ended_while_waiting >= 2 {
        Kind::Stream
    } else {
        Kind::Long
    }
}

/// Cancel the current statement of each of `cancel`, or terminate it when it sits idle in
/// transaction (pg_cancel_backend does nothing to a session that runs no statement); terminate
/// each of `terminate` (sessions whose transaction survived a cancel: it rolled back to a savepoint
/// or caught the error, and still holds its locks). Only the sessions the current role may signal,
/// by the rules of pg_cancel_backend (a superuser's session only by a superuser; otherwise the role
/// must have the privileges of the session's role or of pg_signal_backend), which are checked
/// before calling, so nothing raises. Returns a description of each session signalled (pid, user,
/// application, state, query).
pub fn signal(cancel: &[i32], terminate: &[i32]) -> Vec<String> {
    if cancel.is_empty() && terminate.is_empty() {
        return vec![];
    }
    // SAFETY: plain function call inside a transaction.
    unsafe { pg_sys::pgstat_clear_snapshot() };
    let rows = Spi::connect(|client| {
        let rows = client.select(
            "SELECT a.pid, a.usename::pg_catalog.text, a.application_name, a.state, \
                    pg_catalog.left(pg_catalog.regexp_replace(a.query, '\\s+', ' ', 'g'), 100), \
                    CASE WHEN a.state OPERATOR(pg_catalog.~~) 'idle in transaction%' \
                           OR a.pid OPERATOR(pg_catalog.=) ANY($2) \
                         THEN pg_catalog.pg_terminate_backend(a.pid) ELSE pg_catalog.pg_cancel_backend(a.pid) END, \
                    (a.state OPERATOR(pg_catalog.~~) 'idle in transaction%' OR a.pid OPERATOR(pg_catalog.=) ANY($2)) \
             FROM pg_catalog.pg_stat_activity a \
             WHERE (a.pid OPERATOR(pg_catalog.=) ANY($1) OR a.pid OPERATOR(pg_catalog.=) ANY($2)) \
               AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() \
               AND a.usesysid IS NOT NULL \
               AND (NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.usesysid) \
                    OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)) \
               AND (pg_catalog.pg_has_role(a.usesysid, 'USAGE') \
                    OR pg_catalog.pg_has_role('pg_signal_backend'::pg_catalog.name, 'USAGE'))",
            None,
            &[cancel.to_vec().into(), terminate.to_vec().into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let pid = row.get::<i32>(1)?.unwrap_or(0);
            let user = row.get::<Text>(2)?.map(String::from).unwrap_or_default();
            let app = row.get::<Text>(3)?.map(String::from).unwrap_or_default();
            let state = row.get::<Text>(4)?.map(String::from).unwrap_or_default();
            let query = row.get::<Text>(5)?.map(String::from).unwrap_or_default();
            let ok = row.get::<bool>(6)?.unwrap_or(false);
            let action = if row.get::<bool>(7)?.unwrap_or(false) {
                "terminated"
            } else {
                "cancelled the statement of"
            };
            out.push(format!(
                "{}{action} pid {pid}, user {user}, application {app}, state {state}, query: {query}",
                if ok { "" } else { "could not signal: " }
            ));
        }
        Ok::<_, pgrx::spi::Error>(out)
    });
    rows.unwrap_or_default()
}

/// What PostgreSQL's lock manager does for any lock waiter after `deadlock_timeout`: cancel each
/// autovacuum worker among `blockers` that does not run to prevent wraparound (a plain `ALTER`
/// queued behind it would have cancelled it; safe_ddl waits outside the queue, where the lock
/// manager does not). Each pid once (`done`). The same signal the lock manager sends, with no
/// privilege check, as there: any role that may queue for the lock gets it from PostgreSQL after
/// deadlock_timeout. Returns a description of each worker cancelled.
pub fn cancel_autovacuum(blockers: &[Blocker], done: &mut Vec<i32>) -> Vec<String> {
    let mut out = Vec::new();
    for b in blockers {
        let Some(pid) = b.pid else { continue };
        if done.contains(&pid) {
            continue;
        }
        // SAFETY: BackendPidGetProc looks the pid up under ProcArrayLock; statusFlags is one
        // byte of shared memory, read once (as ProcSleep does, the worker may have moved on by
        // the time it gets the signal: autovacuum checks what it is cancelled for).
        let flags = unsafe {
            let proc = pg_sys::BackendPidGetProc(pid);
            if proc.is_null() {
                continue;
            }
            std::ptr::read_volatile(&raw const (*proc).statusFlags)
        };
        let flags = u32::from(flags);
        if flags & pg_sys::PROC_IS_AUTOVACUUM == 0
            || flags & pg_sys::PROC_VACUUM_FOR_WRAPAROUND != 0
        {
            continue;
        }
        done.push(pid);
        // SAFETY: kill(2) of a backend's pid, as ProcSleep sends it.
        if unsafe { libc::kill(pid, libc::SIGINT) } == 0 {
            out.push(format!(
                "canceled autovacuum pid {pid} ({}), which holds {} on {}",
                b.query.as_deref().unwrap_or("query not visible"),
                b.mode,
                b.relation
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_vxid;

    #[test]
    fn vxids_of_live_sessions_and_not_of_prepared_transactions() {
        assert_eq!(parse_vxid("3/1234"), Some((3, 1234)));
        // PostgreSQL 17+: proc slot 0 is a live session.
        assert_eq!(parse_vxid("0/7"), Some((0, 7)));
        assert_eq!(parse_vxid("-1/731"), None);
        assert_eq!(parse_vxid("3/0"), None);
        assert_eq!(parse_vxid("garbage"), None);
    }
}
