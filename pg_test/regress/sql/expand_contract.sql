-- Expand/contract helpers (docs/expand-contract.md): begin/status/finish_column_change,
-- set_not_null, add_check, add_foreign_key, rename_table/finish_rename_table.
-- Concurrent sessions: pg_test/isolation/specs/dual_writes.spec. Under load, interrupted and
-- resumed: pg_test/expand_contract.sh.
\set SHOW_CONTEXT never
-- The objects a change creates, by name (none are left behind by a failed or finished change).
CREATE VIEW ec_objects AS
SELECT 'function' AS kind, p.proname::text AS name FROM pg_proc AS p WHERE p.proname LIKE '\_safe\_ddl\_cc%'
UNION ALL
SELECT 'trigger', t.tgname::text FROM pg_trigger AS t WHERE t.tgname LIKE 'zz\_safe\_ddl\_column\_change\_%'
ORDER BY 1, 2;

CREATE TABLE ec_acc (id int PRIMARY KEY, bal int NOT NULL DEFAULT 0, note text);
INSERT INTO ec_acc (id, bal) SELECT g, g * 10 FROM generate_series(1, 1000) g;
CREATE VIEW ec_acc_view AS SELECT id, bal FROM ec_acc WHERE bal > 100;
CREATE VIEW ec_v AS SELECT 1 AS bal;

-- Argument errors: clear, and nothing is left behind.
SELECT safe_ddl.begin_column_change('ec_acc', 'nope', 'bal_big', 'bigint');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'note', 'bigint');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'no_such_type');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint; DROP TABLE ec_acc');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint', forward => 'bal +');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint', forward => 'bal + id');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint', forward => 'bal > 0');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint', backward => 'bal');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint', forward => 'bal / (bal - 10)');
SELECT safe_ddl.begin_column_change('ec_v', 'bal', 'bal_big', 'bigint');
SELECT safe_ddl.begin_column_change(NULL, 'bal', 'bal_big', 'bigint');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', NULL, 'bigint');
SELECT attname FROM pg_attribute WHERE attrelid = 'ec_acc'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM ec_objects;
SELECT count(*) AS changes FROM safe_ddl.column_changes;

-- A lossy backward is accepted with a WARNING (here: new values are rounded back).
BEGIN;
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_num', 'numeric', backward => 'round(bal_num / 7)::int');
ROLLBACK;

-- int -> bigint: the column is added without a rewrite, the trigger installed, and the backfill
-- that fills the existing rows printed (and returned).
SELECT pg_relation_filenode('ec_acc') AS filenode_before \gset
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big', 'bigint') AS backfill_call \gset
\echo :backfill_call
SELECT pg_relation_filenode('ec_acc') = :filenode_before AS no_rewrite;
SELECT attname, format_type(atttypid, atttypmod), attnotnull, atthasdef
  FROM pg_attribute WHERE attrelid = 'ec_acc'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM ec_objects;
SELECT table_name, old_column, new_column, old_type, new_type, forward, backward, status, trigger_name,
       trigger_enabled, rows_out_of_step
  FROM safe_ddl.column_change_status('ec_acc');
SELECT rows_out_of_step FROM safe_ddl.column_change_status('ec_acc', count_rows => false);
-- the same column again, either side
SELECT safe_ddl.begin_column_change('ec_acc', 'bal', 'bal_big2', 'bigint');
SELECT safe_ddl.begin_column_change('ec_acc', 'bal_big', 'bal_big2', 'bigint');

-- Dual writes. Old code writes bal, new code writes bal_big; the other side follows.
INSERT INTO ec_acc (id, bal) VALUES (2001, 5);                -- old code: bal_big := bal
INSERT INTO ec_acc (id, bal_big) VALUES (2002, 7);            -- new code: bal := bal_big (not its DEFAULT 0)
INSERT INTO ec_acc (id, bal, bal_big) VALUES (2003, 9, 9);    -- both, in step
INSERT INTO ec_acc (id) VALUES (2004);                         -- neither: bal's DEFAULT, followed
UPDATE ec_acc SET bal = 11 WHERE id = 1;                       -- old column only
UPDATE ec_acc SET bal_big = 22 WHERE id = 2;                   -- new column only
UPDATE ec_acc SET bal = 33, bal_big = 44 WHERE id = 3;         -- both changed: both as written
UPDATE ec_acc SET note = 'x' WHERE id = 4;                     -- neither: unchanged (not yet filled)
SELECT id, bal, bal_big, note FROM ec_acc WHERE id IN (1, 2, 3, 4) OR id > 2000 ORDER BY id;
-- a value the old column cannot hold fails the write (old code could not read it)
UPDATE ec_acc SET bal_big = 5000000000 WHERE id = 5;
INSERT INTO ec_acc (id, bal_big) VALUES (2005, 5000000000);
-- the table and its constraints see the filled row: bal is NOT NULL, bal_big filled it
INSERT INTO ec_acc (id, bal, bal_big) VALUES (2006, NULL, 12);
SELECT id, bal, bal_big FROM ec_acc WHERE id = 2006;

