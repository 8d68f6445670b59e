//! Statements outside ALTER TABLE whose work grows with the data (issue 16's coverage audit,
//! docs/hazards/coverage.md): REFRESH MATERIALIZED VIEW, ALTER DOMAIN constraints, ALTER TABLE ALL
//! IN TABLESPACE, and ALTER TYPE ... ALTER ATTRIBUTE ... CASCADE over typed tables. Catalog reads
//! only, never an error of their own: a name that does not resolve gives `Ddl::Other` and Postgres
//! reports it when the statement runs.

use std::ffi::{c_char, CStr};

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList, Spi};

use crate::ddl::{Ddl, DomainCheck, LockMode, Target};
use crate::encoding::Sql;

use super::names::{quoted, target};

/// `schema.relation` quoted as needed, in SQL.
pub(super) const QUALIFIED: &str =
    "pg_catalog.quote_ident(n.nspname::pg_catalog.text) OPERATOR(pg_catalog.||) '.' \
     OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname::pg_catalog.text)";

/// Relations (OID, qualified name) from a query whose first two columns are those.
pub(super) fn relations(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Vec<Target> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for row in client.select(sql, None, args)? {
            if let (Some(oid), Some(written)) = (row.get::<pg_sys::Oid>(1)?, row.get::<String>(2)?)
            {
                out.push(Target {
                    oid: Some(oid.to_u32()),
                    written,
                });
            }
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default()
}

/// REFRESH MATERIALIZED VIEW: without CONCURRENTLY and WITH DATA, ACCESS EXCLUSIVE on the view
/// while its query runs again over its source tables and every row goes into a new file.
///
/// # Safety
/// `s` must be a valid RefreshMatViewStmt.
pub unsafe fn refresh(s: *mut pg_sys::RefreshMatViewStmt) -> (Ddl, Option<LockMode>) {
    // SAFETY: s is a valid RefreshMatViewStmt.
    let (view, concurrent, skip_data) =
        unsafe { (target((*s).relation), (*s).concurrent, (*s).skipData) };
    if concurrent {
        // EXCLUSIVE: blocks no reads (and nobody writes a materialized view).
        return (Ddl::Other, Some(LockMode::Exclusive));
    }
    let lock = Some(LockMode::AccessExclusive);
    let Some(oid) = view.oid else {
        return (Ddl::Other, lock);
    };
    let relid = pg_sys::Oid::from(oid);
    let facts = Spi::connect(|client| {
        let row = client
            .select(
                "SELECT c.relkind OPERATOR(pg_catalog.=) 'm', c.relispopulated, \
                        EXISTS (SELECT FROM pg_catalog.pg_index i \
                                JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid \
                                JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam \
                                WHERE i.indrelid OPERATOR(pg_catalog.=) c.oid AND i.indisunique \
                                  AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL \
                                  AND i.indexprs IS NULL AND am.amname OPERATOR(pg_catalog.=) 'btree'), \
                        ARRAY(SELECT pg_catalog.quote_ident(a.attname::pg_catalog.text) \
                              FROM pg_catalog.pg_attribute a \
                              WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid \
                                AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
                              ORDER BY a.attnum) \
                 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
                None,
                &[relid.into()],
            )?
            .first();
        Ok::<_, pgrx::spi::Error>((
            row.get::<bool>(1)?.unwrap_or(false),
            row.get::<bool>(2)?.unwrap_or(false),
            row.get::<bool>(3)?.unwrap_or(false),
            row.get::<Vec<String>>(4)?.unwrap_or_default(),
        ))
    });
    let Ok((is_matview, populated, unique_key, columns)) = facts else {
        return (Ddl::Other, lock);
    };
    // WITH NO DATA only empties it; an unpopulated view cannot be read by anyone meanwhile
    // (Postgres refuses to scan it), so nobody waits for its recomputation.
    if !is_matview || skip_data || !populated {
        return (Ddl::Other, lock);
    }
    // The relations its query reads, through views too (a view's rewrite rule depends on them).
    let sources = relations(
        &format!(
            "WITH RECURSIVE src(relid) AS ( \
               SELECT d.refobjid FROM pg_catalog.pg_rewrite r \
               JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                 AND d.objid OPERATOR(pg_catalog.=) r.oid \
                 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
               WHERE r.ev_class OPERATOR(pg_catalog.=) $1 AND d.refobjid OPERATOR(pg_catalog.<>) $1 \
               UNION \
               SELECT d.refobjid FROM src \
               JOIN pg_catalog.pg_class v ON v.oid OPERATOR(pg_catalog.=) src.relid AND v.relkind OPERATOR(pg_catalog.=) 'v' \
               JOIN pg_catalog.pg_rewrite r ON r.ev_class OPERATOR(pg_catalog.=) v.oid \
               JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                 AND d.objid OPERATOR(pg_catalog.=) r.oid \
                 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
                 AND d.refobjid OPERATOR(pg_catalog.<>) v.oid) \
             SELECT DISTINCT c.oid, {QUALIFIED} FROM src \
             JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) src.relid \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE c.relkind OPERATOR(pg_catalog.=) ANY ('{{r,p,m}}'::pg_catalog.\"char\"[]) \
             ORDER BY 2"
        ),
        &[relid.into()],
    );
    (
        Ddl::RefreshMatView {
            view,
            sources,
            unique_key,
            columns,
        },
        lock,
    )
}

