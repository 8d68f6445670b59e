#!/usr/bin/python3
"""Generates the DDL corpus of pg_test/robustness.sh (issue 8: the guard never crashes a backend).

    gen_corpus.py OUTDIR

writes
    OUTDIR/fixtures.sql   the objects the corpus works on (run once, in a template database)
    OUTDIR/session.sql    per-session objects (temporary tables), run at the start of each pass
    OUTDIR/corpus.txt     the statements, one record each: "<kind>\t<statement with \\n escaped>";
                          kind "tx" runs inside BEGIN ... ROLLBACK, "notx" (CONCURRENTLY, VACUUM,
                          statements that cannot run in a transaction block) runs in autocommit,
                          after every "tx" statement of the pass

Deterministic: the same corpus every run (the random combinations use a fixed seed).
The statements are meant to be odd, not valid: every ALTER TABLE subcommand form against every
kind of relation (plain, quoted and unicode names, schema-qualified, a name that looks like SQL
injection, inheritance, partitions, typed, unlogged, temporary, foreign, views, materialized
views, sequences, missing objects), every CREATE / DROP / REINDEX / CLUSTER / VACUUM form, and
other utility statements. Most fail with an ordinary ERROR; none may crash.
"""
import os
import random
import sys


def q(ident):
    """Quote an identifier always (so odd names stay odd)."""
    return '"' + ident.replace('"', '""') + '"'


class Rel:
    """A relation of the fixtures with five columns: id int, a int, b text, c varchar(20),
    d numeric(10,2) (the names vary, quoted as needed)."""

    def __init__(self, key, name, schema=None, cols=None, kind="table"):
        self.key = key
        self.name = name
        self.schema = schema
        self.kind = kind
        c = cols or ["id", "a", "b", "c", "d"]
        self.id, self.a, self.b, self.c, self.d = (q(x) for x in c)

    @property
    def qn(self):
        return (q(self.schema) + "." if self.schema else "") + q(self.name)

    def idx(self, suffix):
        """An index name in the relation's schema."""
        return (q(self.schema) + "." if self.schema else "") + q(self.name[:40] + "_" + suffix)


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
ODD_SCHEMA = "Odd Schema"
TABLES = [
    Rel("plain", "t"),
    Rel("weird", "Weird Table", ODD_SCHEMA, ["Id", "Odd col", "b b", 'c"q', "D"]),
    Rel("unicode", "tåble_ü", "sch", ["ïd", "naïve", "日本語", "ÄÖÜ", "emoji_🙂"]),
    Rel("inject", "x; DROP TABLE t; --", None, ["id", "a); DROP TABLE t; --", "b", "c", "d"]),
    Rel("upper", "UPPER", "sch", ["ID", "A", "B", "C", "D"]),
    Rel("inh_parent", "inh_parent"),
    Rel("inh_child", "inh_child"),
    Rel("part", "pt"),
    Rel("part_leaf", "pt_1"),
    Rel("unlogged", "unl"),
    Rel("typed", "typed_t"),
    Rel("temp", "tmp1", None, None, "temp"),
    Rel("foreign", "ft", None, None, "foreign"),
    Rel("view", "v1", None, None, "view"),
    Rel("matview", "mv1", None, None, "matview"),
    Rel("sequence", "seq1", None, None, "sequence"),
    Rel("missing", "no_such_table"),
]
BY_KEY = {r.key: r for r in TABLES}

COLS_DEF = "{id} int NOT NULL, {a} int, {b} text, {c} varchar(20), {d} numeric(10,2)"


def cols_def(r):
    return COLS_DEF.format(id=r.id, a=r.a, b=r.b, c=r.c, d=r.d)


