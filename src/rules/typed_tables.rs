//! `table_rewrite` for ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE of a composite type
//! with typed tables (CREATE TABLE ... OF type): each typed table is rewritten under ACCESS
//! EXCLUSIVE, as ALTER TABLE ... ALTER COLUMN TYPE would.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, override_text, stmt, Draft};

const H: Hazard = Hazard::TableRewrite;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::TypedTablesRewrite { type_name, tables } = &input.stmt.ddl else {
        return vec![];
    };
    let text = stmt(&input.stmt.text);
    // The statement without its (last) CASCADE: what runs once no typed table is left.
    let without_cascade = text
        .len()
        .checked_sub("cascade".len())
        .filter(|&cut| text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case("cascade"))
        .map(|cut| format!("{};", text[..cut].trim_end()));
    tables
        .iter()
        .filter_map(|t| input.guarded(t))
        .map(|t| {
            let name = &t.qualified_name;
            let then = match &without_cascade {
                Some(s) => format!("  {s}\n"),
                None => "  -- then the same ALTER TYPE without CASCADE\n".to_string(),
            };
            Draft {
                lock: LockMode::AccessExclusive,
                rewrites: true,
                scans: true,
            }
            .finding(
                H,
                t,
                format!("ALTER TYPE {type_name} ... CASCADE rewrites typed table {name}"),
                format!(
                    "It {} while it copies every row into a new file and rebuilds every index; the table is {}.",
                    holds(LockMode::AccessExclusive, name),
                    t.size_text()
                ),
                format!(
                    "Detach the table from the type first (instant, no rewrite: it keeps its columns as an ordinary \
                     table), change the type alone, then change the table's column without a rewrite (expand/contract, \
                     as the HINT of ALTER TABLE ... ALTER COLUMN TYPE on it shows):\n  \
                     ALTER TABLE {name} NOT OF;\n{then}{}",
                    override_text(H, true)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn err_typed_table_rewrite_with_recipe() {
        let stmt = locking(
            Ddl::TypedTablesRewrite {
                type_name: "public.point3".into(),
                tables: vec![target(1, "points")],
            },
            "ALTER TYPE point3 ALTER ATTRIBUTE x TYPE bigint CASCADE;",
            LockMode::AccessExclusive,
        );
        let tables = [facts(1, "points")];
        let f = check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        });
        assert_eq!(f.len(), 1);
        assert!(f[0].hint.contains("ALTER TABLE public.points NOT OF;\n  ALTER TYPE point3 ALTER ATTRIBUTE x TYPE bigint;"), "{}", f[0].hint);
    }
}
