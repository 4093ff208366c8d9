-- TODO: create the probes table
SELECT 1;
