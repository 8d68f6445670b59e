-- Rows for the test cluster only (dsn mode: real sizes); the ephemeral cluster has none.
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;
INSERT INTO orders SELECT g, g % 1000 + 1, 1, 'new', NULL, '2026-01-01' FROM generate_series(1, 50000) g;
