//! Parse tree -> `Statement`. The only place that reads Postgres nodes; everything it returns is
//! an owned Rust value, so nothing dangles once the statement has run (CIC and VACUUM commit
//! inside it). Submodules: `alter` (ALTER TABLE subcommands), `analysis` (rewrite and scan
//! questions answered from the catalog), `names` (name resolution without locks), `fold` (what
//! analysis may simplify: never code a role wrote).

mod alter;
pub mod analysis;
mod attach_work;
mod data_work;
mod fold;
pub mod names;
mod partition_bound;

use std::ffi::{c_char, CStr};

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

use crate::ddl::{Ddl, DropKind, LockMode, ReindexKind, Statement, Target};
use crate::encoding::Sql;
use names::{partitioned, quoted, target, target_from_names};

/// Describe a utility statement the guard cares about, or None for everything else (SET, SHOW,
/// BEGIN, COMMIT, COPY, EXPLAIN, ...), which then passes through untouched.
///
/// # Safety
/// `pstmt` must be the PlannedStmt Postgres passed to ProcessUtility, inside a transaction.
pub unsafe fn describe(pstmt: *mut pg_sys::PlannedStmt, query: *const c_char) -> Option<Statement> {
    // SAFETY: the caller guarantees a valid PlannedStmt; query is NUL-terminated or NULL.
    unsafe {
        let node = (*pstmt).utilityStmt;
        if node.is_null() {
            return None;
        }
        let full = Sql::from_cstr(query);
        describe_node(node, &full, (*pstmt).stmt_location, (*pstmt).stmt_len)
    }
}

/// `describe`, inside an internal subtransaction: analysis must never raise an error of its own
/// (issue 16). An ERROR raised while describing (input the analysis does not handle, which
/// Postgres itself usually rejects, e.g. an ATTACH PARTITION of a table whose columns do not
/// match) rolls back only what the analysis did and comes back as Err(message): the statement is
/// then undecided, and the hook lets Postgres run it (its own error reaches the client).
///
/// # Safety
/// As `describe`.
pub unsafe fn describe_guarded(
    pstmt: *mut pg_sys::PlannedStmt,
    query: *const c_char,
) -> Result<Option<Statement>, String> {
    // SAFETY: the caller guarantees a valid PlannedStmt, inside a transaction.
    unsafe {
        let node = (*pstmt).utilityStmt;
        // Statements never described (transaction control, SET, SHOW, COPY, ...) skip the
        // subtransaction: they are most utility statements an application sends, and a
        // subtransaction started before ROLLBACK TO or RELEASE of a savepoint is best avoided.
        if node.is_null() || !described_kind(node) {
            return Ok(None);
        }
        crate::xact::in_subtransaction(|| describe(pstmt, query))
    }
}

/// `describe_node` inside an internal subtransaction, for check(): as `describe_guarded`.
///
/// # Safety
/// As `describe_node`.
pub unsafe fn describe_node_guarded(
    node: *mut pg_sys::Node,
    full: &Sql,
    location: i32,
    len: i32,
) -> Result<Option<Statement>, String> {
    // SAFETY: as describe_node.
    unsafe {
        if node.is_null() || !described_kind(node) {
            return Ok(None);
        }
        crate::xact::in_subtransaction(|| describe_node(node, full, location, len))
    }
}

/// The statement kinds `classify_node` describes; every other one passes through untouched.
const DESCRIBED: &[NodeTag] = &[
    NodeTag::T_IndexStmt,
    NodeTag::T_ReindexStmt,
    NodeTag::T_AlterTableStmt,
    NodeTag::T_DropStmt,
    NodeTag::T_RenameStmt,
    NodeTag::T_VacuumStmt,
    NodeTag::T_RefreshMatViewStmt,
    NodeTag::T_AlterDomainStmt,
    NodeTag::T_AlterTableMoveAllStmt,
    NodeTag::T_ClusterStmt,
    NodeTag::T_TruncateStmt,
    NodeTag::T_CreatePolicyStmt,
    NodeTag::T_AlterPolicyStmt,
    NodeTag::T_RuleStmt,
    NodeTag::T_DropOwnedStmt,
    NodeTag::T_ReassignOwnedStmt,
    NodeTag::T_CreateTrigStmt,
    NodeTag::T_AlterSeqStmt,
    NodeTag::T_AlterObjectSchemaStmt,
    NodeTag::T_LockStmt,
    NodeTag::T_ViewStmt,
    NodeTag::T_CreateStmt,
    NodeTag::T_CreateForeignTableStmt,
    NodeTag::T_AlterObjectDependsStmt,
    NodeTag::T_CreateSchemaStmt,
];