-- Not finished while rows are out of step (the rows not yet filled, and id 3).
SELECT rows_out_of_step FROM safe_ddl.column_change_status('ec_acc');
SELECT safe_ddl.finish_column_change('ec_acc', 'bal');
\set VERBOSITY sqlstate
SELECT safe_ddl.finish_column_change('ec_acc', 'bal');
\set VERBOSITY default
SELECT safe_ddl.finish_column_change('ec_acc', 'bal_big');   -- the old column names the change
SELECT safe_ddl.finish_column_change('ec_acc', 'note');

-- The backfill (the CALL printed above): its UPDATEs write bal_big only, in step, so the trigger
-- leaves bal alone.
SET client_min_messages = warning;
:backfill_call
RESET client_min_messages;
SELECT status, rows_done FROM safe_ddl.backfill_jobs WHERE relation = 'ec_acc'::regclass;
SELECT count(*) AS rows, count(*) FILTER (WHERE bal_big IS DISTINCT FROM bal) AS differ,
       sum(bal) AS sum_bal FROM ec_acc;
SELECT rows_out_of_step, trigger_enabled FROM safe_ddl.column_change_status('ec_acc');

-- A disabled trigger shows in the status.
SELECT trigger_name AS acc_trigger FROM safe_ddl.column_change_status('ec_acc', false) \gset
BEGIN;
ALTER TABLE ec_acc DISABLE TRIGGER :"acc_trigger";
SELECT trigger_name, trigger_enabled FROM safe_ddl.column_change_status('ec_acc', false);
ROLLBACK;

-- Not finished while other objects use the old column (DROP COLUMN would drop them or fail).
SELECT safe_ddl.finish_column_change('ec_acc', 'bal');
DROP VIEW ec_acc_view;

-- Finish (contract): the trigger, its functions and the old column go, without a rewrite.
SELECT safe_ddl.finish_column_change('ec_acc', 'bal');
SELECT pg_relation_filenode('ec_acc') = :filenode_before AS no_rewrite;
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'ec_acc'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
SELECT * FROM ec_objects;
SELECT table_name, old_column, new_column, status, trigger_enabled, rows_out_of_step, backfill_call,
       finished_at IS NOT NULL AS finished
  FROM safe_ddl.column_change_status('ec_acc');
INSERT INTO ec_acc (id, bal_big) VALUES (3001, 5000000000);
SELECT id, bal_big FROM ec_acc WHERE id = 3001;
SELECT safe_ddl.finish_column_change('ec_acc', 'bal');

