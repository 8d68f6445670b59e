-- A new table and changes that take no long lock: nothing to report.
CREATE TABLE shipments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL,
    shipped_at timestamptz
);
CREATE INDEX shipments_order_id ON shipments (order_id);
ALTER TABLE orders ADD COLUMN discount numeric;
ALTER TABLE orders ALTER COLUMN note TYPE text;  -- varchar(50) -> text: binary coercible
