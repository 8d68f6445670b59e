//! A plain-Rust description of one utility statement: what `describe` extracts from the parse
//! tree, and what the classifier and rules work on. Nothing here touches Postgres.

/// Table-level lock modes, in Postgres' numbering (lockdefs.h).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum LockMode {
    AccessShare = 1,
    RowShare = 2,
    RowExclusive = 3,
    ShareUpdateExclusive = 4,
    Share = 5,
    ShareRowExclusive = 6,
    Exclusive = 7,
    AccessExclusive = 8,
}

impl LockMode {
    pub fn from_pg(mode: i32) -> Option<LockMode> {
        use LockMode::*;
        Some(match mode {
            1 => AccessShare,
            2 => RowShare,
            3 => RowExclusive,
            4 => ShareUpdateExclusive,
            5 => Share,
            6 => ShareRowExclusive,
            7 => Exclusive,
            8 => AccessExclusive,
            _ => return None,
        })
    }

    /// Postgres' LOCKMODE number (lockdefs.h).
    pub fn to_pg(self) -> i32 {
        (1..=8)
            .find(|m| LockMode::from_pg(*m) == Some(self))
            .unwrap_or(8)
    }

    /// The name pg_locks uses.
    pub fn name(self) -> &'static str {
        use LockMode::*;
        match self {
            AccessShare => "AccessShareLock",
            RowShare => "RowShareLock",
            RowExclusive => "RowExclusiveLock",
            ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            Share => "ShareLock",
            ShareRowExclusive => "ShareRowExclusiveLock",
            Exclusive => "ExclusiveLock",
            AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// What ordinary application traffic this lock (and a request waiting for it) blocks.
    pub fn blocks(self) -> &'static str {
        use LockMode::*;
        match self {
            AccessShare | RowShare | RowExclusive | ShareUpdateExclusive => "no reads or writes",
            Share | ShareRowExclusive => "writes (INSERT, UPDATE, DELETE)",
            Exclusive => "writes and SELECT ... FOR UPDATE/SHARE",
            AccessExclusive => "all reads and writes",
        }
    }

    /// pg_locks' name for the mode -> the mode.
    pub fn from_name(name: &str) -> Option<LockMode> {
        (1..=8)
            .filter_map(LockMode::from_pg)
            .find(|m| m.name() == name)
    }

    /// The lock manager's conflict table (lock.c, LockConflicts).
    pub fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::*;
        let conflicts = |m: LockMode| -> &'static [LockMode] {
            match m {
                AccessShare => &[AccessExclusive],
                RowShare => &[Exclusive, AccessExclusive],
                RowExclusive => &[Share, ShareRowExclusive, Exclusive, AccessExclusive],
                ShareUpdateExclusive => &[
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
                Share => &[
                    RowExclusive,
                    ShareUpdateExclusive,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
                ShareRowExclusive => &[
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
                Exclusive => &[
                    RowShare,
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
                AccessExclusive => &[
                    AccessShare,
                    RowShare,
                    RowExclusive,
                    ShareUpdateExclusive,
                    Share,
                    ShareRowExclusive,
                    Exclusive,
                    AccessExclusive,
                ],
            }
        };
        conflicts(self).contains(&other)
    }

    /// Does this mode conflict with the locks that SELECT (AccessShare) or INSERT/UPDATE/DELETE
    /// (RowExclusive) take? Only then does waiting for it make application queries queue.
    pub fn blocks_reads_or_writes(self) -> bool {
        self >= LockMode::Share
    }
}

/// A relation named in a statement, resolved without taking a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The OID, when the relation exists.
    pub oid: Option<u32>,
    /// The name as written in the statement (used in messages when it does not exist).
    pub written: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReindexKind {
    Index,
    Table,
    Schema,
    Database,
    System,
}

impl ReindexKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ReindexKind::Index => "INDEX",
            ReindexKind::Table => "TABLE",
            ReindexKind::Schema => "SCHEMA",
            ReindexKind::Database => "DATABASE",
            ReindexKind::System => "SYSTEM",
        }
    }
}