def fixtures():
    s = []
    add = s.append
    add("SET client_min_messages = warning;")
    add("CREATE SCHEMA sch;")
    add(f"CREATE SCHEMA {q(ODD_SCHEMA)};")
    add("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');")
    add("CREATE DOMAIN posint AS int CHECK (VALUE > 0);")
    add("CREATE DOMAIN plainint AS int;")
    add("CREATE DOMAIN nn_text AS text NOT NULL;")
    add("CREATE TYPE comp AS (id int, a int, b text, c varchar(20), d numeric(10,2));")
    add("CREATE SEQUENCE seq1;")
    add("CREATE SEQUENCE sch.seq2 START 100 INCREMENT 5;")
    add("CREATE TABLE ref (id int PRIMARY KEY);")
    add("INSERT INTO ref SELECT g FROM generate_series(0, 100) g;")
    for r in TABLES:
        if r.key in ("plain", "weird", "unicode", "inject", "upper", "inh_parent", "unlogged"):
            unl = "UNLOGGED " if r.key == "unlogged" else ""
            add(f"CREATE {unl}TABLE {r.qn} ({cols_def(r)}, PRIMARY KEY ({r.id}));")
    add("CREATE TABLE inh_child (extra int) INHERITS (inh_parent);")
    add("ALTER TABLE inh_child ADD PRIMARY KEY (id);")
    add("CREATE TABLE pt (id int NOT NULL, a int, b text, c varchar(20), d numeric(10,2), PRIMARY KEY (id)) "
        "PARTITION BY RANGE (id);")
    add("CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (500);")
    add("CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (500) TO (1000);")
    add("CREATE TABLE pt_default PARTITION OF pt DEFAULT;")
    # candidates for ATTACH PARTITION: one proven by a CHECK, one not
    add("CREATE TABLE pt_cand (id int NOT NULL, a int, b text, c varchar(20), d numeric(10,2));")
    add("CREATE TABLE pt_cand_proven (id int NOT NULL, a int, b text, c varchar(20), d numeric(10,2), "
        "CONSTRAINT in_range CHECK (id >= 2000 AND id < 3000));")
    add("CREATE TABLE pl (id int NOT NULL, k text NOT NULL, a int) PARTITION BY LIST (k);")
    add("CREATE TABLE pl_a PARTITION OF pl FOR VALUES IN ('a');")
    add("CREATE TABLE ph (id int NOT NULL, a int) PARTITION BY HASH (id);")
    add("CREATE TABLE ph_0 PARTITION OF ph FOR VALUES WITH (MODULUS 2, REMAINDER 0);")
    add("CREATE TABLE ph_1 PARTITION OF ph FOR VALUES WITH (MODULUS 2, REMAINDER 1);")
    add("CREATE TABLE typed_t OF comp (PRIMARY KEY (id));")
    add("CREATE TABLE typed_t2 OF comp;")
    for r in TABLES:
        if r.key in ("plain", "weird", "unicode", "inject", "upper", "inh_parent", "inh_child",
                     "part", "unlogged", "typed"):
            add(f"INSERT INTO {r.qn} ({r.id}, {r.a}, {r.b}, {r.c}, {r.d}) "
                f"SELECT g, g % 10, 'b' || g, 'c' || g, g / 3.0 FROM generate_series(1, 300) g;")
            add(f"CREATE INDEX {q(r.name[:40] + '_a_idx')} ON {r.qn} ({r.a});")
            add(f"ALTER TABLE {r.qn} ADD CONSTRAINT {q(r.name[:40] + '_chk')} CHECK ({r.a} >= 0) NOT VALID;")
            add(f"ALTER TABLE {r.qn} ADD CONSTRAINT {q(r.name[:40] + '_nn')} CHECK ({r.b} IS NOT NULL);")
            add(f"ALTER TABLE {r.qn} ADD CONSTRAINT {q(r.name[:40] + '_uq')} UNIQUE ({r.c}{', ' + r.id if r.key == 'part' else ''});")
    add("INSERT INTO pt_cand SELECT g, 1, 'x', 'y', 1 FROM generate_series(1000, 1100) g;")
    add("INSERT INTO pt_cand_proven SELECT g, 1, 'x', 'y', 1 FROM generate_series(2000, 2100) g;")
    add("CREATE UNIQUE INDEX t_id_uniq ON t (id);")
    add("CREATE INDEX t_b_brin ON t USING brin (id);")
    add("CREATE INDEX t_b_trgm ON t USING hash (b);")
    add("CREATE INDEX pt_a_only ON ONLY pt (a);")
    add("CREATE TABLE fk_child (id int PRIMARY KEY, ref_id int);")
    add("INSERT INTO fk_child SELECT g, g FROM generate_series(1, 50) g;")
    add("CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, "
        "g int GENERATED ALWAYS AS (a * 2) STORED);")
    add("INSERT INTO ident (a) SELECT g FROM generate_series(1, 100) g;")
    add("CREATE TABLE enum_t (id int PRIMARY KEY, m mood, p posint);")
    add("INSERT INTO enum_t VALUES (1, 'ok', 1), (2, 'sad', 2);")
    add("CREATE VIEW v1 AS SELECT id, a, b, c, d FROM t;")
    add("CREATE MATERIALIZED VIEW mv1 AS SELECT id, a, b, c, d FROM t;")
    add("CREATE UNIQUE INDEX mv1_id ON mv1 (id);")
    add("CREATE FOREIGN DATA WRAPPER dummy;")
    add("CREATE SERVER srv FOREIGN DATA WRAPPER dummy;")
    add("CREATE FOREIGN TABLE ft (id int NOT NULL, a int, b text, c varchar(20), d numeric(10,2)) SERVER srv;")
    add("CREATE FUNCTION trg_fn() RETURNS trigger LANGUAGE plpgsql AS $f$BEGIN RETURN NEW; END$f$;")
    add("CREATE TRIGGER t_trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION trg_fn();")
    add("CREATE RULE t_rule AS ON INSERT TO v1 DO INSTEAD NOTHING;")
    add("CREATE POLICY t_pol ON t USING (true);")
    add("CREATE STATISTICS t_stats (dependencies) ON a, id FROM t;")
    add("ANALYZE;")
    return "\n".join(x for x in s if x) + "\n"


SESSION = (
    "CREATE TEMP TABLE tmp1 (id int NOT NULL, a int, b text, c varchar(20), d numeric(10,2), PRIMARY KEY (id));\n"
    "INSERT INTO tmp1 SELECT g, g % 10, 'b', 'c', 1 FROM generate_series(1, 100) g;\n"
    "CREATE INDEX tmp1_a_idx ON tmp1 (a);\n"
)