/// ALTER DOMAIN: adding a validated CHECK, SET NOT NULL (or ADD ... NOT NULL), and VALIDATE
/// CONSTRAINT read every stored value of the domain (and of domains over it) under a SHARE lock
/// on each table that stores one (typecmds.c, get_rels_with_domain; PostgreSQL 15 to 18).
///
/// # Safety
/// `s` must be a valid AlterDomainStmt; `full` the query string its locations refer to.
pub unsafe fn alter_domain(s: *mut pg_sys::AlterDomainStmt, full: &Sql) -> (Ddl, Option<LockMode>) {
    // SAFETY (whole function): s is a valid AlterDomainStmt; def is a Constraint for 'C'.
    unsafe {
        let subtype = (*s).subtype as u8;
        let check = match subtype {
            b'O' => DomainCheck::NotNull,
            b'V' => match quoted((*s).name) {
                Some(name) => DomainCheck::Validate { name },
                None => return (Ddl::Other, None),
            },
            b'C' if !(*s).def.is_null() && is_a((*s).def, NodeTag::T_Constraint) => {
                let c = (*s).def.cast::<pg_sys::Constraint>();
                if (*c).skip_validation {
                    return (Ddl::Other, None);
                }
                match (*c).contype {
                    pg_sys::ConstrType::CONSTR_CHECK => DomainCheck::AddCheck {
                        name: quoted((*c).conname),
                        expr: full
                            .rest_at((*c).location)
                            .and_then(crate::sqltext::check_expression),
                    },
                    pg_sys::ConstrType::CONSTR_NOTNULL => DomainCheck::NotNull,
                    _ => return (Ddl::Other, None),
                }
            }
            _ => return (Ddl::Other, None),
        };
        let typename = pg_sys::makeTypeNameFromNameList((*s).typeName);
        let domain = pg_sys::LookupTypeNameOid(std::ptr::null_mut(), typename, true);
        if domain == pg_sys::InvalidOid
            || pg_sys::get_typtype(domain) != pg_sys::TYPTYPE_DOMAIN as c_char
        {
            return (Ddl::Other, None);
        }
        // SET NOT NULL of a domain already NOT NULL does nothing.
        if matches!(check, DomainCheck::NotNull) && not_null_domain(domain) {
            return (Ddl::Other, None);
        }
        let name = pg_sys::format_type_be_qualified(domain);
        let domain_name = CStr::from_ptr(name).to_string_lossy().into_owned();
        let tables = relations(
            &format!(
                "WITH RECURSIVE d(oid) AS ( \
                   SELECT $1::pg_catalog.oid \
                   UNION SELECT t.oid FROM pg_catalog.pg_type t JOIN d ON t.typbasetype OPERATOR(pg_catalog.=) d.oid \
                   WHERE t.typtype OPERATOR(pg_catalog.=) 'd') \
                 SELECT DISTINCT c.oid, {QUALIFIED} FROM pg_catalog.pg_attribute a \
                 JOIN d ON a.atttypid OPERATOR(pg_catalog.=) d.oid \
                 JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid \
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                 WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped \
                   AND c.relkind OPERATOR(pg_catalog.=) ANY ('{{r,m}}'::pg_catalog.\"char\"[]) \
                 ORDER BY 2"
            ),
            &[domain.into()],
        );
        (
            Ddl::AlterDomain {
                domain: domain_name,
                check,
                tables,
            },
            Some(LockMode::Share),
        )
    }
}

