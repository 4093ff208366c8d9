CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE TABLE probes (
    id UUID DEFAULT uuid_generate_v4() NOT NULL,
    -- several names per probe
    name TEXT[] NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY(id)
);
