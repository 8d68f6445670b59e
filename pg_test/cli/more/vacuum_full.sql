-- Refused by the guard, then (allowed) it cannot run inside the file's transaction: the file
-- starts over with each statement on its own, and later statements still run.
VACUUM FULL orders;
ALTER TABLE orders ADD COLUMN archived boolean;
CREATE INDEX orders_archived ON orders (archived);
