SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- Chart aggregates under forced parallel plans: partial states (jsonb row
-- arrays) combined across workers give exactly the serial picture.
SET TimeZone = 'UTC';
CREATE TABLE charts_par AS
SELECT 'series ' || (i % 3) AS s, (i / 3)::float8 AS x, (abs(hashint4(i)) % 1000)::float8 AS y,
       'check ' || (i % 4) AS check_name, timestamptz '2026-01-01' + i * interval '1 minute' AS run_at,
       (ARRAY['pass', 'warn', 'fail', 'error'])[1 + abs(hashint4(i + 7)) % 4] AS status,
       'cohort ' || lpad((i % 20)::text, 2, '0') AS cohort, (i / 20) % 12 AS period
FROM generate_series(1, 3000) i;
ANALYZE charts_par;
CREATE TEMP TABLE serial_out AS
SELECT apivalue.line_svg(s, x, y) AS l, apivalue.status_strip_svg(check_name, run_at, status, '{"max_runs": 100}') AS st,
       apivalue.heatmap_svg(cohort, period, y) AS h
FROM charts_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
CREATE FUNCTION charts_par_plan() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE r text; found boolean := false;
BEGIN
  FOR r IN EXPLAIN SELECT apivalue.line_svg(s, x, y) FROM charts_par LOOP
    found := found OR r ~ 'Partial Aggregate';
  END LOOP;
  RETURN found;
END $$;
SELECT charts_par_plan() AS partial_aggregate_planned;
SELECT (SELECT apivalue.line_svg(s, x, y) FROM charts_par) = l AS line_same,
       (SELECT apivalue.status_strip_svg(check_name, run_at, status, '{"max_runs": 100}') FROM charts_par) = st AS status_same,
       (SELECT apivalue.heatmap_svg(cohort, period, y) FROM charts_par) = h AS heatmap_same,
       xml_is_well_formed_document(l) AND xml_is_well_formed_document(st) AND xml_is_well_formed_document(h) AS well_formed
FROM serial_out;
RESET ALL;
DROP FUNCTION charts_par_plan();
DROP TABLE charts_par;
