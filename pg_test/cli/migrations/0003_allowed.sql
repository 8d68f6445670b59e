-- customers is small and rarely written: the team takes the lock, and says so here.
-- safe_ddl: allow index_build
CREATE INDEX customers_name ON customers (name);
