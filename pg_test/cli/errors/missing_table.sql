ALTER TABLE orders ADD COLUMN d int;
ALTER TABLE order_lines ADD COLUMN e int;
