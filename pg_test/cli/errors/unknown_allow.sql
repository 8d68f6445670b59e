ALTER TABLE orders ADD COLUMN c int;
-- safe_ddl: allow index_bulid
CREATE INDEX orders_c ON orders (c);