fn described_kind(node: *mut pg_sys::Node) -> bool {
    // SAFETY: node is a valid parse node (the callers check it is not null).
    DESCRIBED.iter().any(|t| unsafe { is_a(node, *t) })
}

/// Describe one raw utility statement of `full` (at `location`, `len` bytes; 0 = to the end).
///
/// # Safety
/// `node` must be a valid raw parse tree, inside a transaction.
pub unsafe fn describe_node(
    node: *mut pg_sys::Node,
    full: &Sql,
    location: i32,
    len: i32,
) -> Option<Statement> {
    // SAFETY: node is a valid parse node; each branch casts only after checking its tag.
    unsafe {
        let (ddl, lock) = classify_node(node, full)?;
        let tag = CStr::from_ptr(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(node)))
            .to_string_lossy()
            .into_owned();
        let mut stmt = Statement {
            ddl,
            tag,
            lock,
            text: from_first_token(full, location, len),
            targets: vec![],
        };
        stmt.targets = stmt.locked_relations();
        if stmt.targets.is_empty() {
            stmt.targets = other_targets(node);
        }
        Some(stmt)
    }
}

/// The statement's text from its first token: Postgres locates a statement of a multi-statement
/// string just after the previous `;` before 18 (leading comments included), at its first token
/// from 18 on; the recipes and log lines quote it the same way on every major.
fn from_first_token(full: &Sql, location: i32, len: i32) -> String {
    let Ok(start) = usize::try_from(location) else {
        return full.statement(location, len);
    };
    let first = crate::sqltext::first_token(full.server(), start);
    let skipped = i32::try_from(first - start.min(first)).unwrap_or(0);
    let len = if len > 0 { (len - skipped).max(1) } else { len };
    full.statement(i32::try_from(first).unwrap_or(location), len)
}

