//! Resolving names in a parse tree to relations, without taking locks.

use std::ffi::c_char;

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

use crate::ddl::Target;

/// Resolve a RangeVar without taking a lock; a missing relation is not an error here (Postgres
/// reports it itself when the statement runs).
pub unsafe fn target(rv: *mut pg_sys::RangeVar) -> Target {
    if rv.is_null() {
        return Target {
            oid: None,
            written: String::new(),
        };
    }
    // SAFETY: rv is a valid RangeVar from the parse tree.
    unsafe {
        let oid = pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        );
        let rel = quoted((*rv).relname).unwrap_or_default();
        let written = match quoted((*rv).schemaname) {
            Some(s) => format!("{s}.{rel}"),
            None => rel,
        };
        Target {
            oid: (oid != pg_sys::InvalidOid).then(|| oid.to_u32()),
            written,
        }
    }
}

/// A dotted name list (DROP TABLE a.b) as a Target.
pub unsafe fn target_from_names(names: *mut pg_sys::List) -> Target {
    // SAFETY: names is a List of String nodes from the parse tree.
    unsafe {
        let all_strings = PgList::<pg_sys::Node>::from_pg(names)
            .iter_ptr()
            .all(|n| is_a(n, NodeTag::T_String));
        if names.is_null() || !all_strings {
            return Target {
                oid: None,
                written: String::new(),
            };
        }
        target(pg_sys::makeRangeVarFromNameList(names))
    }
}

/// The strings of a List of String nodes, quoted as identifiers.
pub unsafe fn quoted_strings(list: *mut pg_sys::List) -> Vec<String> {
    // SAFETY: list holds String nodes (column name lists in the grammar).
    unsafe {
        PgList::<pg_sys::Node>::from_pg(list)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_String))
            .filter_map(|n| quoted((*n.cast::<pg_sys::String>()).sval))
            .collect()
    }
}

/// An identifier quoted the way Postgres would (keywords, upper case, odd characters).
pub unsafe fn quoted(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p is a NUL-terminated identifier; quote_identifier returns it or a palloc'd copy.
    unsafe { opt_str(pg_sys::quote_identifier(p)) }
}

pub unsafe fn opt_str(p: *const c_char) -> Option<String> {
    // SAFETY: parse-tree strings are NUL-terminated or NULL.
    (!p.is_null()).then(|| unsafe { crate::encoding::cstr_to_rust(p) })
}

/// A partitioned table or partitioned index.
pub fn partitioned(oid: u32) -> bool {
    // SAFETY: syscache lookup inside a transaction; 0 for a missing relation.
    let kind = unsafe { pg_sys::get_rel_relkind(pg_sys::Oid::from(oid)) } as u8;
    kind == b'p' || kind == b'I'
}
