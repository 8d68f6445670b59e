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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ddl {
    /// CREATE [UNIQUE] INDEX [CONCURRENTLY] [name] ON [ONLY] table; `index_name` is quoted as
    /// needed, `only` is true for ON ONLY.
    CreateIndex {
        table: Target,
        index_name: Option<String>,
        concurrent: bool,
        only: bool,
    },
    /// REINDEX ... ; for INDEX, `table` is the index's table and `index` the index.
    Reindex {
        kind: ReindexKind,
        table: Option<Target>,
        name: String,
        concurrent: bool,
    },
    /// Any other DDL; the guard only bounds its lock wait.
    Other,
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
}

impl Statement {
    /// The table whose size and age decide the scan/build hazards, if any.
    pub fn table(&self) -> Option<&Target> {
        match &self.ddl {
            Ddl::CreateIndex { table, .. } => Some(table),
            Ddl::Reindex { table, .. } => table.as_ref(),
            Ddl::Other => None,
        }
    }
}
