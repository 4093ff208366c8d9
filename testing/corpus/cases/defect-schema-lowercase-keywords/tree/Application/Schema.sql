-- Your database schema. Use the Schema Designer at http://localhost:8001/ to add some tables.
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
create table probes (
    id uuid default uuid_generate_v4() not null,
    name text not null,
    created_at timestamp with time zone default now() not null,
    primary key(id)
);
