//! `table_rewrite`: statements after which every row of the table has been copied into a new
//! file under an ACCESS EXCLUSIVE lock: ALTER COLUMN TYPE that is not binary coercible, ADD
//! COLUMN with a per-row default or GENERATED ... STORED, SET LOGGED/UNLOGGED, SET ACCESS
//! METHOD, SET TABLESPACE, VACUUM FULL and CLUSTER.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, ConstraintKind, Ddl, LockMode, NewConstraint, Rewrite};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules::{holds, literal, override_text, unquoted, Draft};

const H: Hazard = Hazard::TableRewrite;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let mut out = Vec::new();
    match &input.stmt.ddl {
        Ddl::AlterTable { table, cmds } => {
            let Some(t) = input.guarded(table) else {
                return out;
            };
            for cmd in cmds {
                let rewrite = match cmd {
                    AlterCmd::AddColumn {
                        rewrite: Some(r), ..
                    }
                    | AlterCmd::AlterType {
                        rewrite: Some(r), ..
                    }
                    | AlterCmd::Rewrites(r) => r,
                    _ => continue,
                };
                out.push(finding(t, rewrite, cmd));
            }
        }
        Ddl::Rewrite { tables, verb, all } => {
            for table in tables {
                if let Some(t) = input.guarded(table) {
                    out.push(maintenance(t, verb));
                }
            }
            if *all {
                out.push(everything(verb));
            }
        }
        _ => {}
    }
    out
}

fn finding(t: &TableFacts, rewrite: &Rewrite, cmd: &AlterCmd) -> Finding {
    let name = &t.qualified_name;
    let (what, hint) = match (rewrite, cmd) {
        (Rewrite::ColumnType(change), AlterCmd::AlterType { column, new_type, .. }) => (
            format!("ALTER COLUMN {column} TYPE rewrites table {name} ({change})"),
            format!(
                "Change the type with expand/contract instead of rewriting under the lock ({docs}):\n  \
                 SELECT safe_ddl.begin_column_change({rel}, {col}, {new_lit}, {type_lit});\n  \
                 -- adds {new} ({new_type}) without a rewrite; a trigger keeps both columns in step (dual writes)\n  \
                 CALL safe_ddl.backfill({rel}, {set_lit}, {where_lit});\n  \
                 -- outside a transaction block: fills the existing rows in short batches\n  \
                 -- switch the application to {new}; once {column} is unused for safe_ddl.usage_window:\n  \
                 SELECT safe_ddl.finish_column_change({rel}, {col});\n\
                 To keep the name {column} instead (no application deploy; the foreign keys that reference a key \
                 follow), start with SELECT safe_ddl.begin_type_change({rel}, {col}, {type_lit}); and see the same page.\n\
                 Binary-coercible changes are instant and never refused (varchar(n) to varchar(m > n) or text, \
                 numeric(p, s) to numeric(q > p, s), a domain without constraints, timestamp to timestamptz and back \
                 when the session TimeZone is UTC).\n{}",
                override_text(H, true),
                new = new_column(column),
                rel = literal(name),
                col = literal(&unquoted(column)),
                new_lit = literal(&unquoted(&new_column(column))),
                docs = crate::hazard::docs_page("expand-contract.md"),
                type_lit = literal(new_type),
                set_lit = literal(&format!("{} = ({column}::{new_type})", new_column(column))),
                where_lit = literal(&format!(
                    "{} IS DISTINCT FROM CAST(({column}::{new_type}) AS {new_type})",
                    new_column(column)
                )),
            ),
        ),
        (Rewrite::ColumnDefault(why), AlterCmd::AddColumn { column, .. }) => {
            (format!("ADD COLUMN {column} rewrites table {name} ({why})"), add_column_hint(name, cmd, why))
        }
        (Rewrite::Persistence, _) => (
            format!("SET LOGGED/UNLOGGED rewrites table {name}"),
            format!(
                "There is no online form. Build a copy with the wanted persistence, keep it in step with a trigger, \
                 backfill it in batches and swap the names in one short transaction; or run it in a maintenance window.\n{}",
                override_text(H, true)
            ),
        ),
        (Rewrite::AccessMethod, _) => (
            format!("SET ACCESS METHOD rewrites table {name}"),
            format!(
                "There is no online form: copy into a new table with the access method (trigger + batched backfill + \
                 rename), or run it in a maintenance window.\n{}",
                override_text(H, true)
            ),
        ),
        (Rewrite::GeneratedExpression(column), _) => (
            format!("ALTER COLUMN {column} SET EXPRESSION rewrites table {name} (a stored generated column is computed again for every row)"),
            format!(
                "There is no rewrite-free way to change a stored generated column. Add a new column for the new \
                 expression instead: on PostgreSQL 18 a virtual one, which stores nothing (ADD COLUMN {new}, of the \
                 same type, GENERATED ALWAYS AS the new expression VIRTUAL), \
                 or a plain column kept in step by a trigger and filled with CALL safe_ddl.backfill(...); move readers \
                 to it, then drop {column} once it is unused (safe_ddl.column_usage). Or run it in a maintenance window.\n{}",
                override_text(H, true),
                new = new_column(column),
            ),
        ),
        (Rewrite::Tablespace, _) => (
            format!("SET TABLESPACE copies every file of {} {name}", relation_word(t.relkind)),
            format!(
                "Move it online with pg_repack (--tablespace), or run it in a maintenance window. New tables can be \
                 created in the target tablespace directly.\n{}",
                override_text(H, true)
            ),
        ),
        _ => (format!("the statement rewrites table {name}"), override_text(H, true)),
    };
    Draft { lock: LockMode::AccessExclusive, rewrites: true, scans: true }.finding(
        H,
        t,
        what,
                if matches!(rewrite, Rewrite::Tablespace) {
            format!(
                "It {} while it copies every block of the {word}'s files into the new tablespace; the {word} is {}.{}",
                holds(LockMode::AccessExclusive, name),
                t.size_text(),
                if t.relkind == b'i' {
                    " Every query that plans on its table waits for it too."
                } else {
                    ""
                },
                word = relation_word(t.relkind)
            )
        } else {
            format!(
                "It {} while it copies every row into a new file and rebuilds every index; the table is {}.",
                holds(LockMode::AccessExclusive, name),
                t.size_text()
            )
        },
        hint,
    )
}

