-- near_duplicate_count with many distinct, long fingerprints per group, with
-- parallel plans forced here (partial states pass from workers to the
-- leader in tuples).  Its working state once doubled as a whole each time
-- its fingerprint table or fingerprint bytes grew: a few hundred KB of
-- content became hundreds of MB, and at 1 GB a worker's partial state no
-- longer fit in a tuple ("tuple is too big").  Checked: the answers against
-- plain SQL, and the hash aggregation's peak memory (every process) stays
-- within a small multiple of the content.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

SELECT setseed(0.25);
-- 4 tenants x 1200 events, fingerprints of ~100 bytes nearly all distinct,
-- plus retries of some of them 0-6 s later.
CREATE TABLE qdp_ev AS
SELECT 't' || (g % 4) AS tenant,
       repeat(md5(g::text), 3) || '|' || (g % 7) AS fp,
       timestamptz '2024-06-01' + (random() * 3600)::int * interval '1 s' AS ts
FROM generate_series(1, 4800) g;
INSERT INTO qdp_ev SELECT tenant, fp, ts + (random() * 6)::int * interval '1 s'
FROM qdp_ev WHERE random() < 0.1;
ANALYZE qdp_ev;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

SELECT * FROM avtest.diff(
  $$SELECT tenant AS k, apivalue.near_duplicate_count(fp, ts, interval '5 seconds')::text AS v
    FROM qdp_ev GROUP BY tenant$$,
  $$SELECT tenant AS k, count(*) FILTER (WHERE ts - prev <= interval '5 seconds')::text AS v
    FROM (SELECT tenant, ts, lag(ts) OVER (PARTITION BY tenant, fp ORDER BY ts) AS prev
          FROM qdp_ev) x GROUP BY tenant$$);

-- Peak memory of the aggregation, in every process that ran it: the content
-- is about 5300 x (100 + 40) bytes, some 740 kB in all (the code before used
-- 30 MB and more per process).
CREATE FUNCTION pg_temp.qdp_peak_kb(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  plan jsonb;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) ' || q INTO plan;
  RETURN (SELECT max(m::bigint) FROM jsonb_path_query(plan, 'strict $.**."Peak Memory Usage"') m);
END $$;
SELECT pg_temp.qdp_peak_kb($$SELECT tenant, apivalue.near_duplicate_count(fp, ts, interval '5 seconds')
                             FROM qdp_ev GROUP BY tenant$$) < 8192 AS peak_below_8mb;
SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.qdp_peak_kb($$SELECT tenant, apivalue.near_duplicate_count(fp, ts, interval '5 seconds')
                             FROM qdp_ev GROUP BY tenant$$) < 8192 AS serial_peak_below_8mb;
RESET ALL;

DROP TABLE qdp_ev;