unsafe fn classify_node(node: *mut pg_sys::Node, full: &Sql) -> Option<(Ddl, Option<LockMode>)> {
    use LockMode::*;
    // SAFETY (whole function): every cast follows an is_a() check of the node's tag.
    unsafe {
        if !described_kind(node) {
            return None;
        }
        if is_a(node, NodeTag::T_IndexStmt) {
            let s = node.cast::<pg_sys::IndexStmt>();
            let table = target((*s).relation);
            let partitions = table.oid.map(partitions_of).unwrap_or_default();
            let ddl = Ddl::CreateIndex {
                table,
                index_name: quoted((*s).idxname),
                concurrent: (*s).concurrent,
                only: !(*s).relation.is_null() && !(*(*s).relation).inh,
                partitions,
            };
            let lock = if (*s).concurrent { None } else { Some(Share) };
            return Some((ddl, lock));
        }
        if is_a(node, NodeTag::T_ReindexStmt) {
            return Some(reindex(node.cast()));
        }
        if is_a(node, NodeTag::T_AlterTableStmt) {
            let s = node.cast::<pg_sys::AlterTableStmt>();
            // Postgres' own computation of the lock this ALTER TABLE will take.
            let lock = LockMode::from_pg(pg_sys::AlterTableGetLockLevel((*s).cmds));
            let ddl = alter::describe(s, full);
            if let Some(typed) = typed_tables_rewrite(s, &ddl) {
                return Some((typed, lock));
            }
            // ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the parent but ACCESS EXCLUSIVE on
            // the partition (and the default partition): bound that wait too.
            let attaches = matches!(&ddl, Ddl::AlterTable { cmds, .. }
                if cmds.iter().any(|c| matches!(c, crate::ddl::AlterCmd::AttachPartition { .. })));
            let lock = if attaches {
                lock.max(Some(AccessExclusive))
            } else {
                lock
            };
            return Some((ddl, lock));
        }
        if is_a(node, NodeTag::T_DropStmt) {
            return Some(drop(node.cast()));
        }
        if is_a(node, NodeTag::T_RenameStmt) {
            return Some(rename(node.cast()));
        }
        if is_a(node, NodeTag::T_VacuumStmt) {
            return Some(vacuum(node.cast()));
        }
        if is_a(node, NodeTag::T_RefreshMatViewStmt) {
            return Some(data_work::refresh(node.cast()));
        }
        if is_a(node, NodeTag::T_AlterDomainStmt) {
            return Some(data_work::alter_domain(node.cast(), full));
        }
        if is_a(node, NodeTag::T_AlterTableMoveAllStmt) {
            return Some(data_work::move_all(node.cast()));
        }
        if is_a(node, NodeTag::T_ClusterStmt) {
            // CLUSTER of one plain table runs in the caller's transaction; CLUSTER of all tables
            // or of a partitioned table commits per table, so no statement-scoped lock_timeout.
            let s = node.cast::<pg_sys::ClusterStmt>();
            let t = target((*s).relation);
            let lock = match t.oid {
                Some(oid) if !partitioned(oid) => Some(AccessExclusive),
                _ => None,
            };
            let all = (*s).relation.is_null();
            return Some((
                Ddl::Rewrite {
                    tables: if all { vec![] } else { vec![t] },
                    verb: "CLUSTER",
                    all,
                },
                lock,
            ));
        }
        let lock = if is_a(node, NodeTag::T_TruncateStmt)
            || is_a(node, NodeTag::T_CreatePolicyStmt)
            || is_a(node, NodeTag::T_AlterPolicyStmt)
            || is_a(node, NodeTag::T_RuleStmt)
            || is_a(node, NodeTag::T_DropOwnedStmt)
            || is_a(node, NodeTag::T_ReassignOwnedStmt)
        {
            Some(AccessExclusive)
        } else if is_a(node, NodeTag::T_CreateTrigStmt) || is_a(node, NodeTag::T_AlterSeqStmt) {
            Some(ShareRowExclusive)
        } else if is_a(node, NodeTag::T_AlterObjectSchemaStmt) {
            let s = node.cast::<pg_sys::AlterObjectSchemaStmt>();
            (!(*s).relation.is_null()).then_some(AccessExclusive)
        } else if is_a(node, NodeTag::T_LockStmt) {
            LockMode::from_pg((*node.cast::<pg_sys::LockStmt>()).mode)
        } else if is_a(node, NodeTag::T_ViewStmt) {
            let s = node.cast::<pg_sys::ViewStmt>();
            (*s).replace.then_some(AccessExclusive)
        } else if is_a(node, NodeTag::T_CreateSchemaStmt) {
            // Its elements run as sub-statements the hook does not judge again: a CREATE TABLE
            // element with REFERENCES to an existing table takes SHARE ROW EXCLUSIVE on it.
            let s = node.cast::<pg_sys::CreateSchemaStmt>();
            PgList::<pg_sys::Node>::from_pg((*s).schemaElts)
                .iter_ptr()
                .filter(|n| is_a(*n, NodeTag::T_CreateStmt))
                .filter_map(|n| create_table_lock(n.cast()))
                .max()
        } else if is_a(node, NodeTag::T_AlterObjectDependsStmt) {
            // [NO] DEPENDS ON EXTENSION of an index, materialized view or trigger: ACCESS
            // EXCLUSIVE on the relation for a catalog change.
            let s = node.cast::<pg_sys::AlterObjectDependsStmt>();
            (!(*s).relation.is_null()).then_some(AccessExclusive)
        } else if is_a(node, NodeTag::T_CreateStmt) || is_a(node, NodeTag::T_CreateForeignTableStmt)
        {
            // CREATE FOREIGN TABLE's node begins with a CreateStmt (its `base`): PARTITION OF
            // locks and scans the same way.
            let s = node.cast::<pg_sys::CreateStmt>();
            let lock = create_table_lock(s);
            if !(*s).partbound.is_null() {
                let parent = PgList::<pg_sys::Node>::from_pg((*s).inhRelations)
                    .iter_ptr()
                    .find(|n| is_a(*n, NodeTag::T_RangeVar))
                    .map(|n| target(n.cast()));
                if let Some(parent) = parent {
                    let default_partition = parent
                        .oid
                        .and_then(|p| analysis::create_partition_default_scan(p, (*s).partbound));
                    return Some((
                        Ddl::CreatePartition {
                            parent,
                            default_partition,
                        },
                        lock,
                    ));
                }
            }
            lock
        } else {
            return None;
        };
        Some((Ddl::Other, lock))
    }
}