fn relation_word(relkind: u8) -> &'static str {
    match relkind {
        b'i' => "index",
        b'm' => "materialized view",
        _ => "table",
    }
}

fn maintenance(t: &TableFacts, verb: &str) -> Finding {
    let name = &t.qualified_name;
    let hint = if verb == "VACUUM FULL" {
        format!(
            "A plain VACUUM {name}; makes the space reusable without blocking anyone. To give space back to the \
             operating system online, use pg_repack or pg_squeeze.\n{}",
            override_text(H, false)
        )
    } else {
        format!(
            "Reorder the table online with pg_repack (--order-by), or run CLUSTER in a maintenance window.\n{}",
            override_text(H, true)
        )
    };
    Draft { lock: LockMode::AccessExclusive, rewrites: true, scans: true }.finding(
        H,
        t,
        format!("{verb} rewrites table {name}"),
        format!(
            "{verb} {} while it copies every row into a new file and rebuilds every index; the table is {}.",
            holds(LockMode::AccessExclusive, name),
            t.size_text()
        ),
        hint,
    )
}

/// The recipe for a column whose default would be computed per row: every part of the
/// statement (type, default, NOT NULL, inline constraints) comes back as a step that takes no
/// long lock, filled by safe_ddl.backfill and finished by the extension's own procedures.
fn add_column_hint(name: &str, cmd: &AlterCmd, why: &str) -> String {
    let AlterCmd::AddColumn {
        column,
        type_text,
        default_text,
        domain_base,
        constraints,
        ..
    } = cmd
    else {
        return override_text(H, true);
    };
    let rel = literal(name);
    let col = literal(&unquoted(column));
    let lower = type_text.to_ascii_lowercase();
    let serial_base = match lower.as_str() {
        "serial" | "serial4" => Some("integer"),
        "bigserial" | "serial8" => Some("bigint"),
        "smallserial" | "serial2" => Some("smallint"),
        _ => None,
    };
    let fill = |set: &str| {
        format!(
            "  CALL safe_ddl.backfill({rel}, {}, {});  -- outside a transaction block: fills existing rows in short batches\n",
            literal(&format!("{column} = {set}")),
            literal(&format!("{column} IS NULL"))
        )
    };
    let mut steps = String::new();
    let mut not_null = constraints
        .iter()
        .any(|c| matches!(c.kind, ConstraintKind::NotNull | ConstraintKind::PrimaryKey));
    let intro;
    if let Some(base) = serial_base {
        let seq = crate::rules::made_name(name, &[column], "seq");
        intro = "Add a plain column, give new rows a sequence default, and number existing rows in batches:";
        steps += &format!(
            "  CREATE SEQUENCE {seq};\n  \
             ALTER TABLE {name} ADD COLUMN {column} {base};  -- instant\n  \
             ALTER TABLE {name} ALTER COLUMN {column} SET DEFAULT nextval({seq_lit});  -- new rows only, instant\n  \
             ALTER SEQUENCE {seq} OWNED BY {name}.{column};\n",
            seq_lit = literal(&seq)
        );
        steps += &fill(&format!("nextval({})", literal(&seq)));
        not_null = true; // serial is NOT NULL
    } else if why.starts_with("GENERATED") {
        let expr = default_text.clone().unwrap_or_else(|| "NULL".into());
        let func = crate::rules::made_name(name, &[column], "fill");
        intro = "A stored generated column cannot be added without a rewrite. Add a plain column that a BEFORE INSERT OR \
                 UPDATE trigger computes, and fill existing rows in batches:";
        steps += &format!(
            "  ALTER TABLE {name} ADD COLUMN {column} {type_text};  -- instant\n  \
             CREATE FUNCTION {func}() RETURNS trigger LANGUAGE plpgsql AS $fill$ BEGIN NEW.{column} := (SELECT {expr} FROM (SELECT NEW.*) AS r); RETURN NEW; END $fill$;\n  \
             CREATE TRIGGER {func} BEFORE INSERT OR UPDATE ON {name} FOR EACH ROW EXECUTE FUNCTION {func}();\n"
        );
        steps += &format!(
            "  CALL safe_ddl.backfill({rel}, {}, {});  -- outside a transaction block: the trigger computes it\n",
            literal(&format!("{column} = ({expr})")),
            literal(&format!("{column} IS DISTINCT FROM ({expr})"))
        );
    } else if why.starts_with("an identity") {
        let when = default_text.as_deref().unwrap_or("BY DEFAULT");
        let seq = crate::rules::made_name(name, &[column], "seq");
        intro = "Add a plain column with a sequence default, number existing rows in batches, make it NOT NULL without \
                 a long lock, then turn the default into an identity in one short transaction:";
        steps += &format!(
            "  CREATE SEQUENCE {seq};\n  \
             ALTER TABLE {name} ADD COLUMN {column} {type_text};  -- instant\n  \
             ALTER TABLE {name} ALTER COLUMN {column} SET DEFAULT nextval({seq_lit});  -- new rows only, instant\n",
            seq_lit = literal(&seq)
        );
        steps += &fill(&format!("nextval({})", literal(&seq)));
        steps += &format!(
            "  CALL safe_ddl.set_not_null({rel}, {col});  -- outside a transaction block, no long lock\n  \
             BEGIN;\n  \
             ALTER TABLE {name} ALTER COLUMN {column} DROP DEFAULT;\n  \
             ALTER TABLE {name} ALTER COLUMN {column} ADD GENERATED {when} AS IDENTITY;\n  \
             SELECT setval(pg_get_serial_sequence({rel}, {col}), (SELECT max({column}) FROM {name}));\n  \
             COMMIT;\n  \
             DROP SEQUENCE {seq};\n"
        );
        not_null = false; // done above
    } else if let (true, Some(base)) = (why.starts_with("its type is a domain"), domain_base) {
        let check = crate::rules::made_name(name, &[column], "check");
        intro = "A domain with constraints is checked per row. Add the column with the domain's base type and enforce \
                 the domain's constraints with a CHECK validated without blocking writes:";
        steps += &format!("  ALTER TABLE {name} ADD COLUMN {column} {base};  -- instant\n");
        if let Some(d) = default_text {
            steps += &format!("  ALTER TABLE {name} ALTER COLUMN {column} SET DEFAULT {d};  -- new rows only, instant\n");
            steps += &fill(d);
        }
        steps += &format!(
            "  CALL safe_ddl.add_check({rel}, {}, {});  -- outside a transaction block\n",
            literal(&unquoted(&check)),
            literal(&format!(
                "({column}::{type_text}) IS NOT DISTINCT FROM {column}"
            ))
        );
    } else {
        intro = "Add the column without a per-row default, give new rows the default, then fill existing rows in \
                 batches (a constant or stable default such as 0, 'x' or now() needs no rewrite since PostgreSQL 11):";
        steps += &format!("  ALTER TABLE {name} ADD COLUMN {column} {type_text};  -- instant\n");
        if let Some(d) = default_text {
            steps += &format!("  ALTER TABLE {name} ALTER COLUMN {column} SET DEFAULT {d};  -- new rows only, instant\n");
            steps += &fill(d);
        } else {
            steps += &fill("DEFAULT");
        }
    }
    if not_null {
        steps += &format!("  CALL safe_ddl.set_not_null({rel}, {col});  -- outside a transaction block, no long lock\n");
    }
    for c in constraints {
        steps += &constraint_step(name, column, c);
    }
    format!("{intro}\n{steps}{}", override_text(H, true))
}