/// Why an ALTER TABLE subcommand rewrites the table, if it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// ADD COLUMN whose default must be computed per row (volatile, identity, serial), or
    /// GENERATED ... STORED, or a domain with constraints.
    ColumnDefault(String),
    /// ALTER COLUMN TYPE that is not binary coercible.
    ColumnType(String),
    /// SET LOGGED / SET UNLOGGED.
    Persistence,
    /// SET ACCESS METHOD.
    AccessMethod,
    /// SET TABLESPACE (copies every file of the table).
    Tablespace,
    /// ALTER COLUMN ... SET EXPRESSION AS (...) of a stored generated column (PostgreSQL 17 and
    /// later): every row's value is computed again. The column, quoted.
    GeneratedExpression(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstraintKind {
    Check,
    ForeignKey,
    PrimaryKey,
    Unique,
    Exclusion,
    NotNull,
    Other,
}

/// A constraint added by ADD CONSTRAINT or inline in ADD COLUMN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConstraint {
    pub kind: ConstraintKind,
    /// As written (quoted), if named.
    pub name: Option<String>,
    pub not_valid: bool,
    /// ADD PRIMARY KEY / UNIQUE ... USING INDEX: no build.
    pub using_index: bool,
    /// Key columns (quoted), for PRIMARY KEY / UNIQUE / FOREIGN KEY.
    pub columns: Vec<String>,
    /// FOREIGN KEY: the referenced table, and its columns as written.
    pub referenced: Option<Target>,
    pub ref_columns: Vec<String>,
    /// CHECK: the expression's source text.
    pub expr_text: Option<String>,
    /// PRIMARY KEY / UNIQUE ... WITHOUT OVERLAPS (18): backed by a GiST index, which ADD ...
    /// USING INDEX does not take.
    pub without_overlaps: bool,
}

/// A validated foreign key of another table on a column whose type changes. Postgres rebuilds
/// it under ACCESS EXCLUSIVE on that table and validates it again when the comparison operator
/// changes (integer to bigint), which reads the whole referencing table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferencingFk {
    pub table: Target,
    /// The constraint's name, quoted as needed.
    pub name: String,
    /// pg_get_constraintdef() of the constraint.
    pub definition: String,
}

/// An index of a partitioned table that a partition being attached has no match for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingIndex {
    /// The parent's index, qualified and quoted.
    pub parent_index: String,
    /// pg_get_indexdef() of the parent's index from ` USING ` on (method, keys, INCLUDE, WHERE).
    pub using: String,
    pub unique: bool,
    /// 'p' or 'u' when the parent's index backs a PRIMARY KEY or UNIQUE constraint (the
    /// partition's match must back one too).
    pub constraint: Option<char>,
}

/// A validated foreign key of a partitioned table that a partition being attached has no
/// validated match for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingForeignKey {
    /// The parent's constraint name, quoted.
    pub name: String,
    /// pg_get_constraintdef() of it.
    pub definition: String,
    /// Its columns, quoted.
    pub columns: Vec<String>,
}