# ---------------------------------------------------------------------------------------------
# ALTER TABLE subcommands: every form of alter_table_cmd in PostgreSQL 15's grammar
# ---------------------------------------------------------------------------------------------
SUBCMDS = [
    # ADD COLUMN
    "ADD COLUMN new_col int", "ADD new_col2 text", "ADD COLUMN IF NOT EXISTS {a} int",
    "ADD COLUMN nc int DEFAULT 0", "ADD COLUMN nc int DEFAULT 42 NOT NULL",
    "ADD COLUMN nc timestamptz DEFAULT now()", "ADD COLUMN nc timestamptz DEFAULT clock_timestamp()",
    "ADD COLUMN nc float8 DEFAULT random()", "ADD COLUMN nc uuid DEFAULT gen_random_uuid()",
    "ADD COLUMN nc serial", "ADD COLUMN nc bigserial", "ADD COLUMN nc int GENERATED ALWAYS AS IDENTITY",
    "ADD COLUMN nc int GENERATED BY DEFAULT AS IDENTITY (START 10)",
    "ADD COLUMN nc int GENERATED ALWAYS AS ({a} * 2) STORED", "ADD COLUMN nc posint",
    "ADD COLUMN nc plainint", "ADD COLUMN nc nn_text", "ADD COLUMN nc mood DEFAULT 'ok'",
    "ADD COLUMN nc int REFERENCES ref (id)", "ADD COLUMN nc int CHECK (nc > 0)",
    "ADD COLUMN nc int UNIQUE", "ADD COLUMN nc int PRIMARY KEY", "ADD COLUMN nc text COLLATE \"C\"",
    "ADD COLUMN nc text COMPRESSION pglz", "ADD COLUMN nc int[] DEFAULT '{{}}'",
    "ADD COLUMN nc jsonb DEFAULT '{{}}'::jsonb", "ADD COLUMN nc comp", "ADD COLUMN \"ü \"\"odd\"\" col\" int",
    "ADD COLUMN nc int DEFAULT nextval('seq1')",
    # ALTER COLUMN
    "ALTER COLUMN {a} SET DEFAULT 1", "ALTER {b} SET DEFAULT 'x'", "ALTER COLUMN {a} DROP DEFAULT",
    "ALTER COLUMN {a} SET NOT NULL", "ALTER COLUMN {b} SET NOT NULL", "ALTER COLUMN {a} DROP NOT NULL",
    "ALTER COLUMN {a} DROP EXPRESSION", "ALTER COLUMN {a} DROP EXPRESSION IF EXISTS",
    "ALTER COLUMN {a} SET STATISTICS 500", "ALTER COLUMN 2 SET STATISTICS 100",
    "ALTER COLUMN {a} SET (n_distinct = 100)", "ALTER COLUMN {a} RESET (n_distinct)",
    "ALTER COLUMN {b} SET STORAGE EXTERNAL", "ALTER COLUMN {b} SET STORAGE MAIN",
    "ALTER COLUMN {b} SET COMPRESSION lz4", "ALTER COLUMN {b} SET COMPRESSION default",
    "ALTER COLUMN {id} ADD GENERATED ALWAYS AS IDENTITY", "ALTER COLUMN {id} ADD GENERATED BY DEFAULT AS IDENTITY (START WITH 1000)",
    "ALTER COLUMN {id} SET GENERATED BY DEFAULT", "ALTER COLUMN {id} RESTART WITH 5",
    "ALTER COLUMN {id} SET INCREMENT BY 2", "ALTER COLUMN {id} DROP IDENTITY",
    "ALTER COLUMN {id} DROP IDENTITY IF EXISTS",
    "ALTER COLUMN {id} TYPE bigint", "ALTER COLUMN {id} SET DATA TYPE int",
    "ALTER COLUMN {a} TYPE int8 USING {a}::int8", "ALTER COLUMN {a} TYPE posint",
    "ALTER COLUMN {a} TYPE plainint", "ALTER COLUMN {a} TYPE text", "ALTER COLUMN {a} TYPE mood USING 'ok'",
    "ALTER COLUMN {b} TYPE varchar(10)", "ALTER COLUMN {b} TYPE text COLLATE \"C\"",
    "ALTER COLUMN {c} TYPE varchar(40)", "ALTER COLUMN {c} TYPE varchar(5)", "ALTER COLUMN {c} TYPE text",
    "ALTER COLUMN {c} TYPE varchar", "ALTER COLUMN {d} TYPE numeric(12,2)", "ALTER COLUMN {d} TYPE numeric(12,4)",
    "ALTER COLUMN {d} TYPE numeric", "ALTER COLUMN {d} TYPE float8", "ALTER COLUMN {d} TYPE numeric(4,2)",
    "ALTER COLUMN {b} TYPE jsonb USING to_jsonb({b})", "ALTER COLUMN {a} TYPE int USING {a} + 1",
    "ALTER COLUMN {a} OPTIONS (ADD foo 'bar')",
    # 17 and 18 syntax (a syntax error on older majors): SET EXPRESSION, virtual generated
    # columns, NOT NULL constraints (NOT VALID), NOT ENFORCED, WITHOUT OVERLAPS, SET ACCESS METHOD DEFAULT
    "ALTER COLUMN {a} SET EXPRESSION AS ({id} * 2)", "ALTER COLUMN {id} SET EXPRESSION AS (1)",
    "ADD COLUMN gv int GENERATED ALWAYS AS ({id} + 1)", "ADD COLUMN gv2 int GENERATED ALWAYS AS ({id} + 1) VIRTUAL",
    "ADD COLUMN gs int GENERATED ALWAYS AS ({id} + 1) STORED",
    "ADD CONSTRAINT c_nn NOT NULL {a}", "ADD CONSTRAINT c_nn2 NOT NULL {b} NOT VALID", "ADD NOT NULL {a}",
    "VALIDATE CONSTRAINT c_nn2", "ADD CONSTRAINT c_ne CHECK ({a} > 0) NOT ENFORCED",
    "ADD CONSTRAINT c_fk_ne FOREIGN KEY ({a}) REFERENCES ref (id) NOT ENFORCED",
    "ALTER CONSTRAINT c_fk_ne ENFORCED", "ALTER CONSTRAINT c_fk_ne NOT ENFORCED", "ALTER CONSTRAINT c_ne ENFORCED",
    "ALTER CONSTRAINT no_such ENFORCED", "ALTER CONSTRAINT c_fk DEFERRABLE",
    "ADD CONSTRAINT c_wo UNIQUE ({id}, {b} WITHOUT OVERLAPS)", "SET ACCESS METHOD DEFAULT",
    # DROP COLUMN
    "DROP COLUMN {d}", "DROP {d}", "DROP COLUMN IF EXISTS nope", "DROP COLUMN {id} CASCADE",
    "DROP COLUMN {c} RESTRICT", "DROP COLUMN no_such_col",
    # constraints
    "ADD CONSTRAINT c_chk CHECK ({a} > -1)", "ADD CHECK ({a} > -1) NOT VALID",
    "ADD CONSTRAINT c_chk2 CHECK ({b} IS NOT NULL) NOT VALID",
    "ADD CONSTRAINT c_fk FOREIGN KEY ({a}) REFERENCES ref (id)",
    "ADD CONSTRAINT c_fk FOREIGN KEY ({a}) REFERENCES ref (id) NOT VALID",
    "ADD FOREIGN KEY ({a}) REFERENCES ref ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED",
    "ADD PRIMARY KEY ({id})", "ADD CONSTRAINT c_uq UNIQUE ({a}, {id})",
    "ADD UNIQUE NULLS NOT DISTINCT ({a})", "ADD CONSTRAINT c_uq2 UNIQUE ({id}) INCLUDE ({a})",
    "ADD CONSTRAINT c_ex EXCLUDE USING btree ({id} WITH =)",
    "ADD CONSTRAINT c_pk2 PRIMARY KEY USING INDEX t_id_uniq",
    "ADD CONSTRAINT c_uq3 UNIQUE USING INDEX t_id_uniq",
    "ALTER CONSTRAINT c_fk DEFERRABLE", "ALTER CONSTRAINT {chk} NOT DEFERRABLE",
    "VALIDATE CONSTRAINT {chk}", "VALIDATE CONSTRAINT no_such",
    "DROP CONSTRAINT {chk}", "DROP CONSTRAINT IF EXISTS nope", "DROP CONSTRAINT {uq} CASCADE",
    "RENAME CONSTRAINT {chk} TO renamed_chk",
    # triggers, rules, RLS
    "DISABLE TRIGGER t_trg", "DISABLE TRIGGER ALL", "DISABLE TRIGGER USER", "ENABLE TRIGGER t_trg",
    "ENABLE ALWAYS TRIGGER t_trg", "ENABLE REPLICA TRIGGER ALL", "ENABLE TRIGGER USER",
    "DISABLE RULE t_rule", "ENABLE RULE t_rule", "ENABLE REPLICA RULE t_rule", "ENABLE ALWAYS RULE t_rule",
    "DISABLE ROW LEVEL SECURITY", "ENABLE ROW LEVEL SECURITY", "FORCE ROW LEVEL SECURITY",
    "NO FORCE ROW LEVEL SECURITY",
    # storage
    "CLUSTER ON {aidx}", "SET WITHOUT CLUSTER", "SET WITHOUT OIDS", "SET ACCESS METHOD heap",
    "SET TABLESPACE pg_default", "SET TABLESPACE no_such_ts", "SET LOGGED", "SET UNLOGGED",
    "SET (fillfactor = 70)", "SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)",
    "SET (parallel_workers = 2)", "RESET (fillfactor)", "SET (no_such_option = 1)",
    "SET (fillfactor = 5)",
    # inheritance, types, ownership
    "INHERIT inh_parent", "NO INHERIT inh_parent", "OF comp", "NOT OF", "OWNER TO CURRENT_USER",
    "OWNER TO no_such_role", "REPLICA IDENTITY FULL", "REPLICA IDENTITY DEFAULT", "REPLICA IDENTITY NOTHING",
    "REPLICA IDENTITY USING INDEX {uqidx}", "OPTIONS (ADD foo 'bar')",
]