-- numeric -> numeric(12,2), with the column's modifiers: the trigger rounds like a write of the
-- column would, and a write already in step (like the backfill's) leaves the old value alone.
-- (The WARNING: 1.234 does not survive the round trip.)
CREATE TABLE ec_price (id int PRIMARY KEY, price numeric);
INSERT INTO ec_price VALUES (1, 1.234), (2, 2.5), (3, NULL);
SELECT safe_ddl.begin_column_change('ec_price', 'price', 'price2', 'numeric(12,2)');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'ec_price'::regclass AND attname = 'price2';
UPDATE ec_price SET price2 = 1.23 WHERE id = 1;     -- = forward(1.234): in step, price stays 1.234
UPDATE ec_price SET price2 = 7.777 WHERE id = 2;    -- rounded to 7.78, price := 7.78
INSERT INTO ec_price (id, price) VALUES (4, 4.444);
SELECT * FROM ec_price ORDER BY id;
SELECT rows_out_of_step FROM safe_ddl.column_change_status('ec_price');

-- Not finished while the old column has an index (DROP COLUMN would silently drop it).
CREATE TABLE ec_idx (id int PRIMARY KEY, code int);
INSERT INTO ec_idx SELECT g, g FROM generate_series(1, 10) g;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX ec_idx_code ON ec_idx (code);
COMMIT;
SELECT safe_ddl.begin_column_change('ec_idx', 'code', 'code_text', 'text', forward => 'lpad(code::text, 4, ''0'')');
SET client_min_messages = warning;
CALL safe_ddl.backfill('ec_idx', 'code_text = lpad(code::text, 4, ''0'')', pause => '0');
RESET client_min_messages;
SELECT * FROM ec_idx WHERE id <= 2 ORDER BY id;
UPDATE ec_idx SET code_text = '0042' WHERE id = 1;
SELECT * FROM ec_idx WHERE id = 1;
SELECT safe_ddl.finish_column_change('ec_idx', 'code');
DROP INDEX CONCURRENTLY ec_idx_code;
SELECT safe_ddl.finish_column_change('ec_idx', 'code');

-- set_not_null: CHECK NOT VALID, COMMIT, VALIDATE, COMMIT, SET NOT NULL (proven), DROP CHECK.
CREATE TABLE ec_cust (id int PRIMARY KEY, email text, region text);
INSERT INTO ec_cust SELECT g, 'c' || g || '@example.com', CASE WHEN g % 100 <> 0 THEN 'eu' END
  FROM generate_series(1, 1000) g;
SELECT pg_relation_filenode('ec_cust') AS cust_filenode \gset
CALL safe_ddl.set_not_null('ec_cust', 'email');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ec_cust'::regclass AND attname = 'email';
SELECT conname FROM pg_constraint WHERE conrelid = 'ec_cust'::regclass ORDER BY 1;
SELECT pg_relation_filenode('ec_cust') = :cust_filenode AS no_rewrite;
CALL safe_ddl.set_not_null('ec_cust', 'email');      -- again: nothing to do
-- NULLs left: the validation fails, the NOT VALID constraint stays (and holds for new rows)
CALL safe_ddl.set_not_null('ec_cust', 'region');
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ec_cust'::regclass AND contype = 'c';
INSERT INTO ec_cust (id, email) VALUES (5000, 'new@example.com');
UPDATE ec_cust SET region = 'us' WHERE region IS NULL;
-- called again, it goes on from the NOT VALID constraint (no second constraint)
CALL safe_ddl.set_not_null('ec_cust', 'region');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ec_cust'::regclass AND attname = 'region';
SELECT conname FROM pg_constraint WHERE conrelid = 'ec_cust'::regclass ORDER BY 1;
CALL safe_ddl.set_not_null('ec_cust', 'nope');
CALL safe_ddl.set_not_null('ec_v', 'bal');

-- add_check: NOT VALID, COMMIT, VALIDATE.
CALL safe_ddl.add_check('ec_cust', 'ec_cust_email_at', 'email LIKE ''%@%''');
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ec_cust'::regclass AND contype = 'c';
CALL safe_ddl.add_check('ec_cust', 'ec_cust_email_at', 'email LIKE ''%@%''');   -- again: valid already
CALL safe_ddl.add_check('ec_cust', 'ec_cust_id_small', 'id < 1000');
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'ec_cust'::regclass AND conname = 'ec_cust_id_small';
DELETE FROM ec_cust WHERE id >= 1000;
CALL safe_ddl.add_check('ec_cust', 'ec_cust_id_small', 'id < 1000');           -- goes on: validates
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'ec_cust'::regclass AND conname = 'ec_cust_id_small';
CALL safe_ddl.add_check('ec_cust', 'ec_bad', 'nope > 0');
CALL safe_ddl.add_check('ec_cust', 'ec_bad', 'id > 0) NOT VALID, DROP CONSTRAINT ec_cust_pkey, ADD CHECK (true');
CALL safe_ddl.add_check('ec_cust', 'ec_bad', 'id');
CALL safe_ddl.add_check('ec_cust', 'ec_cust_pkey', 'id > 0');
CALL safe_ddl.add_check('ec_cust', NULL, 'id > 0');
CALL safe_ddl.add_check('ec_cust', 'ec_bad', '');
SELECT count(*) AS constraints FROM pg_constraint WHERE conrelid = 'ec_cust'::regclass;

-- add_foreign_key: NOT VALID, COMMIT, VALIDATE (default name, the referenced primary key).
CREATE TABLE ec_ord (id int PRIMARY KEY, cust_id int, cust_email text);
INSERT INTO ec_ord SELECT g, g % 999 + 1, 'c' || (g % 999 + 1) || '@example.com' FROM generate_series(1, 2000) g;
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_id}', 'ec_cust', on_delete => 'cascade');
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ec_ord'::regclass AND contype = 'f';
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_id}', 'ec_cust');                -- again: valid already
-- resumed from a NOT VALID constraint left by an interrupted call
CREATE UNIQUE INDEX CONCURRENTLY ec_cust_email_key ON ec_cust (email);
ALTER TABLE ec_ord ADD CONSTRAINT ec_ord_email_fk FOREIGN KEY (cust_email) REFERENCES ec_cust (email) NOT VALID;
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_email}', 'ec_cust', '{email}', name => 'ec_ord_email_fk');
SELECT conname, convalidated, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'ec_ord'::regclass AND contype = 'f' ORDER BY 1;
-- violations: the constraint stays NOT VALID
CREATE TABLE ec_line (id int PRIMARY KEY, ord_id int);
INSERT INTO ec_line VALUES (1, 1), (2, 77777);
CALL safe_ddl.add_foreign_key('ec_line', '{ord_id}', 'ec_ord');
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'ec_line'::regclass AND contype = 'f';
-- argument errors
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_id}', 'ec_cust', on_delete => 'explode');
CALL safe_ddl.add_foreign_key('ec_ord', '{nope}', 'ec_cust');
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_id,id}', 'ec_cust');
CALL safe_ddl.add_foreign_key('ec_ord', '{}', 'ec_cust');
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_id}', 'ec_v');
CALL safe_ddl.add_foreign_key('ec_ord', '{cust_email}', 'ec_cust', name => 'ec_ord_cust_id_fkey');

