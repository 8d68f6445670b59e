-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block: each statement on its own.
CREATE INDEX CONCURRENTLY orders_status ON orders (status);
ALTER TABLE orders DROP COLUMN note;
