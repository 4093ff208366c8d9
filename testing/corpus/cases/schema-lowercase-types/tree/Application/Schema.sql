-- Your database schema. Use the Schema Designer at http://localhost:8001/ to add some tables.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE probes (
    id uuid DEFAULT uuid_generate_v4() NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    PRIMARY KEY(id)
);
