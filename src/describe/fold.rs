//! The one rule for simplifying expressions while a statement is only being analysed (by the hook,
//! before it runs or is refused, and by `check()`, which must never execute anything): nothing is
//! evaluated unless every function it could reach is built into PostgreSQL.
//!
//! `eval_const_expressions` (and `expression_planner`, which calls it) runs every immutable
//! function whose arguments are constants and inlines SQL functions, so an "immutable" function a
//! role wrote, in a default, a CHECK constraint, a cast or a partition key, would run inside
//! `check()` as whoever called it. Built-in functions (OID below FirstNormalObjectId) have no
//! such side effects, and `eval_const_expressions` itself never runs stable or volatile ones
//! (`nextval`, `set_config`, `pg_read_file`), so folding is allowed exactly when the expression
//! calls only built-in functions. Everything else is left unsimplified, and the caller takes the
//! conservative answer (assumed to scan or rewrite). `evaluate_expr` is never called.
//!
//! Domains count too: the first time a backend asks whether a domain has constraints
//! (`DomainHasConstraints`, also from `eval_const_expressions` on a CoerceToDomain), the type
//! cache plans the domain's CHECK expressions with `expression_planner`, which runs the
//! immutable functions of constants in them. So a CoerceToDomain is foreign unless the CHECK
//! constraints of its domain (and of the domains under it) call only built-in functions, and
//! `domain_has_constraints` answers from the catalog for any other domain.

use std::cell::Cell;
use std::ffi::c_void;

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, pg_guard};

/// Is `oid` a function created by initdb (so not by any role)?
pub fn builtin_function(oid: u32) -> bool {
    oid < pg_sys::FirstNormalObjectId
}

/// Does `expr` (an analysed expression tree, or NULL) call only built-in functions, through
/// operators, casts and type I/O too, and contain no sub-query?
///
/// # Safety
/// `expr` must be NULL or a valid analysed expression tree, inside a transaction.
pub unsafe fn builtin_only(expr: *mut pg_sys::Node) -> bool {
    // SAFETY: the walker only reads nodes and looks operators up in the syscache.
    unsafe { !foreign_walker(expr, std::ptr::null_mut()) }
}

/// `eval_const_expressions(expr)` when that cannot run code a role wrote, else None.
///
/// # Safety
/// As `builtin_only`; `expr` is modified in place or replaced, as by eval_const_expressions.
pub unsafe fn fold(expr: *mut pg_sys::Node) -> Option<*mut pg_sys::Node> {
    // SAFETY: see module comment: only built-in, immutable functions can be run by the fold.
    unsafe {
        builtin_only(expr).then(|| pg_sys::eval_const_expressions(std::ptr::null_mut(), expr))
    }
}

/// `expression_planner(expr)` when that cannot run code a role wrote, else None.
///
/// # Safety
/// As `fold`.
pub unsafe fn plan(expr: *mut pg_sys::Node) -> Option<*mut pg_sys::Node> {
    // SAFETY: as fold (expression_planner = eval_const_expressions + fix_opfuncids).
    unsafe { builtin_only(expr).then(|| pg_sys::expression_planner(expr.cast()).cast()) }
}

#[pg_guard]
unsafe extern "C-unwind" fn foreign_walker(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: a node of the tree being walked; check_functions_in_node reads the function OIDs
    // of function calls, operators (setting opfuncid), casts through I/O and row comparisons.
    unsafe {
        if is_a(node, NodeTag::T_SubLink)
            || is_a(node, NodeTag::T_SubPlan)
            || is_a(node, NodeTag::T_Query)
        {
            return true;
        }
        if pg_sys::check_functions_in_node(node, Some(not_builtin), context) {
            return true;
        }
        if is_a(node, NodeTag::T_CoerceToDomain)
            && !domain_checks_builtin_only((*node.cast::<pg_sys::CoerceToDomain>()).resulttype)
        {
            return true;
        }
        pg_sys::expression_tree_walker(node, Some(foreign_walker), context)
    }
}

/// The non-NULL values of the first column of `query`: catalog expressions (pg_node_tree) as
/// their nodeToString text, to be read without asking a cache that would fold them.
pub fn catalog_texts(
    query: &str,
    args: &[pgrx::datum::DatumWithOid],
) -> Result<Vec<String>, pgrx::spi::Error> {
    pgrx::Spi::connect(|client| {
        let mut out = Vec::new();
        for row in client.select(query, None, args)? {
            if let Some(s) = row.get::<String>(1)? {
                out.push(s);
            }
        }
        Ok(out)
    })
}

/// Does a stored expression (nodeToString text from the catalog) call only built-in functions?
/// False for text that cannot be read.
pub fn stored_builtin_only(text: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(text) else {
        return false;
    };
    // SAFETY: nodeToString output from a pg_node_tree column.
    unsafe { builtin_only(pg_sys::stringToNode(c.as_ptr()).cast()) }
}