/// ALTER TYPE composite ... ALTER ATTRIBUTE ... TYPE ... CASCADE whose change rewrites: Postgres
/// rewrites every typed table of the type (without CASCADE it refuses by itself when there is one).
unsafe fn typed_tables_rewrite(s: *mut pg_sys::AlterTableStmt, ddl: &Ddl) -> Option<Ddl> {
    let Ddl::AlterTable { table, .. } = ddl else {
        return None;
    };
    let oid = table.oid?;
    // SAFETY: syscache lookup; s is a valid AlterTableStmt whose cmds are AlterTableCmds, and an
    // ALTER COLUMN TYPE's def a ColumnDef.
    unsafe {
        if pg_sys::get_rel_relkind(pg_sys::Oid::from(oid))
            != pg_sys::RELKIND_COMPOSITE_TYPE as c_char
        {
            return None;
        }
        // DROP ATTRIBUTE ... CASCADE drops the column of every typed table.
        let dropped = PgList::<pg_sys::AlterTableCmd>::from_pg((*s).cmds)
            .iter_ptr()
            .find(|&c| {
                (*c).subtype == pg_sys::AlterTableType::AT_DropColumn
                    && (*c).behavior == pg_sys::DropBehavior::DROP_CASCADE
                    && !(*c).name.is_null()
            })
            .and_then(|c| quoted((*c).name));
        if let Some(column) = dropped {
            let tables = data_work::typed_tables(oid);
            return (!tables.is_empty()).then(|| Ddl::TypedTablesColumn {
                type_name: table.written.clone(),
                tables,
                column,
                rename_to: None,
            });
        }
        // The typed tables get the same change as a table's column would (ATPrepAlterColumnType
        // via ATTypedTableRecursion): judge it as for a table.
        let rewrites = PgList::<pg_sys::AlterTableCmd>::from_pg((*s).cmds)
            .iter_ptr()
            .any(|c| {
                (*c).subtype == pg_sys::AlterTableType::AT_AlterColumnType
                    && (*c).behavior == pg_sys::DropBehavior::DROP_CASCADE
                    && !(*c).name.is_null()
                    && is_a((*c).def, NodeTag::T_ColumnDef)
                    && analysis::alter_type_rewrite(
                        oid,
                        b'r',
                        CStr::from_ptr((*c).name),
                        (*c).def.cast(),
                    )
                    .is_some()
            });
        if !rewrites {
            return None;
        }
        let tables = data_work::typed_tables(oid);
        (!tables.is_empty()).then(|| Ddl::TypedTablesRewrite {
            type_name: table.written.clone(),
            tables,
        })
    }
}

unsafe fn reindex(s: *mut pg_sys::ReindexStmt) -> (Ddl, Option<LockMode>) {
    use pg_sys::ReindexObjectType::*;
    // SAFETY (whole function): s is a valid ReindexStmt; its params are DefElems.
    unsafe {
        let mut concurrent = false;
        for opt in PgList::<pg_sys::DefElem>::from_pg((*s).params).iter_ptr() {
            if CStr::from_ptr((*opt).defname).to_bytes() == b"concurrently" {
                concurrent = pg_sys::defGetBoolean(opt);
            }
        }
        let kind = match (*s).kind {
            REINDEX_OBJECT_INDEX => ReindexKind::Index,
            REINDEX_OBJECT_TABLE => ReindexKind::Table,
            REINDEX_OBJECT_SCHEMA => ReindexKind::Schema,
            REINDEX_OBJECT_SYSTEM => ReindexKind::System,
            _ => ReindexKind::Database,
        };
        let (table, name) = if (*s).relation.is_null() {
            (None, quoted((*s).name).unwrap_or_default())
        } else {
            let t = target((*s).relation);
            let name = t.written.clone();
            let table = match kind {
                // The hazard is judged on the index's table.
                ReindexKind::Index => Target {
                    oid: t.oid.and_then(index_table),
                    written: t.written,
                },
                _ => t,
            };
            (Some(table), name)
        };
        // REINDEX SCHEMA/DATABASE/SYSTEM and REINDEX of a partitioned table commit per table,
        // so a statement-scoped lock_timeout cannot cover them; CONCURRENTLY blocks nobody.
        let own_transactions = match (kind, &table) {
            (ReindexKind::Index | ReindexKind::Table, Some(Target { oid: Some(oid), .. })) => {
                partitioned(*oid)
            }
            (ReindexKind::Index | ReindexKind::Table, _) => false,
            _ => true,
        };
        let lock = if concurrent || own_transactions {
            None
        } else {
            Some(LockMode::Share)
        };
        (
            Ddl::Reindex {
                kind,
                table,
                name,
                concurrent,
            },
            lock,
        )
    }
}