/// One ALTER TABLE subcommand, with the catalog facts `describe` worked out for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterCmd {
    /// `column` is quoted; `type_text` is the type as Postgres names it.
    AddColumn {
        column: String,
        type_text: String,
        /// The DEFAULT expression as written, GENERATED's expression, or an identity's ALWAYS /
        /// BY DEFAULT, for recipes.
        default_text: Option<String>,
        /// When its type is a domain with constraints: the domain's base type (format_type).
        domain_base: Option<String>,
        rewrite: Option<Rewrite>,
        constraints: Vec<NewConstraint>,
    },
    /// ALTER COLUMN TYPE; `rewrite` is Some when Postgres will rewrite the table;
    /// `referenced_by`: when it does, the other tables' foreign keys on the column, which Postgres
    /// rebuilds.
    AlterType {
        column: String,
        /// The new type as Postgres names it (format_type), for recipes; empty when unknown.
        new_type: String,
        rewrite: Option<Rewrite>,
        referenced_by: Vec<ReferencingFk>,
    },
    /// SET NOT NULL; `proven` when the column is already NOT NULL or a validated CHECK
    /// constraint implies it (Postgres then skips the scan).
    SetNotNull {
        column: String,
        proven: bool,
        /// 18: `ADD CONSTRAINT <this> NOT NULL column` (validated), the same statement under
        /// another name (empty when unnamed); None for SET NOT NULL.
        added_as: Option<String>,
        /// 18: a NOT VALID NOT NULL constraint already on the column (quoted): validating it is
        /// the recipe (a second one cannot be added).
        pending: Option<String>,
        /// Made NOT NULL by ADD PRIMARY KEY (with or without USING INDEX) on the column.
        primary_key: bool,
    },
    AddConstraint(NewConstraint),
    /// DROP COLUMN; `created_in_transaction` when the column was added earlier in this transaction.
    DropColumn {
        column: String,
        exists: bool,
        created_in_transaction: bool,
    },
    /// SET LOGGED/UNLOGGED, SET ACCESS METHOD, SET TABLESPACE.
    Rewrites(Rewrite),
    /// ATTACH PARTITION; `scan` is None when existing constraints prove the bound, else why the
    /// partition will be scanned; `default_partition` is the parent's default partition, which
    /// Postgres scans to check that none of its rows belong to the new partition.
    AttachPartition {
        partition: Target,
        scan: Option<String>,
        default_partition: Option<Target>,
        /// When `scan`: the partition constraint as a CHECK expression over the partition's
        /// columns (deparsed), for the recipe; None when it could not be worked out.
        bound_check: Option<String>,
    },
    DetachPartition {
        partition: Target,
        concurrent: bool,
    },
    /// ALTER CONSTRAINT `constraint` INHERIT (18) of a NO INHERIT not-null constraint on `column`:
    /// Postgres sets NOT NULL on each direct inheritance child, scanning `children` (those not
    /// proven NOT NULL) under ACCESS EXCLUSIVE.
    InheritNotNull {
        constraint: String,
        column: String,
        children: Vec<Target>,
    },
    /// What ATTACH PARTITION builds and validates on `partition` under its ACCESS EXCLUSIVE
    /// lock: an index for each index of the parent the partition has no match for
    /// (AttachPartitionEnsureIndexes), a validation for each validated foreign key of the parent
    /// it has no validated match for (CloneFkReferencing). Pushed after the AttachPartition.
    AttachWork {
        partition: Target,
        indexes: Vec<MissingIndex>,
        foreign_keys: Vec<MissingForeignKey>,
    },
    /// VALIDATE CONSTRAINT `name` (quoted as needed); `kind` is Check or ForeignKey when the
    /// constraint is one of those and not yet validated (Postgres then reads every row), else
    /// Other (nothing to scan, or a constraint that does not exist yet).
    ValidateConstraint {
        name: String,
        kind: ConstraintKind,
    },
    /// ALTER CONSTRAINT `name` ENFORCED of a NOT ENFORCED foreign key (18): Postgres validates it,
    /// reading every row under ACCESS EXCLUSIVE. `definition` is the key's definition as
    /// pg_get_constraintdef gives it, without NOT ENFORCED.
    EnforceForeignKey {
        name: String,
        definition: String,
    },
    /// Everything else (SET DEFAULT, SET STATISTICS, ...): no hazard of its own.
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropKind {
    Table,
    Index,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ddl {
    /// CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON [ONLY] table; `index_name` is quoted as
    /// needed, `only` is true for ON ONLY.
    CreateIndex {
        table: Target,
        index_name: Option<String>,
        concurrent: bool,
        only: bool,
        /// The direct partitions of a partitioned table (qualified, quoted), for the recipe.
        partitions: Vec<String>,
    },
    /// REINDEX ... ; for INDEX, `table` is the index's table and `index` the index.
    Reindex {
        kind: ReindexKind,
        table: Option<Target>,
        name: String,
        concurrent: bool,
    },
    /// ALTER TABLE (or ALTER INDEX/VIEW/... through the same node), one entry per subcommand.
    AlterTable { table: Target, cmds: Vec<AlterCmd> },
    /// DROP TABLE / DROP INDEX: one target per object; for indexes, `tables` holds each index's
    /// table and `objects` the indexes.
    Drop {
        kind: DropKind,
        objects: Vec<Target>,
        tables: Vec<Target>,
        concurrent: bool,
        /// DROP INDEX: per index, the constraint (PRIMARY KEY, UNIQUE, EXCLUDE) it belongs to,
        /// quoted as needed; Postgres refuses to drop such an index (CONCURRENTLY too).
        constraints: Vec<Option<String>>,
    },
    /// ALTER TABLE ... RENAME TO (column None) or RENAME COLUMN.
    Rename {
        table: Target,
        column: Option<String>,
        /// RENAME COLUMN: the column's type as Postgres names it (format_type), for recipes.
        column_type: String,
        new_name: String,
        column_created_in_transaction: bool,
    },
    /// CREATE TABLE ... PARTITION OF `parent`; `default_partition` is set when Postgres will scan
    /// the parent's default partition.
    CreatePartition {
        parent: Target,
        default_partition: Option<Target>,
    },
    /// VACUUM FULL or CLUSTER of the listed tables, or of every table (`all`).
    Rewrite {
        tables: Vec<Target>,
        verb: &'static str,
        all: bool,
    },
    /// REFRESH MATERIALIZED VIEW of a populated view, WITH DATA, without CONCURRENTLY: ACCESS
    /// EXCLUSIVE on `view` while its query runs again over `sources` (the tables it reads,
    /// through views too). `unique_key`: the view has a unique index REFRESH ... CONCURRENTLY can
    /// use; `columns` its columns, quoted.
    RefreshMatView {
        view: Target,
        sources: Vec<Target>,
        unique_key: bool,
        columns: Vec<String>,
    },
    /// ALTER DOMAIN `domain` (qualified, quoted) that reads every stored value of it, under a
    /// SHARE lock on each of `tables` (the tables and materialized views with a column of it).
    AlterDomain {
        domain: String,
        check: DomainCheck,
        tables: Vec<Target>,
    },
    /// ALTER TABLE|INDEX|MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE `to`: copies each
    /// of `tables`, all under ACCESS EXCLUSIVE in one transaction.
    MoveAll { tables: Vec<Target>, to: String },
    /// ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE of composite type `type_name` whose
    /// change is not binary coercible: every typed table of it (`tables`) is rewritten.
    TypedTablesRewrite {
        type_name: String,
        tables: Vec<Target>,
    },
    /// ALTER TYPE ... DROP ATTRIBUTE `column` CASCADE (`rename_to` None) or RENAME ATTRIBUTE
    /// `column` TO `rename_to` CASCADE of a composite type: the column of every typed table of it
    /// (`tables`) is dropped or renamed, past the drop_column and rename checks of ALTER TABLE.
    TypedTablesColumn {
        type_name: String,
        tables: Vec<Target>,
        column: String,
        rename_to: Option<String>,
    },
    /// Any other DDL; the guard only bounds its lock wait.
    Other,
}

/// What an ALTER DOMAIN checks against every stored value of the domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomainCheck {
    /// ADD [CONSTRAINT name] CHECK (expr) without NOT VALID; `name` quoted as written, `expr`
    /// the expression's text.
    AddCheck {
        name: Option<String>,
        expr: Option<String>,
    },
    /// SET NOT NULL, or ADD [CONSTRAINT name] NOT NULL (17+).
    NotNull,
    /// VALIDATE CONSTRAINT `name` (quoted): Postgres reads every value again, even of a
    /// constraint that is already valid.
    Validate { name: String },
}