-- The procedures commit between their steps: refused inside a transaction block, a
-- multi-statement query string or a function, before they change anything.
BEGIN;
CALL safe_ddl.set_not_null('ec_ord', 'cust_id');
ROLLBACK;
BEGIN;
CALL safe_ddl.add_check('ec_ord', 'ec_ord_id_pos', 'id > 0');
ROLLBACK;
CALL safe_ddl.add_foreign_key('ec_line', '{ord_id}', 'ec_ord', name => 'ec_line_fk2') \; SELECT 1;
CREATE FUNCTION ec_in_function() RETURNS int LANGUAGE plpgsql
AS $$ BEGIN CALL safe_ddl.set_not_null('ec_ord', 'cust_id'); RETURN 1; END $$;
SELECT ec_in_function();
SELECT count(*) AS constraints FROM pg_constraint WHERE conrelid IN ('ec_ord'::regclass, 'ec_line'::regclass);
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'ec_ord'::regclass AND attname = 'cust_id';

-- rename_table: the table gets its new name, an updatable view keeps the old one working, with
-- the table's grants.
CREATE TABLE ec_orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL DEFAULT 1);
INSERT INTO ec_orders (item) VALUES ('a'), ('b');
GRANT SELECT, INSERT, UPDATE ON ec_orders TO safe_ddl_app;
GRANT USAGE ON SEQUENCE ec_orders_id_seq TO safe_ddl_app;
SELECT 'ec_orders'::regclass::oid AS orders_oid \gset
SELECT safe_ddl.rename_table('ec_orders', 'ec_purchases');
SELECT c.relname, c.relkind, c.oid = :orders_oid AS same_table, c.reloptions
  FROM pg_class AS c WHERE c.relname IN ('ec_orders', 'ec_purchases') ORDER BY 1;
SELECT pg_get_viewdef('ec_orders'::regclass);
SELECT obj_description('ec_orders'::regclass, 'pg_class');
SELECT has_table_privilege('safe_ddl_app', 'ec_orders', 'INSERT') AS app_insert,
       has_table_privilege('safe_ddl_app', 'ec_orders', 'DELETE') AS app_delete;
-- old code, through the view, as the application role: the table's defaults apply
SET ROLE safe_ddl_app;
INSERT INTO ec_orders (item) VALUES ('c') RETURNING id, item, qty;
UPDATE ec_orders SET qty = 5 WHERE item = 'a';
DELETE FROM ec_orders WHERE item = 'b';
RESET ROLE;
DELETE FROM ec_orders WHERE item = 'b';
SELECT * FROM ec_purchases ORDER BY id;
SELECT safe_ddl.rename_table('ec_orders', 'ec_purchases');     -- again: already done
SELECT safe_ddl.rename_table('ec_purchases', 'ec_cust');
SELECT safe_ddl.rename_table('ec_v', 'ec_x');
SELECT status, old_name, new_name, view = 'ec_orders'::regclass AS view_recorded FROM safe_ddl.table_renames;
SELECT safe_ddl.finish_rename_table('ec_acc');