/// The step that adds an inline constraint of ADD COLUMN without a long lock.
fn constraint_step(name: &str, column: &str, c: &NewConstraint) -> String {
    let rel = literal(name);
    let col = literal(&unquoted(column));
    match c.kind {
        ConstraintKind::Check => {
            let cname = c
                .name
                .clone()
                .unwrap_or_else(|| crate::rules::made_name(name, &[column], "check"));
            match &c.expr_text {
                Some(e) => format!(
                    "  CALL safe_ddl.add_check({rel}, {}, {});  -- outside a transaction block\n",
                    literal(&unquoted(&cname)),
                    literal(e)
                ),
                None => String::new(),
            }
        }
        ConstraintKind::ForeignKey => {
            let Some(r) = &c.referenced else {
                return String::new();
            };
            let refs = if c.ref_columns.is_empty() {
                "NULL".to_string()
            } else {
                format!(
                    "ARRAY[{}]::name[]",
                    c.ref_columns
                        .iter()
                        .map(|x| literal(&unquoted(x)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let cname = c
                .name
                .as_deref()
                .map(|n| literal(&unquoted(n)))
                .unwrap_or_else(|| "NULL".into());
            format!(
                "  CALL safe_ddl.add_foreign_key({rel}, ARRAY[{col}]::name[], {}, {refs}, {cname});  -- outside a transaction block\n",
                literal(&r.written)
            )
        }
        ConstraintKind::Unique | ConstraintKind::PrimaryKey => {
            let (suffix, what) = if c.kind == ConstraintKind::PrimaryKey {
                ("pkey", "PRIMARY KEY")
            } else {
                ("key", "UNIQUE")
            };
            let index = c
                .name
                .clone()
                .unwrap_or_else(|| crate::rules::made_name(name, &[column], suffix));
            format!(
                "  CREATE UNIQUE INDEX CONCURRENTLY {index} ON {name} ({column});  -- outside a transaction block\n  \
                 ALTER TABLE {name} ADD CONSTRAINT {index} {what} USING INDEX {index};  -- instant\n"
            )
        }
        _ => String::new(),
    }
}

/// VACUUM FULL / CLUSTER without a table: every table of the database, one after the other.
fn everything(verb: &str) -> Finding {
    Finding {
        hazard: H,
        subject: "every table of the database".into(),
        message: format!("table_rewrite: {verb} without a table rewrites every table of the database"),
        detail: format!(
            "{verb} takes an ACCESS EXCLUSIVE lock on each table in turn (blocks all reads and writes) while it copies \
             every row and rebuilds every index."
        ),
        hint: format!(
            "Run plain VACUUM (or rely on autovacuum), and rewrite single bloated tables online with pg_repack.\n{}",
            override_text(H, false)
        ),
        lock: Some(LockMode::AccessExclusive),
        rewrites: true,
        scans: true,
        size_bytes: None,
        in_use: None,
    }
}

/// `amount` -> `amount_new`, keeping quotes right.
fn new_column(column: &str) -> String {
    match column.strip_suffix('"') {
        Some(inner) => format!("{inner}_new\""),
        None => format!("{column}_new"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::Target;
    use crate::rules::test_support::*;

    fn alter(cmds: Vec<AlterCmd>) -> crate::ddl::Statement {
        statement(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds,
            },
            "ALTER TABLE t ...",
        )
    }

    #[test]
    fn volatile_default_recipe_keeps_not_null_and_constraints() {
        let f = [facts(1, "t")];
        let c = |kind, expr: Option<&str>| NewConstraint {
            kind,
            name: None,
            not_valid: false,
            using_index: false,
            columns: vec![],
            referenced: None,
            ref_columns: vec![],
            expr_text: expr.map(String::from),
            without_overlaps: false,
        };
        let stmt = alter(vec![AlterCmd::AddColumn {
            column: "token".into(),
            type_text: "uuid".into(),
            default_text: Some("gen_random_uuid()".into()),
            domain_base: None,
            rewrite: Some(Rewrite::ColumnDefault("volatile default".into())),
            constraints: vec![
                c(ConstraintKind::NotNull, None),
                c(ConstraintKind::Check, Some("token IS DISTINCT FROM NULL")),
            ],
        }]);
        let found = check(&RuleInput {
            stmt: &stmt,
            tables: &f,
            min_table_size: 0,
        });
        let hint = &found[0].hint;
        for line in [
            "  ALTER TABLE public.t ADD COLUMN token uuid;",
            "  ALTER TABLE public.t ALTER COLUMN token SET DEFAULT gen_random_uuid();",
            "  CALL safe_ddl.backfill('public.t', 'token = gen_random_uuid()', 'token IS NULL');",
            "  CALL safe_ddl.set_not_null('public.t', 'token');",
            "  CALL safe_ddl.add_check('public.t', 't_token_check', 'token IS DISTINCT FROM NULL');",
        ] {
            assert!(hint.contains(line), "{line}\n{hint}");
        }
        assert!(
            !hint.contains("<expression>") && !hint.contains("key range"),
            "{hint}"
        );
    }

    #[test]
    fn err_type_change_and_volatile_default() {
        let f = [facts(1, "t")];
        let stmt = alter(vec![
            AlterCmd::AlterType {
                column: "id".into(),
                new_type: "bigint".into(),
                rewrite: Some(Rewrite::ColumnType("integer to bigint".into())),
                referenced_by: vec![],
            },
            AlterCmd::AddColumn {
                column: "at".into(),
                type_text: "timestamptz".into(),
                default_text: Some("clock_timestamp()".into()),
                domain_base: None,
                rewrite: Some(Rewrite::ColumnDefault("volatile default".into())),
                constraints: vec![],
            },
        ]);
        let found = check(&RuleInput {
            stmt: &stmt,
            tables: &f,
            min_table_size: 0,
        });
        assert_eq!(found.len(), 2);
        assert!(
            found[0]
                .message
                .starts_with("table_rewrite: ALTER COLUMN id TYPE"),
            "{}",
            found[0].message
        );
        assert!(
            found[0]
                .hint
                .contains("begin_column_change('public.t', 'id', 'id_new', 'bigint');"),
            "{}",
            found[0].hint
        );
        assert!(found[0].rewrites && found[0].scans);
        assert!(found[1].hint.contains("SET DEFAULT"), "{}", found[1].hint);
    }

    #[test]
    fn ok_binary_coercible_constant_default_and_new_tables() {
        let f = [facts(1, "t")];
        let stmt = alter(vec![
            AlterCmd::AlterType {
                column: "name".into(),
                new_type: "bigint".into(),
                rewrite: None,
                referenced_by: vec![],
            },
            AlterCmd::AddColumn {
                column: "n".into(),
                type_text: "int".into(),
                default_text: None,
                domain_base: None,
                rewrite: None,
                constraints: vec![],
            },
        ]);
        assert!(check(&RuleInput {
            stmt: &stmt,
            tables: &f,
            min_table_size: 0
        })
        .is_empty());
        let fresh = [crate::facts::TableFacts {
            created_in_transaction: true,
            ..facts(1, "t")
        }];
        let stmt = alter(vec![AlterCmd::Rewrites(Rewrite::Persistence)]);
        assert!(check(&RuleInput {
            stmt: &stmt,
            tables: &fresh,
            min_table_size: 0
        })
        .is_empty());
    }

    #[test]
    fn err_vacuum_full_and_cluster() {
        let f = [facts(1, "t")];
        let stmt = statement(
            Ddl::Rewrite {
                tables: vec![
                    target(1, "t"),
                    Target {
                        oid: None,
                        written: "x".into(),
                    },
                ],
                verb: "VACUUM FULL",
                all: false,
            },
            "VACUUM FULL t, x",
        );
        let found = check(&RuleInput {
            stmt: &stmt,
            tables: &f,
            min_table_size: 0,
        });
        assert_eq!(found.len(), 1);
        assert!(found[0].hint.contains("VACUUM public.t;"));
    }

    #[test]
    fn ok_empty_table_err_one_page() {
        let run = |t: crate::facts::TableFacts, lock| {
            let stmt = crate::ddl::Statement {
                lock,
                ..alter(vec![AlterCmd::AlterType {
                    column: "id".into(),
                    new_type: "bigint".into(),
                    rewrite: Some(Rewrite::ColumnType("integer to bigint".into())),
                    referenced_by: vec![],
                }])
            };
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t],
                min_table_size: 0,
            })
        };
        let ae = Some(LockMode::AccessExclusive);
        assert!(run(empty(1, "t"), ae).is_empty());
        let found = run(one_page(1, "t"), ae);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].detail.contains("8192 bytes"),
            "{}",
            found[0].detail
        );
        // VACUUM FULL runs without a lock of the guard's own: an empty table is still guarded.
        let vacuum = |t| {
            let stmt = statement(
                Ddl::Rewrite {
                    tables: vec![target(1, "t")],
                    verb: "VACUUM FULL",
                    all: false,
                },
                "VACUUM FULL t",
            );
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t],
                min_table_size: 0,
            })
            .len()
        };
        assert_eq!(vacuum(empty(1, "t")), 1);
    }

    #[test]
    fn recipe_literals() {
        assert_eq!(unquoted("\"Odd \"\"x\"\"\""), "Odd \"x\"");
        assert_eq!(unquoted("plain"), "plain");
        assert_eq!(literal("public.\"it's\""), "'public.\"it''s\"'");
    }

    #[test]
    fn quoted_new_column_names() {
        assert_eq!(new_column("\"Amount\""), "\"Amount_new\"");
        assert_eq!(new_column("amount"), "amount_new");
    }
}