impl Ddl {
    /// The statement reads every row of a table without a hazard of its own: VALIDATE
    /// CONSTRAINT of a CHECK or FOREIGN KEY (under SHARE UPDATE EXCLUSIVE, which blocks no
    /// reads or writes).
    pub fn validates(&self) -> bool {
        matches!(self, Ddl::AlterTable { cmds, .. } if cmds.iter().any(|c| matches!(
            c,
            AlterCmd::ValidateConstraint {
                kind: ConstraintKind::Check | ConstraintKind::ForeignKey,
                ..
            }
        )))
    }
}

/// One utility statement as the guard sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub ddl: Ddl,
    /// The command tag, e.g. "CREATE INDEX".
    pub tag: String,
    /// The strongest table lock the statement takes on an existing relation, if known.
    pub lock: Option<LockMode>,
    /// This statement's own source text (one statement of a multi-statement string).
    pub text: String,
    /// Relations the statement locks (best effort), for blocker reports and lock-hold warnings.
    pub targets: Vec<u32>,
}

impl AlterCmd {
    /// The constraints this subcommand adds (ADD CONSTRAINT, or inline in ADD COLUMN), with the
    /// new column's name and type as written when they are inline.
    pub fn added_constraints(&self) -> (&[NewConstraint], Option<(&String, &String)>) {
        match self {
            AlterCmd::AddConstraint(c) => (std::slice::from_ref(c), None),
            AlterCmd::AddColumn {
                constraints,
                column,
                type_text,
                ..
            } => (constraints, Some((column, type_text))),
            _ => (&[], None),
        }
    }
}