-- Usage: finish_column_change and finish_rename_table refuse while the old column (the old
-- name) was used within safe_ddl.usage_window. (This database runs with a zero window; the
-- statements above used them moments ago.)
SELECT safe_ddl.begin_column_change('ec_cust', 'region', 'region_code', 'varchar(8)');
SET client_min_messages = warning;
CALL safe_ddl.backfill('public.ec_cust', 'region_code = (region::character varying)', 'region_code IS DISTINCT FROM CAST((region::character varying) AS character varying(8))', pause => '0');
RESET client_min_messages;
UPDATE ec_cust SET region = 'asia' WHERE id = 1;    -- old code
UPDATE ec_cust SET region = 'antarctica' WHERE id = 2;   -- too long for varchar(8): refused, not cut
SELECT rows_out_of_step, old_last_write IS NOT NULL AS old_written
  FROM safe_ddl.column_change_status('ec_cust');
SET safe_ddl.usage_window = '1h';
SELECT old_used_recently FROM safe_ddl.column_change_status('ec_cust');
\set VERBOSITY terse
SELECT safe_ddl.finish_column_change('ec_cust', 'region');
SELECT safe_ddl.finish_rename_table('ec_orders');
\set VERBOSITY default
RESET safe_ddl.usage_window;
SELECT safe_ddl.finish_column_change('ec_cust', 'region');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'ec_cust'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- finish_rename_table, given the table (or the view): drops the view
SELECT safe_ddl.finish_rename_table('ec_purchases');
SELECT to_regclass('ec_orders') AS old_name, to_regclass('ec_purchases') AS new_name;
SELECT status, view FROM safe_ddl.table_renames;
SELECT safe_ddl.finish_rename_table('ec_purchases');
-- the helpers' own reads (the sample at begin, the out-of-step count) are not uses of the table
SELECT safe_ddl.reset_usage('ec_cust');
SELECT safe_ddl.begin_column_change('ec_cust', 'email', 'email2', 'text') IS NOT NULL AS begun;
SELECT rows_out_of_step FROM safe_ddl.column_change_status('ec_cust') WHERE new_column = 'email2';
SELECT relation, column_name FROM safe_ddl.column_usage WHERE relation = 'ec_cust'::regclass;

-- cancel_column_change: the new column, the trigger and its functions go; the old column stays.
SELECT safe_ddl.cancel_column_change('ec_cust', 'email');
SELECT safe_ddl.cancel_column_change('ec_price', 'price');
SELECT attname FROM pg_attribute WHERE attrelid = 'ec_cust'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT * FROM ec_objects;
SELECT table_name, old_column, new_column, status FROM safe_ddl.column_change_status() ORDER BY change_id;
SELECT safe_ddl.cancel_column_change('ec_cust', 'email');

-- A role without superuser rights, owning its table (and the schema where the helpers' functions
-- go), runs a whole change, set_not_null and a rename; it sees only its own changes.
CREATE SCHEMA ec_app AUTHORIZATION safe_ddl_app;
SET ROLE safe_ddl_app;
CREATE TABLE ec_app.t (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO ec_app.t SELECT g, g FROM generate_series(1, 100) g;
SELECT safe_ddl.begin_column_change('ec_app.t', 'n', 'n_big', 'bigint') IS NOT NULL AS begun;
SELECT table_name, status, rows_out_of_step FROM safe_ddl.column_change_status();
SET client_min_messages = warning;
CALL safe_ddl.backfill('ec_app.t', 'n_big = (n::bigint)', 'n_big IS DISTINCT FROM CAST((n::bigint) AS bigint)', pause => '0');
RESET client_min_messages;
SELECT safe_ddl.finish_column_change('ec_app.t', 'n');
CALL safe_ddl.set_not_null('ec_app.t', 'n_big');
SELECT safe_ddl.rename_table('ec_app.t', 't2');
SELECT safe_ddl.finish_rename_table('ec_app.t2');
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
 WHERE attrelid = 'ec_app.t2'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT count(*) AS visible_changes FROM safe_ddl.column_changes;
RESET ROLE;
SELECT started_by, count(*) AS changes FROM safe_ddl.column_changes GROUP BY 1 ORDER BY 1;

-- Clean up.
SET safe_ddl.allow = 'drop_table';
DROP SCHEMA ec_app CASCADE;
DROP TABLE ec_acc, ec_price, ec_idx, ec_cust, ec_ord, ec_line, ec_purchases CASCADE;
RESET safe_ddl.allow;
DROP VIEW ec_objects, ec_v;
DROP FUNCTION ec_in_function();
DELETE FROM safe_ddl.column_changes;
DELETE FROM safe_ddl.table_renames;
DELETE FROM safe_ddl.backfill_jobs;
