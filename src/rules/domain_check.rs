//! `constraint_validation` and `not_null_scan` for ALTER DOMAIN: a validated CHECK, SET NOT NULL
//! (or ADD ... NOT NULL) and VALIDATE CONSTRAINT read every stored value of the domain under a
//! SHARE lock on each table with a column of it (writes wait for the whole scan). PostgreSQL 15 to
//! 18 have no weaker lock for domains: NOT VALID is the online form.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, DomainCheck, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, stmt, Draft};

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterDomain {
        domain,
        check,
        tables,
    } = &input.stmt.ddl
    else {
        return vec![];
    };
    let guarded: Vec<_> = tables.iter().filter_map(|t| input.guarded(t)).collect();
    let all: Vec<String> = tables
        .iter()
        .filter_map(|t| input.facts(t))
        .map(|f| f.qualified_name.clone())
        .collect();
    let validate_later = |name: &str| {
        format!(
            "Validating it later (ALTER DOMAIN {domain} VALIDATE CONSTRAINT {name};) reads the same rows under the \
             same SHARE lock: PostgreSQL has no weaker form for domains. A NOT VALID domain constraint already \
             checks every value inserted or updated; leave it so, or validate it when writes to {} can wait.",
            all.join(", ")
        )
    };
    let (hazard, what, hint) = match check {
        DomainCheck::AddCheck { name, expr } => {
            let name = name
                .clone()
                .unwrap_or_else(|| made_name(domain, &[], "check"));
            let add = match expr {
                Some(e) => format!("ALTER DOMAIN {domain} ADD CONSTRAINT {name} CHECK ({e}) NOT VALID;"),
                None => format!("{} NOT VALID;", stmt(&input.stmt.text)),
            };
            (
                Hazard::ConstraintValidation,
                "ADD CONSTRAINT checks".to_string(),
                format!(
                    "Add it NOT VALID: instant, it locks no table, and every value inserted or updated from then on is \
                     checked:\n  {add}\n{}",
                    validate_later(&name)
                ),
            )
        }
        DomainCheck::NotNull => {
            let name = made_name(domain, &[], "not_null");
            (
                Hazard::NotNullScan,
                "SET NOT NULL checks".to_string(),
                format!(
                    "Add the rule as a CHECK constraint NOT VALID: instant, it locks no table, and every value \
                     inserted or updated from then on is checked (a domain CHECK sees NULLs too):\n  \
                     ALTER DOMAIN {domain} ADD CONSTRAINT {name} CHECK (VALUE IS NOT NULL) NOT VALID;\n{}",
                    validate_later(&name)
                ),
            )
        }
        DomainCheck::Validate { name } => (
            Hazard::ConstraintValidation,
            format!("VALIDATE CONSTRAINT {name} reads"),
            format!(
                "PostgreSQL has no weaker form for domains (15 to 18). The constraint, NOT VALID, already checks \
                 every value inserted or updated; validation only proves the rows stored before it. Leave it NOT \
                 VALID, or validate it when writes to {} can wait.",
                all.join(", ")
            ),
        ),
    };
    guarded
        .into_iter()
        .map(|t| {
            Draft {
                lock: LockMode::Share,
                rewrites: false,
                scans: true,
            }
            .finding(
                hazard,
                t,
                format!("ALTER DOMAIN {domain} {what} every value of the domain stored in {}", t.qualified_name),
                format!(
                    "It {} while it reads every row of it ({}), and likewise on every table with a column of the \
                     domain ({}): writes wait for the whole scan.",
                    holds(LockMode::Share, &t.qualified_name),
                    t.size_text(),
                    all.join(", ")
                ),
                format!("{hint}\n{}", override_text(hazard, true)),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    fn domain(check: DomainCheck, sql: &str) -> crate::ddl::Statement {
        locking(
            Ddl::AlterDomain {
                domain: "public.positive".into(),
                check,
                tables: vec![target(1, "orders"), target(2, "refunds")],
            },
            sql,
            LockMode::Share,
        )
    }

    fn run(stmt: &crate::ddl::Statement, min: i64) -> Vec<Finding> {
        let tables = [facts(1, "orders"), one_page(2, "refunds")];
        check(&RuleInput {
            stmt,
            tables: &tables,
            min_table_size: min,
        })
    }

    #[test]
    fn err_add_check_recipe_is_not_valid() {
        let s = domain(
            DomainCheck::AddCheck {
                name: None,
                expr: Some("VALUE > 0".into()),
            },
            "ALTER DOMAIN positive ADD CHECK (VALUE > 0)",
        );
        let f = run(&s, 1 << 20);
        assert_eq!(f.len(), 1, "only the big table: {f:?}");
        assert_eq!(f[0].hazard, Hazard::ConstraintValidation);
        assert_eq!(f[0].subject, "public.orders");
        assert!(f[0].hint.contains(
            "ALTER DOMAIN public.positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID;"
        ));
        assert!(f[0].detail.contains("public.orders, public.refunds"));
        assert_eq!(run(&s, 0).len(), 2);
    }

    #[test]
    fn err_set_not_null_and_validate() {
        let f = run(
            &domain(DomainCheck::NotNull, "ALTER DOMAIN positive SET NOT NULL"),
            1 << 20,
        );
        assert_eq!(f[0].hazard, Hazard::NotNullScan);
        assert!(f[0].hint.contains(
            "ALTER DOMAIN public.positive ADD CONSTRAINT positive_not_null CHECK (VALUE IS NOT NULL) NOT VALID;"
        ));
        let f = run(
            &domain(
                DomainCheck::Validate { name: "c".into() },
                "ALTER DOMAIN positive VALIDATE CONSTRAINT c",
            ),
            1 << 20,
        );
        assert_eq!(f[0].hazard, Hazard::ConstraintValidation);
        assert!(f[0].hint.contains("no weaker form"));
    }

    #[test]
    fn ok_when_no_big_table_uses_the_domain() {
        let s = domain(DomainCheck::NotNull, "ALTER DOMAIN positive SET NOT NULL");
        let tables = [one_page(1, "orders")];
        assert!(check(&RuleInput {
            stmt: &s,
            tables: &tables,
            min_table_size: 1 << 20,
        })
        .is_empty());
    }
}