thread_local! {
    /// How deep domain checks are being walked (a CHECK may cast to another domain).
    static DOMAIN_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Do the CHECK constraints of domain `typid`, and of every domain it is based on, call only
/// built-in functions (and contain no sub-query)? True for a type that is not a domain. Read
/// from pg_constraint, never through the type cache (see the module comment).
fn domain_checks_builtin_only(typid: pg_sys::Oid) -> bool {
    // Most types are not domains: the syscache answers that without a query (this runs for every
    // ADD COLUMN and SET DEFAULT the guard judges; the query costs ~0.3 ms).
    // SAFETY: a syscache lookup inside a transaction; an unknown OID gives 0, not a domain.
    if unsafe { pg_sys::get_typtype(typid) } as u8 != pg_sys::TYPTYPE_DOMAIN {
        return true;
    }
    let checks = catalog_texts(
        "WITH RECURSIVE chain(t) AS ( \
             SELECT y.oid FROM pg_catalog.pg_type y \
              WHERE y.oid OPERATOR(pg_catalog.=) $1 AND y.typtype OPERATOR(pg_catalog.=) 'd' \
             UNION \
             SELECT y.oid FROM chain JOIN pg_catalog.pg_type b ON b.oid OPERATOR(pg_catalog.=) chain.t \
               JOIN pg_catalog.pg_type y ON y.oid OPERATOR(pg_catalog.=) b.typbasetype \
              WHERE y.typtype OPERATOR(pg_catalog.=) 'd') \
         SELECT c.conbin::pg_catalog.text FROM pg_catalog.pg_constraint c JOIN chain \
             ON c.contypid OPERATOR(pg_catalog.=) chain.t \
          WHERE c.contype OPERATOR(pg_catalog.=) 'c' AND c.conbin IS NOT NULL",
        &[typid.into()],
    );
    let Ok(checks) = checks else {
        return false;
    };
    if checks.is_empty() {
        return true;
    }
    // Restores the depth also when an ERROR unwinds through here.
    struct Deeper(u32);
    impl Drop for Deeper {
        fn drop(&mut self) {
            DOMAIN_DEPTH.with(|d| d.set(self.0));
        }
    }
    let depth = Deeper(DOMAIN_DEPTH.with(|d| d.replace(d.get() + 1)));
    depth.0 < 8 && checks.iter().all(|text| stored_builtin_only(text))
}

/// `DomainHasConstraints(typid)` when asking cannot run code a role wrote (its CHECK
/// constraints call only built-in functions); else true, which it is (it has a CHECK
/// constraint), without asking the type cache.
pub fn domain_has_constraints(typid: pg_sys::Oid) -> bool {
    // SAFETY: a type cache lookup inside a transaction; its CHECK expressions are built-in only.
    !domain_checks_builtin_only(typid) || unsafe { pg_sys::DomainHasConstraints(typid) }
}

/// Domains of this database with a CHECK constraint that calls a function that is not built in.
fn unsafe_domains() -> Vec<pg_sys::Oid> {
    let checks: Result<Vec<(pg_sys::Oid, String)>, pgrx::spi::Error> = pgrx::Spi::connect(
        |client| {
            let rows = client.select(
                "SELECT c.contypid, c.conbin::pg_catalog.text FROM pg_catalog.pg_constraint c \
                  WHERE c.contype OPERATOR(pg_catalog.=) 'c' \
                    AND c.contypid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid AND c.conbin IS NOT NULL",
                None,
                &[],
            )?;
            let mut out = Vec::new();
            for row in rows {
                if let (Some(t), Some(b)) = (row.get::<pg_sys::Oid>(1)?, row.get::<String>(2)?) {
                    out.push((t, b));
                }
            }
            Ok(out)
        },
    );
    let Ok(checks) = checks else {
        // Unknown: count every domain with a CHECK as unsafe (callers then stay conservative).
        return vec![pg_sys::InvalidOid];
    };
    let mut out: Vec<pg_sys::Oid> = checks
        .into_iter()
        .filter(|(_, text)| !stored_builtin_only(text))
        .map(|(t, _)| t)
        .collect();
    out.dedup();
    out
}

/// Does reading a literal as type `typid` run the input function of one of `domains`: is one
/// of them an element, attribute, range subtype or base type of `typid` (or of those, and so
/// on)? A literal read as a domain itself goes through the base type's input (coerce_type), but
/// a domain inside an array, row or range is read by domain_in, which checks its constraints.
fn reaches(typid: pg_sys::Oid, domains: &[pg_sys::Oid]) -> bool {
    // SAFETY: a syscache lookup inside a transaction.
    let base = unsafe { pg_sys::getBaseType(typid) };
    crate::spi_ro::get_one_with_args::<bool>(
        "WITH RECURSIVE r(t) AS ( \
             SELECT $1 \
             UNION \
             SELECT n.t FROM r, LATERAL ( \
                 SELECT y.typelem FROM pg_catalog.pg_type y \
                  WHERE y.oid OPERATOR(pg_catalog.=) r.t AND y.typelem OPERATOR(pg_catalog.<>) 0::pg_catalog.oid \
                 UNION ALL \
                 SELECT y.typbasetype FROM pg_catalog.pg_type y \
                  WHERE y.oid OPERATOR(pg_catalog.=) r.t AND y.typbasetype OPERATOR(pg_catalog.<>) 0::pg_catalog.oid \
                 UNION ALL \
                 SELECT a.atttypid FROM pg_catalog.pg_type y JOIN pg_catalog.pg_attribute a \
                     ON a.attrelid OPERATOR(pg_catalog.=) y.typrelid \
                  WHERE y.oid OPERATOR(pg_catalog.=) r.t AND y.typrelid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid \
                    AND a.attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT a.attisdropped \
                 UNION ALL \
                 SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid OPERATOR(pg_catalog.=) r.t \
                 UNION ALL \
                 SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid OPERATOR(pg_catalog.=) r.t \
             ) AS n(t)) \
         SELECT EXISTS (SELECT FROM r WHERE r.t OPERATOR(pg_catalog.=) ANY ($2))",
        &[base.into(), domains.to_vec().into()],
    )
    .ok()
    .flatten()
    .unwrap_or(true)
}

/// The string literals of a raw expression: Some(type) for one read as a known type (cast
/// directly, or the whole expression, read as `target`), None for one whose type depends on
/// parse analysis (a function or operator argument, an array or row element).
struct Literals {
    root: *mut pg_sys::Node,
    target: pg_sys::Oid,
    found: Vec<Option<pg_sys::Oid>>,
}

unsafe fn is_string_const(node: *mut pg_sys::Node) -> bool {
    // SAFETY: the tag is checked before the cast; A_Const.val starts with a node tag.
    unsafe {
        is_a(node, NodeTag::T_A_Const) && {
            let c = node.cast::<pg_sys::A_Const>();
            !(*c).isnull && (*c).val.node.type_ == NodeTag::T_String
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn literal_walker(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: context is the Literals of literal_input_safe; raw parse nodes, tags checked.
    unsafe {
        let lits = &mut *context.cast::<Literals>();
        if is_a(node, NodeTag::T_TypeCast) {
            let tc = node.cast::<pg_sys::TypeCast>();
            if is_string_const((*tc).arg) {
                let t = pg_sys::LookupTypeNameOid(std::ptr::null_mut(), (*tc).typeName, true);
                // A type that does not exist: parse analysis reports it before reading anything.
                if t != pg_sys::InvalidOid {
                    lits.found.push(Some(t));
                }
                return false;
            }
        } else if is_string_const(node) {
            lits.found.push((node == lits.root).then_some(lits.target));
            return false;
        }
        pg_sys::raw_expression_tree_walker(node, Some(literal_walker), context)
    }
}

/// May the raw expression `raw`, to be read as type `target`, be parse-analysed? Parse analysis
/// reads string literals with their type's input function, and the input of an array, row or
/// range reads its elements with theirs: for a domain that is domain_in, which evaluates the
/// domain's CHECK constraints. So not when a literal could be read as a type holding a domain
/// whose CHECK calls a function that is not built in (when its type depends on the analysis:
/// whenever such a domain exists).
///
/// # Safety
/// `raw` is a raw (grammar output) expression, inside a transaction.
pub unsafe fn literal_input_safe(raw: *mut pg_sys::Node, target: pg_sys::Oid) -> bool {
    let mut lits = Literals {
        root: raw,
        target,
        found: Vec::new(),
    };
    // SAFETY: the walker only reads the tree and pushes into lits.
    unsafe { literal_walker(raw, (&raw mut lits).cast()) };
    if lits.found.is_empty() {
        return true;
    }
    let domains = unsafe_domains();
    if domains.is_empty() {
        return true;
    }
    lits.found
        .iter()
        .all(|t| t.is_some_and(|t| !reaches(t, &domains)))
}

#[pg_guard]
unsafe extern "C-unwind" fn not_builtin(func: pg_sys::Oid, _context: *mut c_void) -> bool {
    !builtin_function(u32::from(func))
}

#[cfg(test)]
mod tests {
    use super::builtin_function;

    #[test]
    fn only_initdb_functions_are_builtin() {
        assert!(builtin_function(1574)); // nextval: built in (volatile, so never folded anyway)
        assert!(builtin_function(16_383));
        assert!(!builtin_function(16_384));
        assert!(!builtin_function(u32::MAX));
    }
}