fn not_null_domain(domain: pg_sys::Oid) -> bool {
    crate::spi_ro::get_one_with_args::<bool>(
        "SELECT typnotnull FROM pg_catalog.pg_type WHERE oid OPERATOR(pg_catalog.=) $1",
        &[domain.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// ALTER TABLE|INDEX|MATERIALIZED VIEW ALL IN TABLESPACE a [OWNED BY ...] SET TABLESPACE b: copies
/// every such relation of the database in `a`, each under ACCESS EXCLUSIVE, all in one
/// transaction (tablecmds.c, AlterTableMoveAll).
///
/// # Safety
/// `s` must be a valid AlterTableMoveAllStmt.
pub unsafe fn move_all(s: *mut pg_sys::AlterTableMoveAllStmt) -> (Ddl, Option<LockMode>) {
    use pg_sys::ObjectType::*;
    let lock = Some(LockMode::AccessExclusive);
    // SAFETY (whole function): s is a valid AlterTableMoveAllStmt; roles holds RoleSpecs.
    unsafe {
        let kinds = match (*s).objtype {
            OBJECT_TABLE => "{r}",
            OBJECT_INDEX => "{i}",
            OBJECT_MATVIEW => "{m}",
            _ => return (Ddl::Other, lock),
        };
        let from = pg_sys::get_tablespace_oid((*s).orig_tablespacename, true);
        if from == pg_sys::InvalidOid || (*s).new_tablespacename.is_null() {
            return (Ddl::Other, lock);
        }
        let to = quoted((*s).new_tablespacename).unwrap_or_default();
        // Relations in the database's default tablespace record 0.
        let stored = if from == pg_sys::MyDatabaseTableSpace {
            pg_sys::InvalidOid
        } else {
            from
        };
        let mut owners: Vec<pg_sys::Oid> = Vec::new();
        for r in PgList::<pg_sys::RoleSpec>::from_pg((*s).roles).iter_ptr() {
            let oid = pg_sys::get_rolespec_oid(r, true);
            if oid != pg_sys::InvalidOid {
                owners.push(oid);
            }
        }
        let owner_filter = if (*s).roles.is_null() {
            String::new()
        } else {
            let list: Vec<String> = owners.iter().map(|o| o.to_u32().to_string()).collect();
            format!(
                "AND c.relowner OPERATOR(pg_catalog.=) ANY ('{{{}}}'::pg_catalog.oid[])",
                list.join(",")
            )
        };
        let tables = relations(
            &format!(
                "SELECT c.oid, {QUALIFIED} FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                 WHERE c.reltablespace OPERATOR(pg_catalog.=) $1 \
                   AND c.relkind OPERATOR(pg_catalog.=) ANY ('{kinds}'::pg_catalog.\"char\"[]) \
                   AND NOT c.relisshared AND c.relpersistence OPERATOR(pg_catalog.<>) 't' \
                   AND n.nspname OPERATOR(pg_catalog.<>) ALL ('{{pg_catalog,information_schema,pg_toast}}'::pg_catalog.name[]) \
                   {owner_filter} \
                 ORDER BY 2"
            ),
            &[stored.into()],
        );
        (Ddl::MoveAll { tables, to }, lock)
    }
}

/// The typed tables (CREATE TABLE ... OF type) of composite type relation `relid`, which ALTER TYPE
/// ... ALTER ATTRIBUTE ... TYPE ... CASCADE alters (and rewrites) too.
pub fn typed_tables(relid: u32) -> Vec<Target> {
    relations(
        &format!(
            "SELECT c.oid, {QUALIFIED} FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE c.reloftype OPERATOR(pg_catalog.=) \
                   (SELECT t.reltype FROM pg_catalog.pg_class t WHERE t.oid OPERATOR(pg_catalog.=) $1) \
               AND c.reloftype OPERATOR(pg_catalog.<>) 0 \
             ORDER BY 2"
        ),
        &[pg_sys::Oid::from(relid).into()],
    )
}
