-- The file's own transaction control: run as written.
BEGIN;
ALTER TABLE customers ADD COLUMN email text;
CREATE INDEX customers_email ON customers (email);
COMMIT;
