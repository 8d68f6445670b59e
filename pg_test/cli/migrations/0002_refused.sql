-- Each of these holds a lock on orders while it scans or rewrites the table.
CREATE INDEX orders_created_at
    ON orders (created_at);

ALTER TABLE orders
    ALTER COLUMN quantity TYPE bigint;
/* café */ ALTER TABLE orders ALTER COLUMN status SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