/// The table an index belongs to.
/// The direct partitions of a partitioned table, qualified and quoted (pg_inherits, no lock).
fn partitions_of(oid: u32) -> Vec<String> {
    if !partitioned(oid) {
        return vec![];
    }
    // SAFETY: a pg_inherits scan and syscache lookups inside a transaction.
    unsafe {
        let children = pg_sys::ffi::pg_guard_ffi_boundary(|| {
            crate::catalog::raw::find_inheritance_children(
                pg_sys::Oid::from(oid),
                pg_sys::NoLock as pg_sys::LOCKMODE,
            )
        });
        PgList::<pg_sys::Oid>::from_pg(children)
            .iter_oid()
            .filter_map(|c| {
                let rel = pg_sys::get_rel_name(c);
                let nsp = pg_sys::get_namespace_name_or_temp(pg_sys::get_rel_namespace(c));
                (!rel.is_null() && !nsp.is_null()).then(|| {
                    crate::encoding::cstr_to_rust(pg_sys::quote_qualified_identifier(nsp, rel))
                })
            })
            .collect()
    }
}

/// The constraint an index belongs to (PRIMARY KEY, UNIQUE, EXCLUDE), its name quoted.
fn index_constraint(index: u32) -> Option<String> {
    // SAFETY: catalog lookups inside a transaction; InvalidOid when there is none.
    unsafe {
        let c = pg_sys::get_index_constraint(pg_sys::Oid::from(index));
        if c == pg_sys::InvalidOid {
            return None;
        }
        quoted(pg_sys::get_constraint_name(c))
    }
}

fn index_table(index: u32) -> Option<u32> {
    // SAFETY: syscache lookup; missing_ok.
    let heap = unsafe { pg_sys::IndexGetRelation(pg_sys::Oid::from(index), true) };
    (heap != pg_sys::InvalidOid).then(|| heap.to_u32())
}

unsafe fn drop(s: *mut pg_sys::DropStmt) -> (Ddl, Option<LockMode>) {
    use pg_sys::ObjectType::*;
    // SAFETY (whole function): s is a valid DropStmt.
    unsafe {
        let kind = (*s).removeType;
        // Dropping a relation, or anything with CASCADE, takes ACCESS EXCLUSIVE on a table.
        let relation_level = matches!(
            kind,
            OBJECT_TABLE
                | OBJECT_INDEX
                | OBJECT_VIEW
                | OBJECT_MATVIEW
                | OBJECT_SEQUENCE
                | OBJECT_FOREIGN_TABLE
                | OBJECT_TRIGGER
                | OBJECT_RULE
                | OBJECT_POLICY
                // An extension's own tables are dropped with it, CASCADE or not.
                | OBJECT_EXTENSION
        );
        let lock = ((relation_level || (*s).behavior == pg_sys::DropBehavior::DROP_CASCADE)
            && !(*s).concurrent)
            .then_some(LockMode::AccessExclusive);
        let drop_kind = match kind {
            OBJECT_TABLE => DropKind::Table,
            OBJECT_INDEX => DropKind::Index,
            _ => return (Ddl::Other, lock),
        };
        let objects: Vec<Target> = PgList::<pg_sys::Node>::from_pg((*s).objects)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_List))
            .map(|n| target_from_names(n.cast()))
            .collect();
        let tables = match drop_kind {
            DropKind::Index => objects
                .iter()
                .map(|i| Target {
                    oid: i.oid.and_then(index_table),
                    written: String::new(),
                })
                .collect(),
            DropKind::Table => vec![],
        };
        let constraints = match drop_kind {
            DropKind::Index => objects
                .iter()
                .map(|i| i.oid.and_then(index_constraint))
                .collect(),
            DropKind::Table => vec![],
        };
        (
            Ddl::Drop {
                kind: drop_kind,
                objects,
                tables,
                constraints,
                concurrent: (*s).concurrent,
            },
            lock,
        )
    }
}

