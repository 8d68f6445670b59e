//! `large_dml` (opt-in with `safe_ddl.max_dml_rows`): an UPDATE or DELETE on an existing table
//! whose plan estimates more rows than the limit is refused before it runs: one big UPDATE holds
//! row locks on every row until COMMIT, bloats the table and floods replicas. The HINT gives the
//! equivalent batched `CALL safe_ddl.backfill(...)`.

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

use crate::classify::Finding;
use crate::gucs::{self, Mode};
use crate::hazard::Hazard;
use crate::{catalog, report, sqltext};

/// From the ExecutorStart hook (executor_hook.rs), before the statement starts: refuse it if it
/// is a large UPDATE or DELETE and the guard is on.
///
/// # Safety
/// `query_desc` is the executor's.
pub unsafe fn check(query_desc: *mut pg_sys::QueryDesc) {
    let limit = gucs::max_dml_rows();
    if limit > 0.0 && gucs::mode() != Mode::Off {
        // SAFETY: as the caller promises.
        unsafe { check_limit(query_desc, limit) };
    }
}

unsafe fn check_limit(query_desc: *mut pg_sys::QueryDesc, limit: f64) {
    // SAFETY (whole function): a planned statement of the executor; casts follow tag checks.
    unsafe {
        let pstmt = (*query_desc).plannedstmt;
        // The ModifyTable nodes: the top of the plan, or data-modifying CTEs (WITH u AS (UPDATE
        // ...) SELECT ...), which are planned as subplans.
        let mut nodes: Vec<*mut pg_sys::ModifyTable> = Vec::new();
        let top = (*pstmt).planTree.cast::<pg_sys::Node>();
        if !top.is_null() && is_a(top, NodeTag::T_ModifyTable) {
            nodes.push(top.cast());
        }
        if (*pstmt).hasModifyingCTE {
            for sub in PgList::<pg_sys::Node>::from_pg((*pstmt).subplans).iter_ptr() {
                if !sub.is_null() && is_a(sub, NodeTag::T_ModifyTable) {
                    nodes.push(sub.cast());
                }
            }
        }
        let Some((mt, rows)) = nodes
            .into_iter()
            .filter(|mt| {
                matches!(
                    (**mt).operation,
                    pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE
                )
            })
            .map(|mt| {
                // Rows the ModifyTable will process: its input's estimate.
                let input = (*mt).plan.lefttree;
                (
                    mt,
                    if input.is_null() {
                        (*mt).plan.plan_rows
                    } else {
                        (*input).plan_rows
                    },
                )
            })
            .find(|(_, rows)| *rows > limit)
        else {
            return;
        };
        let op = (*mt).operation;
        let rti = (*mt).nominalRelation;
        let rte = PgList::<pg_sys::RangeTblEntry>::from_pg((*pstmt).rtable)
            .get_ptr((rti as usize).saturating_sub(1));
        let Some(rte) = rte else { return };
        let Some(t) = catalog::table_facts((*rte).relid) else {
            return;
        };
        if t.created_in_transaction || t.temporary {
            return;
        }
        let sql = crate::encoding::cstr_to_rust((*query_desc).sourceText);
        let finding = finding(
            &t.qualified_name,
            op == pg_sys::CmdType::CMD_UPDATE,
            rows,
            limit,
            &sql,
        );
        // SAFETY: the executor's QueryDesc: its source text and planned statement.
        let _inline = crate::inline_allow::Scope::set(crate::inline_allow::of_source(
            (*query_desc).sourceText,
            (*(*query_desc).plannedstmt).stmt_location,
        ));
        let allow = gucs::allow();
        let findings = [finding];
        if allow.allows(Hazard::LargeDml) {
            report::log_allowed(&findings, sqltext::trimmed(&sql));
        } else if gucs::mode() == Mode::Warn {
            report::warn(&findings, sqltext::trimmed(&sql));
        } else {
            report::refuse(&findings, sqltext::trimmed(&sql));
        }
    }
}