impl Statement {
    /// Every existing relation the rules may need facts about.
    /// Whether the statement drops or renames a table or column: only those rules ask whether
    /// the object is in use (usage tracking), so only they pay for looking it up.
    /// DROP COLUMN, RENAME COLUMN or ALTER COLUMN TYPE: what an active column change's dual-write
    /// trigger does not survive (the guard then looks for one: `catalog::column_changes`).
    pub fn changes_columns(&self) -> bool {
        match &self.ddl {
            Ddl::Rename {
                column: Some(_), ..
            } => true,
            Ddl::AlterTable { cmds, .. } => cmds
                .iter()
                .any(|c| matches!(c, AlterCmd::DropColumn { .. } | AlterCmd::AlterType { .. })),
            _ => false,
        }
    }

    pub fn drops_or_renames(&self) -> bool {
        match &self.ddl {
            Ddl::Drop {
                kind: DropKind::Table,
                ..
            }
            | Ddl::Rename { .. }
            | Ddl::TypedTablesColumn { .. } => true,
            Ddl::AlterTable { cmds, .. } => cmds
                .iter()
                .any(|c| matches!(c, AlterCmd::DropColumn { .. })),
            _ => false,
        }
    }

    /// The relations the statement itself locks with `lock` (what the guard's bounded wait
    /// takes): `relations()` without the tables a materialized view's query only reads.
    pub fn locked_relations(&self) -> Vec<u32> {
        match &self.ddl {
            Ddl::RefreshMatView { view, .. } => view.oid.into_iter().collect(),
            _ => self.relations(),
        }
    }

    pub fn relations(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let mut add = |t: &Target| {
            if let Some(oid) = t.oid {
                if !out.contains(&oid) {
                    out.push(oid);
                }
            }
        };
        match &self.ddl {
            Ddl::CreateIndex { table, .. } => add(table),
            Ddl::Reindex { table: Some(t), .. } => add(t),
            Ddl::AlterTable { table, cmds } => {
                add(table);
                for c in cmds {
                    c.added_constraints()
                        .0
                        .iter()
                        .filter_map(|k| k.referenced.as_ref())
                        .for_each(&mut add);
                    match c {
                        AlterCmd::AttachPartition {
                            partition,
                            default_partition,
                            ..
                        } => {
                            add(partition);
                            if let Some(d) = default_partition {
                                add(d);
                            }
                        }
                        AlterCmd::DetachPartition { partition, .. } => add(partition),
                        AlterCmd::InheritNotNull { children, .. } => {
                            children.iter().for_each(&mut add)
                        }
                        AlterCmd::AlterType { referenced_by, .. } => {
                            referenced_by.iter().for_each(|fk| add(&fk.table))
                        }
                        _ => {}
                    }
                }
            }
            Ddl::Drop {
                objects, tables, ..
            } => objects.iter().chain(tables).for_each(add),
            Ddl::Rename { table, .. } => add(table),
            Ddl::CreatePartition {
                parent,
                default_partition,
            } => {
                add(parent);
                if let Some(d) = default_partition {
                    add(d);
                }
            }
            Ddl::Rewrite { tables, .. }
            | Ddl::AlterDomain { tables, .. }
            | Ddl::MoveAll { tables, .. }
            | Ddl::TypedTablesRewrite { tables, .. }
            | Ddl::TypedTablesColumn { tables, .. } => tables.iter().for_each(add),
            Ddl::RefreshMatView { view, sources, .. } => {
                add(view);
                sources.iter().for_each(add);
            }
            Ddl::Reindex { table: None, .. } | Ddl::Other => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::LockMode::*;

    #[test]
    fn conflict_table_is_symmetric_and_matches_postgres() {
        for a in 1..=8 {
            for b in 1..=8 {
                let (a, b) = (
                    super::LockMode::from_pg(a).unwrap(),
                    super::LockMode::from_pg(b).unwrap(),
                );
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a:?} {b:?}");
            }
        }
        assert!(AccessExclusive.conflicts_with(AccessShare));
        assert!(!Share.conflicts_with(AccessShare));
        assert!(Share.conflicts_with(RowExclusive));
        assert!(!ShareUpdateExclusive.conflicts_with(RowExclusive));
        assert_eq!(
            super::LockMode::from_name("ShareRowExclusiveLock"),
            Some(ShareRowExclusive)
        );
    }
}