unsafe fn rename(s: *mut pg_sys::RenameStmt) -> (Ddl, Option<LockMode>) {
    use pg_sys::ObjectType::*;
    // SAFETY (whole function): s is a valid RenameStmt.
    unsafe {
        // Renaming an index takes SHARE UPDATE EXCLUSIVE; other relation renames ACCESS
        // EXCLUSIVE. Renames of non-relations (functions, types, ...) lock no table.
        let index = (*s).renameType == OBJECT_INDEX;
        let lock = (!index && !(*s).relation.is_null()).then_some(LockMode::AccessExclusive);
        let new_name = quoted((*s).newname).unwrap_or_default();
        let ddl = match ((*s).renameType, (*s).relationType) {
            (OBJECT_TABLE, _) => Ddl::Rename {
                table: target((*s).relation),
                column: None,
                column_type: String::new(),
                new_name,
                column_created_in_transaction: false,
            },
            (OBJECT_COLUMN, OBJECT_TABLE) => {
                let table = target((*s).relation);
                let column = quoted((*s).subname).unwrap_or_default();
                let created = table
                    .oid
                    .is_some_and(|oid| crate::created::column_added_in_transaction(oid, &column));
                let column_type = match table.oid {
                    Some(oid) if !(*s).subname.is_null() => {
                        analysis::column_type_name(oid, std::ffi::CStr::from_ptr((*s).subname))
                    }
                    _ => String::new(),
                };
                Ddl::Rename {
                    table,
                    column: Some(column),
                    column_type,
                    new_name,
                    column_created_in_transaction: created,
                }
            }
            // ALTER TYPE ... RENAME ATTRIBUTE ... CASCADE renames the column of every typed table.
            (OBJECT_ATTRIBUTE, OBJECT_TYPE)
                if (*s).behavior == pg_sys::DropBehavior::DROP_CASCADE =>
            {
                let t = target((*s).relation);
                let tables = t.oid.map(data_work::typed_tables).unwrap_or_default();
                if tables.is_empty() {
                    Ddl::Other
                } else {
                    Ddl::TypedTablesColumn {
                        type_name: t.written,
                        tables,
                        column: quoted((*s).subname).unwrap_or_default(),
                        rename_to: Some(new_name),
                    }
                }
            }
            _ => Ddl::Other,
        };
        let lock = if matches!(ddl, Ddl::TypedTablesColumn { .. }) {
            Some(LockMode::AccessExclusive)
        } else {
            lock
        };
        (ddl, lock)
    }
}

unsafe fn vacuum(s: *mut pg_sys::VacuumStmt) -> (Ddl, Option<LockMode>) {
    // SAFETY (whole function): s is a valid VacuumStmt whose options are DefElems and rels
    // VacuumRelations.
    unsafe {
        let full = (*s).is_vacuumcmd
            && PgList::<pg_sys::DefElem>::from_pg((*s).options)
                .iter_ptr()
                .any(|opt| {
                    CStr::from_ptr((*opt).defname).to_bytes() == b"full"
                        && pg_sys::defGetBoolean(opt)
                });
        if !full {
            return (Ddl::Other, None);
        }
        let tables: Vec<Target> = PgList::<pg_sys::Node>::from_pg((*s).rels)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_VacuumRelation))
            .map(|n| target((*n.cast::<pg_sys::VacuumRelation>()).relation))
            .collect();
        let all = tables.is_empty();
        // VACUUM commits and starts its own transactions, which would end a statement-scoped
        // lock_timeout before the lock is requested: no lock_timeout (documented).
        (
            Ddl::Rewrite {
                tables,
                verb: "VACUUM FULL",
                all,
            },
            None,
        )
    }
}

