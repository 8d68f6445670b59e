//! `safe_ddl.auto_concurrently`: turn a plain CREATE INDEX / DROP INDEX / REINDEX into its
//! CONCURRENTLY form by editing the parse tree before it runs.

use pgrx::is_a;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;

use crate::classify::Finding;
use crate::ddl::{Ddl, DropKind, ReindexKind, Statement};
use crate::hazard::Hazard;

/// Can every refused finding be cured by CONCURRENTLY? (One index per DROP; not on
/// partitioned tables, where PostgreSQL 15 has no concurrent build or drop.)
pub fn applies(stmt: &Statement, refused: &[Finding], partitioned: bool) -> bool {
    if refused.is_empty() || partitioned {
        return false;
    }
    let curable = refused
        .iter()
        .all(|f| matches!(f.hazard, Hazard::IndexBuild | Hazard::IndexDrop));
    let shape = match &stmt.ddl {
        Ddl::CreateIndex {
            concurrent: false, ..
        } => true,
        Ddl::Reindex {
            concurrent: false,
            kind: ReindexKind::Index | ReindexKind::Table,
            ..
        } => true,
        Ddl::Drop {
            kind: DropKind::Index,
            concurrent: false,
            objects,
            ..
        } => objects.len() == 1,
        _ => false,
    };
    curable && shape
}

/// Make the statement concurrent. Returns the (possibly copied) PlannedStmt to run.
///
/// # Safety
/// `pstmt` is the PlannedStmt given to ProcessUtility; `read_only_tree` as passed with it.
pub unsafe fn convert(
    pstmt: *mut pg_sys::PlannedStmt,
    read_only_tree: bool,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the tree is copied first when Postgres says we may not scribble on it; casts
    // follow tag checks.
    unsafe {
        let pstmt = if read_only_tree {
            pg_sys::copyObjectImpl(pstmt.cast()).cast::<pg_sys::PlannedStmt>()
        } else {
            pstmt
        };
        let node = (*pstmt).utilityStmt;
        if is_a(node, NodeTag::T_IndexStmt) {
            (*node.cast::<pg_sys::IndexStmt>()).concurrent = true;
        } else if is_a(node, NodeTag::T_DropStmt) {
            (*node.cast::<pg_sys::DropStmt>()).concurrent = true;
        } else if is_a(node, NodeTag::T_ReindexStmt) {
            let s = node.cast::<pg_sys::ReindexStmt>();
            let opt = pg_sys::makeDefElem(
                pg_sys::pstrdup(c"concurrently".as_ptr()),
                pg_sys::makeBoolean(true).cast(),
                -1,
            );
            (*s).params = pg_sys::lappend((*s).params, opt.cast());
        }
        pstmt
    }
}

pub fn notice(stmt: &Statement) {
    let after = match &stmt.ddl {
        Ddl::CreateIndex { .. } => {
            crate::sqltext::insert_after(&stmt.text, "create", "index", "CONCURRENTLY")
        }
        Ddl::Drop { .. } => {
            crate::sqltext::insert_after(&stmt.text, "drop", "index", "CONCURRENTLY")
        }
        Ddl::Reindex { kind, .. } => crate::sqltext::insert_after(
            &stmt.text,
            "reindex",
            &kind.keyword().to_ascii_lowercase(),
            "CONCURRENTLY",
        ),
        _ => None,
    }
    .unwrap_or_else(|| stmt.text.clone());
    let invalid = match &stmt.ddl {
        Ddl::Drop { .. } => "If it fails, the index is left INVALID: run the DROP INDEX CONCURRENTLY again.".to_string(),
        Ddl::Reindex { .. } => {
            "If it fails, it leaves an INVALID index named <index>_ccnew: drop it with DROP INDEX CONCURRENTLY.".to_string()
        }
        Ddl::CreateIndex { index_name: Some(name), .. } => {
            format!("If it fails, it leaves an INVALID index: drop it with DROP INDEX CONCURRENTLY {name}; and run it again.")
        }
        _ => "If it fails, it leaves an INVALID index: drop it with DROP INDEX CONCURRENTLY <name>; and run it again."
            .to_string(),
    };
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        format!("safe_ddl: running it as {after} (safe_ddl.auto_concurrently)"),
        "safe_ddl",
    )
    .set_detail(invalid)
    .report(PgLogLevel::NOTICE);
}
