-- The schema the fixture migrations run against (pg_test/cli.sh): loaded into the test cluster
-- (with data.sql's rows), whose pg_dump --schema-only output is the --ephemeral --schema input.
CREATE TABLE customers (
    id bigint PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    quantity int NOT NULL,
    status varchar(20),
    note varchar(50),
    created_at timestamptz NOT NULL DEFAULT now()
);
