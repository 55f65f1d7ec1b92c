-- apivalue.metric_lineage: derived from pg_depend/pg_rewrite, exact for
-- every case below (rows ordered, each reviewed by hand).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE SCHEMA cat_lin;
SET search_path = cat_lin, public;

-- Base relations: a partitioned events table, a plans table, a foreign table.
CREATE TABLE cat_lin.events (
  id bigint, tenant text, ts timestamptz, endpoint text, status int, latency_ms int
) PARTITION BY RANGE (ts);
CREATE TABLE cat_lin.events_2024 PARTITION OF cat_lin.events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE cat_lin.events_2025 PARTITION OF cat_lin.events
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE cat_lin.plans (tenant text, tier text, price numeric, notes text);
CREATE TABLE cat_lin.flags (tenant text, blocked boolean);
CREATE FOREIGN DATA WRAPPER cat_lin_fdw;
CREATE SERVER cat_lin_srv FOREIGN DATA WRAPPER cat_lin_fdw;
CREATE FOREIGN TABLE cat_lin.remote_signups (tenant text, signed_up_at timestamptz, source text)
  SERVER cat_lin_srv;

-- Case 1: views over views over a partitioned table, a materialized view in
-- the chain, and a second table joined in the materialized view.
CREATE VIEW cat_lin.ok_calls AS
  SELECT tenant, ts, endpoint FROM cat_lin.events WHERE status < 500;
CREATE VIEW cat_lin.daily_calls AS
  SELECT tenant, date_trunc('day', ts) AS day, count(*) AS calls
    FROM cat_lin.ok_calls GROUP BY 1, 2;
CREATE MATERIALIZED VIEW cat_lin.daily_by_tier AS
  SELECT p.tier, d.day, sum(d.calls) AS calls
    FROM cat_lin.daily_calls d JOIN cat_lin.plans p ON p.tenant = d.tenant
   GROUP BY 1, 2;
CREATE VIEW cat_lin.calls_per_tier AS
  SELECT tier, avg(calls) AS avg_daily_calls FROM cat_lin.daily_by_tier GROUP BY tier;
SELECT apivalue.define_metric('cat_calls_per_tier', 'cat_lin.calls_per_tier',
                              'average successful calls per day, by plan tier',
                              'api-platform', 'calls/day', 'tier');

-- Case 2: a join and a CTE in one view; flags is read only through EXISTS
-- with no column of its own outside the correlation, remote_signups is a
-- foreign table, and plans.price/notes are never read.
CREATE VIEW cat_lin.first_call_after_signup AS
  WITH signups AS (
    SELECT tenant, min(signed_up_at) AS signed_up_at
      FROM cat_lin.remote_signups GROUP BY tenant
  )
  SELECT s.tenant, min(e.ts) - s.signed_up_at AS time_to_first_call
    FROM signups s
    JOIN cat_lin.events e ON e.tenant = s.tenant
   WHERE NOT EXISTS (SELECT FROM cat_lin.flags)
   GROUP BY s.tenant, s.signed_up_at;
SELECT apivalue.define_metric('cat_time_to_first_call', 'cat_lin.first_call_after_signup',
                              'time from signup to first API call', 'growth', 'interval');

-- events.endpoint is listed for cat_calls_per_tier: ok_calls reads it (for
-- its output), and pg_depend records what each view reads, not which of its
-- output columns the view above uses (see "Metric catalog and lineage" in README.md).
SELECT metric_name, source_table, source_column, depth, via
  FROM apivalue.metric_lineage
 WHERE metric_name LIKE 'cat\_%'
 ORDER BY metric_name, source_table::text, source_column NULLS FIRST, depth;

-- Partitions never appear, only their parent; relkinds of all sources.
SELECT DISTINCT l.source_table::text AS source_table, c.relkind
  FROM apivalue.metric_lineage l JOIN pg_class c ON c.oid = l.source_table
 WHERE metric_name LIKE 'cat\_%'
 ORDER BY 1;

-- The catalog's sources are exactly the lineage's tables.
SELECT name, sources, definition, definition_changed
  FROM apivalue.metric_catalog WHERE name LIKE 'cat\_%' ORDER BY name;

-- Case 3: a renamed column shows its new name, with no sync step.
ALTER TABLE cat_lin.plans RENAME COLUMN tier TO plan_tier;
SELECT source_table, source_column, depth, via
  FROM apivalue.metric_lineage
 WHERE metric_name = 'cat_calls_per_tier' AND source_table = 'cat_lin.plans'::regclass
 ORDER BY source_column;

-- Case 4: a table read without any column is a whole-relation dependency.
CREATE VIEW cat_lin.plan_count AS SELECT count(*) AS plans FROM cat_lin.plans;
SELECT apivalue.define_metric('cat_plan_count', 'cat_lin.plan_count', 'number of plans',
                              'billing', 'plans');
SELECT metric_name, source_table, source_column, depth, via
  FROM apivalue.metric_lineage WHERE metric_name = 'cat_plan_count';

-- Case 5: a source dropped with CASCADE takes the metrics that depended on
-- it with it: no lineage rows, no catalog rows, no dangling metric rows; the
-- history records what happened.
DROP TABLE cat_lin.plans CASCADE;
SELECT metric_name, count(*) FROM apivalue.metric_lineage
 WHERE metric_name LIKE 'cat\_%' GROUP BY 1 ORDER BY 1;
SELECT name FROM apivalue.metric_catalog WHERE name LIKE 'cat\_%' ORDER BY name;
SELECT name, version FROM apivalue.metrics WHERE name LIKE 'cat\_%' ORDER BY name;
SELECT name, version, action, definition_name
  FROM apivalue.metric_history WHERE name LIKE 'cat\_%' ORDER BY name, changed_at, action;

-- The untouched metric still reads the partitioned table and foreign table.
SELECT DISTINCT source_table::text AS source_table FROM apivalue.metric_lineage
 WHERE metric_name = 'cat_time_to_first_call' ORDER BY 1;

-- Dropping the partitioned table drops the last metric as well.
DROP TABLE cat_lin.events CASCADE;
SELECT count(*) AS metrics_left FROM apivalue.metrics WHERE name LIKE 'cat\_%';

RESET search_path;
DROP SCHEMA cat_lin CASCADE;
DROP SERVER cat_lin_srv;
DROP FOREIGN DATA WRAPPER cat_lin_fdw;
DELETE FROM apivalue.metric_history WHERE name LIKE 'cat\_%';
