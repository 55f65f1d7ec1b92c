-- apivalue 0.2.0 -> 0.3.0
--
-- Every change to an object of the extension since the frozen 0.2.0
-- install script is repeated here (append only, under a comment line
-- naming the branch); test/layers/upgrade.sh checks that ALTER EXTENSION
-- apivalue UPDATE yields exactly the objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.3.0'" to load this file. \quit

-- branch drivers3: realistic state sizes (SSPACE) for the per-user feature
-- aggregates, so the planner no longer assumes 8 kB per user and keeps the
-- in-memory hash aggregate over many users (CREATE AGGREGATE's SSPACE, which
-- ALTER AGGREGATE cannot change).
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 1536
 WHERE aggfnoid IN ('apivalue.behavior_counts(timestamptz, text, interval)'::regprocedure,
                    'apivalue.behavior_counts(timestamp, text, interval)'::regprocedure);
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 1024
 WHERE aggfnoid IN ('apivalue.driver_features(timestamptz, text, boolean, boolean, double precision, interval, interval, integer, integer, double precision, boolean, timestamptz)'::regprocedure,
                    'apivalue.driver_features(timestamp, text, boolean, boolean, double precision, interval, interval, integer, integer, double precision, boolean, timestamp)'::regprocedure);
