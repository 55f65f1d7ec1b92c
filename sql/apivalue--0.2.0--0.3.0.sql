-- apivalue 0.2.0 -> 0.3.0
--
-- Every change to an object of the extension since the frozen 0.2.0
-- install script is repeated here (append only, under a comment line
-- naming the branch); test/layers/upgrade.sh checks that ALTER EXTENSION
-- apivalue UPDATE yields exactly the objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.3.0'" to load this file. \quit

-- branch retention3: time_to_first_value declares its state size (a
-- TtfvState chunk, 80 bytes) so the planner hashes many users instead of
-- sorting for lack of (assumed 8 kB per group) hash memory.
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 80
WHERE aggfnoid = 'apivalue.time_to_first_value(timestamptz, boolean, boolean)'::regprocedure;
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 80
WHERE aggfnoid = 'apivalue.time_to_first_value(timestamptz, boolean, boolean, interval)'::regprocedure;