# whole-statement forms of ALTER TABLE (not combinable with other subcommands)
ALTER_STMTS = [
    "ALTER TABLE {t} RENAME TO {t_new}", "ALTER TABLE IF EXISTS {t} RENAME COLUMN {a} TO a_renamed",
    "ALTER TABLE {t} RENAME {b} TO \"b renamed\"", "ALTER TABLE {t} SET SCHEMA public",
    "ALTER TABLE {t} SET SCHEMA sch", "ALTER TABLE {t} ATTACH PARTITION pt_cand FOR VALUES FROM (1000) TO (1200)",
    "ALTER TABLE {t} DETACH PARTITION pt_1", "ALTER TABLE {t} DETACH PARTITION pt_1 FINALIZE",
    "ALTER TABLE ONLY {t} ADD COLUMN only_col int", "ALTER TABLE {t} * ADD COLUMN star_col int",
    "ALTER TABLE ONLY {t} ADD CONSTRAINT only_chk CHECK ({a} > 0) NOT VALID",
    "ALTER TABLE IF EXISTS {t} ALTER COLUMN {id} TYPE bigint",
    "ALTER TABLE {t} RENAME CONSTRAINT {chk} TO \"x; --\"",
]


def fmt_rel(tmpl, r):
    return tmpl.format(
        t=r.qn, t_new=q(r.name + "_new"), id=r.id, a=r.a, b=r.b, c=r.c, d=r.d,
        chk=q(r.name[:40] + "_chk"), uq=q(r.name[:40] + "_uq"),
        aidx=q(r.name[:40] + "_a_idx"), uqidx=q(r.name[:40] + "_uq"))


def alter_keyword(r):
    return {"view": "ALTER VIEW", "matview": "ALTER MATERIALIZED VIEW", "foreign": "ALTER FOREIGN TABLE",
            "sequence": "ALTER SEQUENCE"}.get(r.kind, "ALTER TABLE")


