-- safe_ddl.lock_timeout: DDL that needs a lock conflicting with reads or writes runs with a
-- bounded lock_timeout; the session's own value is back afterwards. An event trigger shows
-- the value in effect while the statement runs.
CREATE FUNCTION show_lock_timeout() RETURNS event_trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE NOTICE '% runs with lock_timeout = %', tg_tag, current_setting('lock_timeout'); END $$;
CREATE EVENT TRIGGER show_lock_timeout ON ddl_command_start EXECUTE FUNCTION show_lock_timeout();

CREATE TABLE accounts (id int PRIMARY KEY, balance int);
SET lock_timeout = 0;
-- ACCESS EXCLUSIVE: guarded.
ALTER TABLE accounts ADD COLUMN note text;
SHOW lock_timeout;
-- Fails: the value is restored too.
ALTER TABLE accounts ADD COLUMN note text;
SHOW lock_timeout;
-- SHARE UPDATE EXCLUSIVE blocks neither reads nor writes: left alone.
ALTER TABLE accounts SET (autovacuum_vacuum_scale_factor = 0.01);
-- SHARE ROW EXCLUSIVE (blocks writes): guarded.
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER accounts_noop BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION noop();
-- (TRUNCATE, VACUUM FULL and LOCK TABLE fire no event trigger: see the isolation specs.)
-- A shorter session lock_timeout is kept.
SET lock_timeout = '50ms';
ALTER TABLE accounts ADD COLUMN note2 text;
-- A longer one is capped.
SET lock_timeout = '10s';
ALTER TABLE accounts ADD COLUMN note3 text;
SHOW lock_timeout;
-- Inside a transaction block the value is restored after each statement.
BEGIN;
SET LOCAL lock_timeout = 0;
ALTER TABLE accounts ADD COLUMN note4 text;
SHOW lock_timeout;
COMMIT;
-- 0 disables the enforcement.
SET safe_ddl.lock_timeout = 0;
SET lock_timeout = 0;
ALTER TABLE accounts ADD COLUMN note5 text;
RESET safe_ddl.lock_timeout;
-- warn mode keeps lock safety: the same bounded lock_timeout as enforce.
SET safe_ddl.mode = warn;
ALTER TABLE accounts ADD COLUMN note6 text;
SHOW lock_timeout;
RESET safe_ddl.mode;
-- off turns everything off, lock_timeout included.
SET safe_ddl.mode = off;
ALTER TABLE accounts ADD COLUMN note7 text;
RESET safe_ddl.mode;
-- Non-DDL statements pass through untouched.
SELECT count(*) FROM accounts;

DROP EVENT TRIGGER show_lock_timeout;
SET safe_ddl.allow = 'drop_table';
DROP TABLE accounts;
RESET safe_ddl.allow;
DROP FUNCTION show_lock_timeout(), noop();
RESET lock_timeout;

-- safe_ddl.max_lock_hold: a transaction that keeps a lock blocking reads or writes past the
-- threshold gets a WARNING at COMMIT (DETAIL has the measured time, hidden here).
CREATE TABLE held (id int);
\set VERBOSITY terse
SET safe_ddl.max_lock_hold = '100ms';
BEGIN;
ALTER TABLE held ADD COLUMN x int;
SELECT pg_sleep(0.3);
COMMIT;
-- LOCK TABLE too (in a mode that blocks writes); ROW EXCLUSIVE blocks nobody: no warning.
BEGIN;
LOCK TABLE held IN SHARE MODE;
SELECT pg_sleep(0.3);
COMMIT;
BEGIN;
LOCK TABLE held IN ROW EXCLUSIVE MODE;
SELECT pg_sleep(0.3);
COMMIT;
-- Below the threshold: no warning.
SET safe_ddl.max_lock_hold = '10s';
BEGIN;
ALTER TABLE held ADD COLUMN y int;
COMMIT;
-- A rolled-back transaction: no warning.
SET safe_ddl.max_lock_hold = '100ms';
BEGIN;
ALTER TABLE held ADD COLUMN z int;
SELECT pg_sleep(0.3);
ROLLBACK;
-- A table created in the same transaction blocks nobody: no warning.
BEGIN;
CREATE TABLE held2 (id int);
ALTER TABLE held2 ADD COLUMN x int;
SELECT pg_sleep(0.3);
COMMIT;
RESET safe_ddl.max_lock_hold;
\set VERBOSITY default
SET safe_ddl.allow = 'drop_table';
DROP TABLE held, held2;
RESET safe_ddl.allow;