/// CREATE TABLE ... PARTITION OF locks the parent ACCESS EXCLUSIVE; a REFERENCES clause locks
/// the referenced table SHARE ROW EXCLUSIVE.
unsafe fn create_table_lock(s: *mut pg_sys::CreateStmt) -> Option<LockMode> {
    // SAFETY: s is a valid CreateStmt; its elements are ColumnDef or Constraint nodes.
    unsafe {
        if !(*s).partbound.is_null() {
            return Some(LockMode::AccessExclusive);
        }
        let is_fk = |n: *mut pg_sys::Node| {
            is_a(n, NodeTag::T_Constraint)
                && (*n.cast::<pg_sys::Constraint>()).contype == pg_sys::ConstrType::CONSTR_FOREIGN
        };
        let mut fk = PgList::<pg_sys::Node>::from_pg((*s).constraints)
            .iter_ptr()
            .any(is_fk);
        for elt in PgList::<pg_sys::Node>::from_pg((*s).tableElts).iter_ptr() {
            if is_fk(elt) {
                fk = true;
            } else if is_a(elt, NodeTag::T_ColumnDef) {
                let col = elt.cast::<pg_sys::ColumnDef>();
                fk |= PgList::<pg_sys::Node>::from_pg((*col).constraints)
                    .iter_ptr()
                    .any(is_fk);
            }
        }
        fk.then_some(LockMode::ShareRowExclusive)
    }
}

/// The relations a statement without a structured description locks (TRUNCATE, CREATE TRIGGER,
/// LOCK TABLE, ...), for blocker reports.
unsafe fn other_targets(node: *mut pg_sys::Node) -> Vec<u32> {
    // SAFETY: casts follow tag checks; lists hold RangeVars.
    unsafe {
        let rangevars = |list: *mut pg_sys::List| -> Vec<u32> {
            PgList::<pg_sys::Node>::from_pg(list)
                .iter_ptr()
                .filter(|n| is_a(*n, NodeTag::T_RangeVar))
                .filter_map(|n| target(n.cast()).oid)
                .collect()
        };
        let one = |rv: *mut pg_sys::RangeVar| target(rv).oid.into_iter().collect::<Vec<u32>>();
        if is_a(node, NodeTag::T_TruncateStmt) {
            rangevars((*node.cast::<pg_sys::TruncateStmt>()).relations)
        } else if is_a(node, NodeTag::T_LockStmt) {
            rangevars((*node.cast::<pg_sys::LockStmt>()).relations)
        } else if is_a(node, NodeTag::T_CreateTrigStmt) {
            one((*node.cast::<pg_sys::CreateTrigStmt>()).relation)
        } else if is_a(node, NodeTag::T_CreatePolicyStmt) {
            one((*node.cast::<pg_sys::CreatePolicyStmt>()).table)
        } else if is_a(node, NodeTag::T_AlterPolicyStmt) {
            one((*node.cast::<pg_sys::AlterPolicyStmt>()).table)
        } else if is_a(node, NodeTag::T_RuleStmt) {
            one((*node.cast::<pg_sys::RuleStmt>()).relation)
        } else if is_a(node, NodeTag::T_RefreshMatViewStmt) {
            one((*node.cast::<pg_sys::RefreshMatViewStmt>()).relation)
        } else if is_a(node, NodeTag::T_AlterSeqStmt) {
            one((*node.cast::<pg_sys::AlterSeqStmt>()).sequence)
        } else if is_a(node, NodeTag::T_ViewStmt) {
            one((*node.cast::<pg_sys::ViewStmt>()).view)
        } else if is_a(node, NodeTag::T_AlterObjectSchemaStmt) {
            one((*node.cast::<pg_sys::AlterObjectSchemaStmt>()).relation)
        } else if is_a(node, NodeTag::T_AlterObjectDependsStmt) {
            one((*node.cast::<pg_sys::AlterObjectDependsStmt>()).relation)
        } else if is_a(node, NodeTag::T_CreateStmt) || is_a(node, NodeTag::T_CreateForeignTableStmt)
        {
            rangevars((*node.cast::<pg_sys::CreateStmt>()).inhRelations)
        } else {
            vec![]
        }
    }
}