def corpus():
    out = []  # (kind, sql)

    def tx(sql):
        out.append(("tx", sql))

    def notx(sql):
        out.append(("notx", sql))

    # 1. every ALTER TABLE subcommand against every relation, as ALTER TABLE and (for views,
    #    matviews, foreign tables, sequences) also with their own ALTER keyword
    for r in TABLES:
        for sc in SUBCMDS:
            s = fmt_rel(sc, r)
            tx(f"ALTER TABLE {r.qn} {s}")
            if r.kind != "table" and r.kind != "temp":
                tx(f"{alter_keyword(r)} {r.qn} {s}")
        for st in ALTER_STMTS:
            tx(fmt_rel(st, r))
        tx(f"ALTER TABLE IF EXISTS {r.qn} ADD COLUMN ie int")
    # 2. several subcommands in one statement (random combinations, fixed seed)
    rnd = random.Random(8)
    for r in TABLES:
        for _ in range(25):
            n = rnd.randint(2, 5)
            picks = rnd.sample(SUBCMDS, n)
            # columns added twice in one statement are an error; keep names distinct
            parts = []
            for i, sc in enumerate(picks):
                parts.append(fmt_rel(sc, r).replace(" nc ", f" nc{i} ").replace("(nc ", f"(nc{i} "))
            tx(f"ALTER TABLE {r.qn} " + ", ".join(parts))
    # 3. CREATE INDEX in every form, on every relation
    idx_forms = [
        "CREATE INDEX {i} ON {t} ({a})", "CREATE UNIQUE INDEX {i} ON {t} ({id})",
        "CREATE INDEX IF NOT EXISTS {i} ON {t} ({a})", "CREATE INDEX ON {t} ({a}, {b})",
        "CREATE INDEX {i} ON {t} (lower({b}))", "CREATE INDEX {i} ON {t} (({a} + 1))",
        "CREATE INDEX {i} ON {t} ({a}) WHERE {a} > 5", "CREATE INDEX {i} ON {t} ({a}) INCLUDE ({b})",
        "CREATE INDEX {i} ON {t} USING hash ({b})", "CREATE INDEX {i} ON {t} USING brin ({id})",
        "CREATE INDEX {i} ON {t} USING gin (to_tsvector('simple', {b}))",
        "CREATE INDEX {i} ON {t} USING gist (int4range({a}, {a}))",
        "CREATE INDEX {i} ON {t} ({b} text_pattern_ops DESC NULLS FIRST)",
        "CREATE INDEX {i} ON {t} ({b} COLLATE \"C\")", "CREATE INDEX {i} ON {t} ({a}) WITH (fillfactor = 50)",
        "CREATE INDEX {i} ON {t} ({a}) TABLESPACE pg_default", "CREATE UNIQUE INDEX {i} ON {t} ({a}) NULLS NOT DISTINCT",
        "CREATE INDEX {i} ON ONLY {t} ({a})", "CREATE INDEX {i} ON {t} (no_such_col)",
        "CREATE INDEX {i} ON {t} USING no_such_am ({a})",
    ]
    for r in TABLES:
        for f in idx_forms:
            s = f.format(i=q(r.name[:30] + "_nidx"), t=r.qn, id=r.id, a=r.a, b=r.b)
            tx(s)
            if "ON ONLY" not in s and "IF NOT EXISTS" not in s:
                notx(s.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
                     .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1)
                     .replace(q(r.name[:30] + "_nidx"), q(r.name[:30] + "_cidx")))
        tx(f"CREATE INDEX CONCURRENTLY {q(r.name[:30] + '_c_in_tx')} ON {r.qn} ({r.a})")  # error in a block
    # 4. DROP INDEX, REINDEX, CLUSTER, VACUUM, ANALYZE, TRUNCATE, LOCK, REFRESH for every relation
    for r in TABLES:
        ai = r.idx("a_idx")
        tx(f"DROP INDEX {ai}")
        tx(f"DROP INDEX IF EXISTS {ai}, {r.idx('nope')} CASCADE")
        tx(f"DROP INDEX {ai} RESTRICT")
        tx(f"DROP INDEX CONCURRENTLY {ai}")  # error in a block
        tx(f"REINDEX INDEX {ai}")
        tx(f"REINDEX TABLE {r.qn}")
        tx(f"REINDEX (VERBOSE) TABLE {r.qn}")
        tx(f"REINDEX (TABLESPACE pg_default) INDEX {ai}")
        tx(f"REINDEX TABLE CONCURRENTLY {r.qn}")
        tx(f"CLUSTER {r.qn} USING {q(r.name[:40] + '_a_idx')}")
        tx(f"CLUSTER {r.qn}")
        tx(f"CLUSTER (VERBOSE) {r.qn}")
        tx(f"VACUUM {r.qn}")
        tx(f"ANALYZE {r.qn}")
        tx(f"ANALYZE {r.qn} ({r.a}, {r.b})")
        tx(f"TRUNCATE {r.qn}")
        tx(f"TRUNCATE ONLY {r.qn} RESTART IDENTITY CASCADE")
        tx(f"LOCK TABLE {r.qn} IN ACCESS EXCLUSIVE MODE")
        tx(f"LOCK {r.qn} IN SHARE MODE NOWAIT")
        tx(f"REFRESH MATERIALIZED VIEW {r.qn}")
        tx(f"COMMENT ON TABLE {r.qn} IS 'a ''comment'' ü'")
        tx(f"COMMENT ON COLUMN {r.qn}.{r.a} IS NULL")
        tx(f"GRANT SELECT ON {r.qn} TO PUBLIC")
        tx(f"REVOKE ALL ON {r.qn} FROM PUBLIC")
        tx(f"SECURITY LABEL ON TABLE {r.qn} IS 'x'")
        tx(f"CREATE TRIGGER trg2 AFTER INSERT ON {r.qn} FOR EACH STATEMENT EXECUTE FUNCTION trg_fn()")
        tx(f"CREATE POLICY pol2 ON {r.qn} FOR SELECT USING ({r.a} > 0)")
        tx(f"CREATE STATISTICS {q(r.name[:30] + '_st')} ON {r.a}, {r.b} FROM {r.qn}")
        tx(f"CREATE RULE r2 AS ON UPDATE TO {r.qn} DO ALSO NOTHING")
        tx(f"CREATE VIEW {q(r.name[:30] + '_v')} AS SELECT * FROM {r.qn}")
        tx(f"CREATE MATERIALIZED VIEW {q(r.name[:30] + '_mv')} AS SELECT * FROM {r.qn} WITH NO DATA")
        tx(f"CREATE TABLE {q(r.name[:30] + '_like')} (LIKE {r.qn} INCLUDING ALL)")
        tx(f"CREATE TABLE {q(r.name[:30] + '_ctas')} AS SELECT * FROM {r.qn}")
        tx(f"SELECT * INTO {q(r.name[:30] + '_into')} FROM {r.qn}")
        tx(f"CREATE TABLE {q(r.name[:30] + '_inh')} () INHERITS ({r.qn})")
        tx(f"CREATE TABLE {q(r.name[:30] + '_part')} PARTITION OF {r.qn} FOR VALUES FROM (5000) TO (6000)")
        tx(f"CREATE TABLE {q(r.name[:30] + '_def')} PARTITION OF {r.qn} DEFAULT")
        tx(f"DROP TABLE {r.qn}")
        tx(f"DROP TABLE IF EXISTS {r.qn}, no_such_table CASCADE")
        tx(f"DROP TABLE {r.qn} RESTRICT")
        tx(f"DROP VIEW {r.qn}")
        tx(f"DROP MATERIALIZED VIEW IF EXISTS {r.qn}")
        tx(f"DROP FOREIGN TABLE {r.qn}")
        tx(f"DROP SEQUENCE {r.qn}")
        tx(f"COPY {r.qn} ({r.a}) TO STDOUT")
        tx(f"EXPLAIN (COSTS off) UPDATE {r.qn} SET {r.a} = {r.a}")
        tx(f"UPDATE {r.qn} SET {r.a} = {r.a} + 1 WHERE {r.id} < 10")
        tx(f"DELETE FROM {r.qn} WHERE {r.id} = -1")
        tx(f"INSERT INTO {r.qn} ({r.id}, {r.a}) VALUES (100000, 1)")
        # the same, with the large_dml guard on
        tx(f"SET LOCAL safe_ddl.max_dml_rows = 10; UPDATE {r.qn} SET {r.a} = {r.a}")
        tx(f"SET LOCAL safe_ddl.max_dml_rows = 10; DELETE FROM {r.qn}")
        tx(f"PREPARE rob_p AS UPDATE {r.qn} SET {r.a} = $1 WHERE {r.id} > $2; "
           f"SET LOCAL safe_ddl.max_dml_rows = 10; EXECUTE rob_p(1, 0); EXECUTE rob_p(2, 299); DEALLOCATE rob_p")
        tx(f"PREPARE rob_p2 (int) AS DELETE FROM {r.qn} WHERE {r.a} = $1; EXECUTE rob_p2(3); DEALLOCATE rob_p2")
        # allowed hazards
        tx(f"SET LOCAL safe_ddl.allow = 'all'; ALTER TABLE {r.qn} ALTER COLUMN {r.id} TYPE bigint")
        tx(f"SET LOCAL safe_ddl.allow = 'table_rewrite, index_build'; ALTER TABLE {r.qn} SET UNLOGGED")
        tx(f"SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE {r.qn} CASCADE")
        tx(f"SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE {r.qn} DROP COLUMN {r.d}")
        tx(f"SET LOCAL safe_ddl.auto_concurrently = on; CREATE INDEX {q(r.name[:30] + '_auto')} ON {r.qn} ({r.a})")
        # the object created earlier in the same transaction is exempt
        tx(f"CREATE TABLE {q(r.name[:30] + '_fresh')} (LIKE {r.qn}); "
           f"CREATE INDEX ON {q(r.name[:30] + '_fresh')} ({r.a}); DROP TABLE {q(r.name[:30] + '_fresh')}")
        # outside a transaction block
        notx(f"VACUUM {r.qn}")
        notx(f"VACUUM (FULL) {r.qn}")
        notx(f"VACUUM (FULL, FREEZE, VERBOSE, ANALYZE) {r.qn} ({r.a})")
        notx(f"VACUUM (INDEX_CLEANUP off, TRUNCATE false, PARALLEL 2, PROCESS_TOAST false, SKIP_LOCKED) {r.qn}")
        notx(f"VACUUM FULL ANALYZE {r.qn}")
        notx(f"REINDEX TABLE CONCURRENTLY {r.qn}")
        notx(f"REINDEX (VERBOSE) INDEX CONCURRENTLY {ai}")
        notx(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {r.qn}")
        notx(f"CLUSTER {r.qn}")
        notx(f"ALTER TABLE {r.qn} DETACH PARTITION pt_2 CONCURRENTLY")
        notx(f"SET safe_ddl.auto_concurrently = on")
        notx(f"CREATE INDEX {q(r.name[:30] + '_auto2')} ON {r.qn} ({r.b})")
        notx(f"REINDEX INDEX {q(r.name[:30] + '_auto2')}")
        notx(f"DROP INDEX {q(r.name[:30] + '_auto2')}")
        notx(f"RESET safe_ddl.auto_concurrently")
        notx(f"DROP INDEX CONCURRENTLY IF EXISTS {q(r.name[:30] + '_cidx')}")
    # 5. other objects: views, matviews, sequences, types, domains, enums, foreign, schemas, ...
    others = [
        "CREATE VIEW v2 AS SELECT 1 AS x", "CREATE OR REPLACE VIEW v1 AS SELECT id, a, b, c, d, 1 AS extra FROM t",
        "CREATE OR REPLACE VIEW v1 AS SELECT 1 AS id", "CREATE RECURSIVE VIEW rv (n) AS SELECT 1 UNION ALL SELECT n + 1 FROM rv WHERE n < 3",
        "CREATE VIEW vv WITH (security_barrier) AS SELECT * FROM t WITH CHECK OPTION",
        "ALTER VIEW v1 ALTER COLUMN a SET DEFAULT 0", "ALTER VIEW v1 RENAME TO v1_renamed", "ALTER VIEW v1 RENAME COLUMN a TO aa",
        "ALTER VIEW v1 SET (security_barrier = true)", "ALTER VIEW v1 OWNER TO CURRENT_USER", "ALTER VIEW v1 SET SCHEMA sch",
        "DROP VIEW v1", "DROP VIEW v1 CASCADE", "DROP VIEW IF EXISTS nope, v1",
        "CREATE MATERIALIZED VIEW mv2 AS SELECT * FROM t", "CREATE MATERIALIZED VIEW IF NOT EXISTS mv1 AS SELECT 1",
        "ALTER MATERIALIZED VIEW mv1 RENAME TO mv1_r", "ALTER MATERIALIZED VIEW mv1 SET TABLESPACE pg_default",
        "ALTER MATERIALIZED VIEW mv1 CLUSTER ON mv1_id", "ALTER MATERIALIZED VIEW mv1 SET ACCESS METHOD heap",
        "ALTER MATERIALIZED VIEW IF EXISTS mv1 ALTER COLUMN a SET STATISTICS 10",
        "ALTER MATERIALIZED VIEW ALL IN TABLESPACE pg_default SET TABLESPACE pg_default",
        "REFRESH MATERIALIZED VIEW mv1", "REFRESH MATERIALIZED VIEW mv1 WITH NO DATA", "DROP MATERIALIZED VIEW mv1",
        "CREATE SEQUENCE s3 AS smallint MINVALUE -5 MAXVALUE 5 CYCLE", "ALTER SEQUENCE seq1 RESTART", "ALTER SEQUENCE seq1 AS bigint",
        "ALTER SEQUENCE seq1 OWNED BY t.a", "ALTER SEQUENCE seq1 SET UNLOGGED", "ALTER SEQUENCE sch.seq2 RENAME TO s2r",
        "DROP SEQUENCE seq1, sch.seq2", "SELECT setval('seq1', 10)",
        "CREATE TYPE mood2 AS ENUM ()", "ALTER TYPE mood ADD VALUE 'meh'", "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'ok' BEFORE 'happy'",
        "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", "ALTER TYPE comp ADD ATTRIBUTE e int",
        "ALTER TYPE comp ADD ATTRIBUTE e int CASCADE", "ALTER TYPE comp ALTER ATTRIBUTE a TYPE bigint CASCADE",
        "ALTER TYPE comp ALTER ATTRIBUTE c TYPE text CASCADE", "ALTER TYPE comp DROP ATTRIBUTE d CASCADE",
        "ALTER TYPE comp RENAME ATTRIBUTE b TO bb CASCADE", "ALTER TYPE comp OWNER TO CURRENT_USER",
        "DROP TYPE comp", "DROP TYPE comp CASCADE", "DROP TYPE mood CASCADE",
        "CREATE TYPE rng AS RANGE (subtype = int4)", "CREATE TYPE shell_t", "CREATE TYPE comp2 AS (\"ü\" int, \"x\"\"y\" text)",
        "CREATE DOMAIN d2 AS text CHECK (VALUE <> '') DEFAULT 'x'", "ALTER DOMAIN posint ADD CONSTRAINT big CHECK (VALUE < 1000000)",
        "ALTER DOMAIN posint ADD CONSTRAINT big CHECK (VALUE < 1000000) NOT VALID", "ALTER DOMAIN posint VALIDATE CONSTRAINT posint_check",
        "ALTER DOMAIN plainint SET NOT NULL", "ALTER DOMAIN plainint DROP NOT NULL", "ALTER DOMAIN plainint SET DEFAULT 3",
        "ALTER DOMAIN posint DROP CONSTRAINT posint_check", "ALTER DOMAIN posint RENAME TO pint", "DROP DOMAIN posint CASCADE",
        "CREATE FOREIGN TABLE ft2 (a int OPTIONS (x 'y')) SERVER srv OPTIONS (q 'r')",
        "CREATE FOREIGN TABLE ft_part PARTITION OF pt FOR VALUES FROM (3000) TO (4000) SERVER srv",
        "ALTER FOREIGN TABLE ft ADD COLUMN z int", "ALTER FOREIGN TABLE ft ALTER COLUMN a TYPE bigint",
        "ALTER FOREIGN TABLE ft ALTER COLUMN a OPTIONS (ADD col 'c')", "ALTER FOREIGN TABLE ft OPTIONS (ADD k 'v')",
        "ALTER FOREIGN TABLE ft DROP COLUMN a", "ALTER FOREIGN TABLE ft RENAME TO ft_r", "ALTER FOREIGN TABLE ft INHERIT inh_parent",
        "ALTER SERVER srv OPTIONS (ADD host 'h')", "ALTER FOREIGN DATA WRAPPER dummy OPTIONS (ADD a 'b')",
        "CREATE USER MAPPING FOR CURRENT_USER SERVER srv", "IMPORT FOREIGN SCHEMA x FROM SERVER srv INTO public",
        "DROP FOREIGN TABLE ft", "DROP SERVER srv CASCADE", "DROP FOREIGN DATA WRAPPER dummy CASCADE",
        "CREATE SCHEMA s_new", "CREATE SCHEMA IF NOT EXISTS sch", "CREATE SCHEMA s_auth AUTHORIZATION CURRENT_USER CREATE TABLE st (a int) CREATE INDEX ON st (a)",
        "ALTER SCHEMA sch RENAME TO sch2", "DROP SCHEMA sch", "DROP SCHEMA sch CASCADE", f"DROP SCHEMA {q(ODD_SCHEMA)} CASCADE",
        "CREATE TABLE part_new PARTITION OF pt FOR VALUES FROM (1000) TO (2000)",
        "CREATE TABLE pl_b PARTITION OF pl FOR VALUES IN ('b') PARTITION BY RANGE (id)",
        "ALTER TABLE pt ATTACH PARTITION pt_cand FOR VALUES FROM (1000) TO (1200)",
        "ALTER TABLE pt ATTACH PARTITION pt_cand_proven FOR VALUES FROM (2000) TO (3000)",
        "ALTER TABLE pt ATTACH PARTITION pt_cand FOR VALUES FROM (0) TO (10)",
        "ALTER TABLE ph ATTACH PARTITION pt_cand FOR VALUES WITH (MODULUS 4, REMAINDER 3)",
        "ALTER TABLE pl ATTACH PARTITION pt_cand FOR VALUES IN ('z')", "ALTER TABLE pt ATTACH PARTITION pt_cand DEFAULT",
        "ALTER TABLE pt DETACH PARTITION pt_default", "ALTER TABLE pt DETACH PARTITION pt_default FINALIZE",
        "ALTER TABLE pl DETACH PARTITION pl_a", "ALTER INDEX pt_a_only ATTACH PARTITION pt_1_a_idx",
        "ALTER INDEX t_a_idx RENAME TO t_a_idx2", "ALTER INDEX t_a_idx SET TABLESPACE pg_default", "ALTER INDEX t_a_idx SET (fillfactor = 50)",
        "ALTER INDEX t_a_idx RESET (fillfactor)", "ALTER INDEX t_a_idx ALTER COLUMN 1 SET STATISTICS 100", "ALTER INDEX t_a_idx DEPENDS ON EXTENSION safe_ddl",
        "ALTER INDEX IF EXISTS nope RENAME TO nope2", "ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE pg_default",
        "ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE pg_default NOWAIT", "ALTER TABLE ALL IN TABLESPACE pg_default OWNED BY CURRENT_USER SET TABLESPACE pg_default",
        "REINDEX SCHEMA sch", "REINDEX SCHEMA CONCURRENTLY sch", "REINDEX SYSTEM", "REINDEX DATABASE rob",
        "CLUSTER", "CLUSTER VERBOSE", "VACUUM", "VACUUM FULL", "ANALYZE", "VACUUM (ANALYZE) t, pt, \"Odd Schema\".\"Weird Table\"",
        "CREATE TABLE plain_new (id int PRIMARY KEY, \"Odd col\" text)", "CREATE TEMP TABLE tt (a int) ON COMMIT DROP",
        "CREATE TEMPORARY TABLE tt2 (a int) ON COMMIT DELETE ROWS", "CREATE UNLOGGED TABLE ut (a int)",
        "CREATE TABLE IF NOT EXISTS t (a int)", "CREATE TABLE t_of OF comp (id WITH OPTIONS PRIMARY KEY)",
        "CREATE TABLE gen (a int, b int GENERATED ALWAYS AS (a + 1) STORED)", "CREATE TABLE tp (a int) PARTITION BY RANGE (a)",
        "CREATE TABLE tx (a int) WITH (fillfactor = 50) TABLESPACE pg_default", "CREATE TABLE tam (a int) USING heap",
        "CREATE TABLE \"\" (a int)", "CREATE TABLE \"" + "x" * 80 + "\" (a int)", "CREATE TABLE \"new\nline\" (a int)",
        "CREATE TABLE \"tab\ttab\" (\"\" int)", "CREATE TABLE \"q'uote\" (\"dq\"\"\" int)", "CREATE TABLE \"🙂\" (\"🙃\" int)",
        "CREATE INDEX \"x; DROP TABLE t; --\" ON t (a)", "CREATE INDEX \"\"\"; DROP TABLE t; --\" ON t (b)",
        "DROP TABLE t, pt, inh_parent CASCADE", "DROP TABLE inh_child", "DROP TABLE pt_1", "DROP TABLE tmp1",
        "DROP TABLE \"x; DROP TABLE t; --\"", "DROP TABLE IF EXISTS pg_temp.tmp1",
        "DROP OWNED BY CURRENT_USER", "REASSIGN OWNED BY CURRENT_USER TO CURRENT_USER",
        "CREATE FUNCTION f_ddl() RETURNS void LANGUAGE sql AS $b$ ALTER TABLE t ADD COLUMN z int $b$",
        "CREATE PROCEDURE p_ddl() LANGUAGE plpgsql AS $b$ BEGIN CREATE INDEX ON t (a); END $b$",
        "DO $b$ BEGIN EXECUTE 'CREATE INDEX ON t (a)'; END $b$", "DO $b$ BEGIN EXECUTE 'DROP TABLE t'; END $b$",
        "CREATE EVENT TRIGGER et ON ddl_command_end EXECUTE FUNCTION trg_fn()",
        "CREATE PUBLICATION pub FOR TABLE t", "CREATE PUBLICATION pub_all FOR ALL TABLES",
        "ALTER TABLE t ALTER COLUMN a TYPE bigint, ALTER COLUMN a SET NOT NULL, ADD PRIMARY KEY (a)",
        "ALTER TABLE t ADD COLUMN n1 int, DROP COLUMN n1", "ALTER TABLE t ADD COLUMN n1 int, ADD COLUMN n1 int",
        "ALTER TABLE t VALIDATE CONSTRAINT t_chk, ALTER COLUMN a SET NOT NULL",
        "ALTER TABLE t ALTER COLUMN b SET NOT NULL", "ALTER TABLE ident ALTER COLUMN g DROP EXPRESSION",
        "ALTER TABLE ident ALTER COLUMN id RESTART", "ALTER TABLE ident ALTER COLUMN id SET GENERATED BY DEFAULT SET INCREMENT BY 2 RESTART 1",
        "ALTER TABLE ident ALTER COLUMN g TYPE bigint", "ALTER TABLE ident ALTER COLUMN a TYPE bigint",
        "ALTER TABLE enum_t ALTER COLUMN m TYPE text", "ALTER TABLE enum_t ALTER COLUMN p TYPE int",
        "ALTER TABLE enum_t ALTER COLUMN p TYPE plainint", "ALTER TABLE enum_t ADD COLUMN q posint DEFAULT 1",
        "ALTER TABLE fk_child ADD CONSTRAINT fk FOREIGN KEY (ref_id) REFERENCES ref (id)",
        "ALTER TABLE fk_child ADD CONSTRAINT fk FOREIGN KEY (ref_id) REFERENCES ref (id) NOT VALID",
        "ALTER TABLE typed_t2 NOT OF", "ALTER TABLE typed_t2 ALTER COLUMN a TYPE bigint",
        "ALTER TABLE pt ALTER COLUMN a TYPE bigint", "ALTER TABLE pt ADD COLUMN z int DEFAULT random()::int",
        "ALTER TABLE ONLY pt ALTER COLUMN a SET NOT NULL", "ALTER TABLE pt ALTER COLUMN a SET NOT NULL",
        "ALTER TABLE pt SET UNLOGGED", "ALTER TABLE pt SET TABLESPACE pg_default", "ALTER TABLE pt SET ACCESS METHOD heap",
        "ALTER TABLE pt_1 NO INHERIT pt", "ALTER TABLE inh_child NO INHERIT inh_parent", "ALTER TABLE inh_parent DROP COLUMN d",
        "ALTER TABLE ONLY inh_parent DROP COLUMN d", "ALTER TABLE inh_parent RENAME COLUMN a TO aa",
        "SELECT safe_ddl.check('ALTER TABLE t ADD COLUMN x int')", "SELECT * FROM safe_ddl.lock_report()",
        "SELECT * FROM safe_ddl.blocking", "SELECT * FROM safe_ddl.health()", "SELECT * FROM safe_ddl.health('t')",
        "SELECT * FROM safe_ddl.status()", "SET safe_ddl.allow = 'nonsense'", "SET LOCAL safe_ddl.mode = 'off'",
        "SET LOCAL safe_ddl.lock_timeout = '1ms'; ALTER TABLE t ADD COLUMN lt int",
        "SET LOCAL safe_ddl.lock_retries = 0; SET LOCAL lock_timeout = 0; ALTER TABLE t ADD COLUMN lt int",
        "SET LOCAL safe_ddl.min_table_size = '1GB'; CREATE INDEX ON t (a)",
        "SET LOCAL safe_ddl.max_lock_hold = '1ms'; ALTER TABLE t ADD COLUMN lh int; SELECT pg_sleep(0.01)",
        "EXPLAIN ANALYZE CREATE TABLE ea AS SELECT 1", "CREATE TABLE ea2 AS EXECUTE nope",
        "SAVEPOINT sp; ALTER TABLE t ADD COLUMN sp_col int; ROLLBACK TO sp; ALTER TABLE t ALTER COLUMN id TYPE bigint",
        "DISCARD ALL", "CHECKPOINT", "LOAD 'safe_ddl'", "CREATE EXTENSION safe_ddl", "ALTER EXTENSION safe_ddl UPDATE",
        "DROP EXTENSION safe_ddl", "DROP EXTENSION safe_ddl CASCADE", "ALTER EXTENSION safe_ddl ADD TABLE t",
        "DROP EVENT TRIGGER safe_ddl_rewrite_backstop", "ALTER EVENT TRIGGER safe_ddl_rewrite_backstop DISABLE",
        "SET session_replication_role = replica; ALTER TABLE t ALTER COLUMN id TYPE bigint",
        "ALTER TABLE t ADD COLUMN syntax error here", "ALTER TABLE ALTER TABLE", "CREATE INDEX ON ()",
        "ALTER TABLE t ALTER COLUMN a TYPE int[] USING ARRAY[a]", "ALTER TABLE t ALTER COLUMN id TYPE int USING id",
        "ALTER TABLE t ALTER COLUMN c TYPE varchar(20) COLLATE \"C\"", "ALTER TABLE t ALTER COLUMN c TYPE char(20)",
        "ALTER TABLE t ALTER COLUMN d TYPE numeric(10,2)", "ALTER TABLE t ALTER COLUMN b TYPE varchar",
        "ALTER TABLE t ALTER COLUMN a TYPE oid", "ALTER TABLE t ALTER COLUMN a TYPE regclass",
        "COMMENT ON INDEX t_a_idx IS 'x'", "GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC",
    ]
    for s in others:
        tx(s)
    notx("REINDEX DATABASE CONCURRENTLY rob")
    notx("REINDEX SCHEMA CONCURRENTLY sch")
    notx("VACUUM (FULL) pt")
    notx("VACUUM (FULL, ANALYZE)")
    notx("CLUSTER")
    notx("ALTER TABLE pt DETACH PARTITION pt_1 CONCURRENTLY")
    notx("ALTER TABLE pt DETACH PARTITION pt_1 FINALIZE")
    notx("CREATE INDEX CONCURRENTLY ON pt (a)")
    notx("ALTER TYPE mood ADD VALUE 'later'")
    notx("DROP INDEX CONCURRENTLY t_a_idx, t_b_brin")
    notx("DROP INDEX CONCURRENTLY t_a_idx CASCADE")
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "fixtures.sql"), "w", encoding="utf-8") as f:
        f.write(fixtures())
    with open(os.path.join(outdir, "session.sql"), "w", encoding="utf-8") as f:
        f.write(SESSION)
    stmts = corpus()
    with open(os.path.join(outdir, "corpus.txt"), "w", encoding="utf-8") as f:
        for kind, sql in stmts:
            assert "\t" not in sql or kind, sql
            f.write(kind + "\t" + sql.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t") + "\n")
    print(len(stmts))


if __name__ == "__main__":
    main()