/// The report for one large UPDATE/DELETE (pure).
pub fn finding(table: &str, update: bool, rows: f64, limit: f64, sql: &str) -> Finding {
    let verb = if update { "UPDATE" } else { "DELETE" };
    let (set, filter) = clauses(sql);
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let hint = if update {
        let filter = filter.map(|w| format!(", {}", lit(&w))).unwrap_or_default();
        let call = match set {
            Some(set) => format!(
                ", outside a transaction block:\n  CALL safe_ddl.backfill('{table}', {}{filter});",
                lit(&set)
            ),
            // No SET clause found (e.g. the UPDATE is inside a WITH): name the procedure only.
            None => " with CALL safe_ddl.backfill (the table, the SET clause, the WHERE clause), outside a \
                     transaction block."
                .to_string(),
        };
        format!(
            "Update in short batches, throttled on replication lag and dead tuples{call}\n\
             To run it as one statement anyway: BEGIN; SET LOCAL safe_ddl.allow = 'large_dml'; <statement>; COMMIT;\nSee {}",
            Hazard::LargeDml.doc_page()
        )
    } else {
        let filter = filter.unwrap_or_else(|| "true".into());
        format!(
            "Delete in short batches, each in its own transaction, until it deletes nothing:\n  \
             DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table} WHERE {filter} LIMIT 5000));\n\
             To run it as one statement anyway: BEGIN; SET LOCAL safe_ddl.allow = 'large_dml'; <statement>; COMMIT;\nSee {}",
            Hazard::LargeDml.doc_page()
        )
    };
    let hint = hint.replace("<statement>", &crate::sqltext::one_line(sql));
    Finding {
        hazard: Hazard::LargeDml,
        subject: table.to_string(),
        message: format!("large_dml: {verb} on table {table} would touch about {rows:.0} rows (safe_ddl.max_dml_rows = {limit:.0})"),
        detail: format!(
            "One {verb} locks every row it touches until COMMIT (concurrent writers of those rows wait), leaves as many \
             dead tuples for vacuum, and sends all its WAL to the replicas at once."
        ),
        hint,
        lock: Some(crate::ddl::LockMode::RowExclusive),
        rewrites: false,
        scans: true,
        size_bytes: None,
        in_use: None,
    }
}

/// The SET clause and the WHERE condition of a simple UPDATE/DELETE, from its text.
pub fn clauses(sql: &str) -> (Option<String>, Option<String>) {
    let sql = sqltext::trimmed(sql);
    let lower = |w: &str| sqltext::top_level_word_starts(sql, w);
    let set = lower("set").first().copied();
    let from = lower("from")
        .into_iter()
        .find(|p| set.is_some_and(|s| *p > s));
    let where_ = lower("where").first().copied();
    let returning = lower("returning").first().copied();
    let end_of = |start: usize, stops: &[Option<usize>]| {
        stops
            .iter()
            .flatten()
            .copied()
            .filter(|p| *p > start)
            .min()
            .unwrap_or(sql.len())
    };
    let set_text = set.map(|s| {
        sql[s + 3..end_of(s, &[from, where_, returning])]
            .trim()
            .to_string()
    });
    let where_text = where_.map(|w| sql[w + 5..end_of(w, &[returning])].trim().to_string());
    (
        set_text.filter(|s| !s.is_empty()),
        where_text.filter(|s| !s.is_empty()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_are_split_at_top_level_keywords() {
        let (s, w) =
            clauses("UPDATE t SET a = 1, b = (SELECT x FROM y WHERE z) WHERE id > 5 RETURNING id;");
        assert_eq!(s.as_deref(), Some("a = 1, b = (SELECT x FROM y WHERE z)"));
        assert_eq!(w.as_deref(), Some("id > 5"));
        let (s, w) = clauses("update t set note = 'where' || x");
        assert_eq!(s.as_deref(), Some("note = 'where' || x"));
        assert_eq!(w, None);
    }

    #[test]
    fn hint_gives_the_backfill_call() {
        let f = finding(
            "public.t",
            true,
            2e6,
            1e5,
            "UPDATE t SET v = v * 2 WHERE v > 0",
        );
        assert!(
            f.hint
                .contains("CALL safe_ddl.backfill('public.t', 'v = v * 2', 'v > 0');"),
            "{}",
            f.hint
        );
        let f = finding(
            "public.t",
            false,
            2e6,
            1e5,
            "DELETE FROM t WHERE at < '2020-01-01'",
        );
        assert!(
            f.hint.contains("WHERE at < '2020-01-01' LIMIT 5000"),
            "{}",
            f.hint
        );
    }
}
