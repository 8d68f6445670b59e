//! `table_rewrite` for REFRESH MATERIALIZED VIEW without CONCURRENTLY: ACCESS EXCLUSIVE on the view
//! (every reader waits) while its query runs again and every row goes into a new file. The work
//! grows with the tables the query reads, not only with the view, so those count too.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, LockMode, Target};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};

const H: Hazard = Hazard::TableRewrite;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::RefreshMatView {
        view,
        sources,
        unique_key,
        columns,
    } = &input.stmt.ddl
    else {
        return vec![];
    };
    let Some(v) = input.visible(view) else {
        return vec![];
    };
    // A source's size counts whatever it holds: the statement locks only the view, so the guard
    // cannot look at a source again under its lock (an empty source is not proof of a quick run).
    let big_sources: Vec<&TableFacts> = sources
        .iter()
        .filter_map(|s: &Target| input.facts(s))
        .filter(|f| f.exemption_with(input.min_table_size, false).is_none())
        .collect();
    if input.guarded(view).is_none() && big_sources.is_empty() {
        return vec![];
    }
    let name = &v.qualified_name;
    let reads = if big_sources.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = big_sources
            .iter()
            .map(|f| format!("{} ({})", f.qualified_name, f.size_text()))
            .collect();
        format!(" over {}", list.join(", "))
    };
    let concurrently = format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {name};");
    let recipe = if *unique_key {
        format!("  {concurrently}")
    } else {
        format!(
            "  CREATE UNIQUE INDEX CONCURRENTLY {idx} ON {name} ({cols});\n  {concurrently}\n\
             CONCURRENTLY needs a unique index on columns that identify a row, built outside a transaction \
             block (shown: all columns; fewer are enough when they are unique, and it fails when two rows are \
             equal in all of them).",
            idx = made_name(name, &[], "refresh_key"),
            cols = columns.join(", "),
        )
    };
    vec![Draft {
        lock: LockMode::AccessExclusive,
        rewrites: true,
        scans: true,
    }
    .finding(
        H,
        v,
        format!("REFRESH MATERIALIZED VIEW {name} blocks every reader of it while its query runs again"),
        format!(
            "It {} while it runs the view's query again{reads} and writes every row into a new file; the view is {}.",
            holds(LockMode::AccessExclusive, name),
            v.size_text()
        ),
        format!(
            "Refresh it concurrently: readers go on reading the old contents meanwhile (an EXCLUSIVE lock, which \
             blocks no reads):\n{recipe}\n{}",
            override_text(H, true)
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    fn refresh(unique_key: bool) -> crate::ddl::Statement {
        locking(
            Ddl::RefreshMatView {
                view: target(1, "totals"),
                sources: vec![target(2, "orders")],
                unique_key,
                columns: vec!["day".into(), "total".into()],
            },
            "REFRESH MATERIALIZED VIEW totals",
            LockMode::AccessExclusive,
        )
    }

    fn classify(stmt: &crate::ddl::Statement, tables: &[TableFacts], min: i64) -> Vec<Finding> {
        check(&RuleInput {
            stmt,
            tables,
            min_table_size: min,
        })
    }

    #[test]
    fn err_refresh_of_a_big_view_or_of_a_small_view_over_big_tables() {
        let f = classify(
            &refresh(true),
            &[facts(1, "totals"), one_page(2, "orders")],
            0,
        );
        assert_eq!(f.len(), 1);
        assert!(f[0]
            .hint
            .contains("REFRESH MATERIALIZED VIEW CONCURRENTLY public.totals;"));
        assert!(!f[0].hint.contains("CREATE UNIQUE INDEX"));
        // An 8 kB view of an aggregate over a big table: the work is the table's.
        let f = classify(
            &refresh(false),
            &[one_page(1, "totals"), facts(2, "orders")],
            1 << 20,
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].detail.contains("over public.orders (42 MB)"),
            "{}",
            f[0].detail
        );
        assert!(f[0].hint.contains(
            "CREATE UNIQUE INDEX CONCURRENTLY totals_refresh_key ON public.totals (day, total);"
        ));
    }

    #[test]
    fn ok_small_view_over_small_tables_or_created_in_this_transaction() {
        assert!(classify(
            &refresh(true),
            &[one_page(1, "totals"), one_page(2, "orders")],
            1 << 20
        )
        .is_empty());
        let new = TableFacts {
            created_in_transaction: true,
            ..facts(1, "totals")
        };
        assert!(classify(&refresh(true), &[new, facts(2, "orders")], 0).is_empty());
    }

    #[test]
    fn an_empty_source_is_no_exemption() {
        // The view is empty and exempt under its own lock; a source that is empty now may not be
        // when the query runs, and the guard does not lock it.
        let f = classify(&refresh(true), &[empty(1, "totals"), empty(2, "orders")], 0);
        assert_eq!(f.len(), 1, "{f:?}");
    }
}
