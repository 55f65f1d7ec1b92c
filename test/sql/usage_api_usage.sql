SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- api_usage against the plain SQL an analyst would write (FILTER counts,
-- count(DISTINCT), percentile_cont, lag), on random data with NULL
-- latencies, NULL statuses, NULL segments, endpoints that differ only by ids,
-- and days, weeks and months across the DST changes of New York
-- (2026-03-08 and 2026-11-01).

CREATE TABLE usage_api_ev AS
SELECT timestamptz '2026-02-20 00:00+00' + (abs(hashint4(i)) % (40 * 24 * 60)) * interval '1 minute'
         + CASE WHEN i % 10 = 0 THEN interval '250 days' ELSE interval '0' END AS ts,
       (ARRAY['GET /v1/items/', 'POST /v1/keys/', 'GET /v1/users/', 'GET /status'])[1 + abs(hashint4(i * 3)) % 4]
         || CASE abs(hashint4(i * 3)) % 4
              WHEN 0 THEN (abs(hashint4(i * 5)) % 5000)::text
              WHEN 1 THEN lpad(to_hex(abs(hashint4(i * 7))), 8, '0') || '/rotate'
              WHEN 2 THEN (abs(hashint4(i * 5)) % 90 + 10)::text
              ELSE '' END AS endpoint,
       'u' || (abs(hashint4(i * 11)) % 60) AS user_id,
       CASE WHEN i % 23 = 0 THEN NULL
            ELSE (ARRAY[200, 200, 200, 201, 204, 304, 400, 404, 429, 500, 502, 503])[1 + abs(hashint4(i * 13)) % 12] END AS status,
       CASE WHEN i % 19 = 0 THEN NULL
            ELSE round((5 + 400 * ((abs(hashint4(i * 17)) % 1000) / 1000.0) ^ 3)::numeric, 3)::float8 END AS latency_ms,
       CASE WHEN i % 29 = 0 THEN NULL ELSE (ARRAY['free', 'pro', 'enterprise'])[1 + abs(hashint4(i * 19)) % 3] END AS tier
  FROM generate_series(1, 6000) i;
ALTER TABLE usage_api_ev ADD COLUMN latency_iv interval, ADD COLUMN status_text text;
UPDATE usage_api_ev SET latency_iv = latency_ms * interval '1 millisecond', status_text = status::text;
ANALYZE usage_api_ev;

-- the reference: periods by date_trunc in the zone, previous period by
-- calendar arithmetic on local dates (independent of period_start)
CREATE FUNCTION usage_api_ref(tz text, per text, seg boolean) RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  WITH g AS (
    SELECT date_trunc(per, ts, tz) AS p,
           CASE WHEN seg THEN tier END AS s,
           apivalue.normalize_step(endpoint) AS e,
           count(*) AS calls, count(DISTINCT user_id) AS users,
           count(*) FILTER (WHERE status BETWEEN 500 AND 599)::float8 / NULLIF(count(status), 0) AS r5,
           count(*) FILTER (WHERE status BETWEEN 400 AND 499)::float8 / NULLIF(count(status), 0) AS r4,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
      FROM usage_api_ev GROUP BY 1, 2, 3
  ), l AS (
    SELECT g.*, lag(p) OVER w AS pp, lag(calls) OVER w AS pc
      FROM g WINDOW w AS (PARTITION BY s, e ORDER BY p)
  )
  SELECT concat_ws('|', p, coalesce(s, '<null>'), e),
         concat_ws('|', calls, users, r5, r4, p50, p95, p99,
                   CASE WHEN CASE per
                               WHEN 'month' THEN (extract(year FROM p AT TIME ZONE tz) * 12 + extract(month FROM p AT TIME ZONE tz))
                                               - (extract(year FROM pp AT TIME ZONE tz) * 12 + extract(month FROM pp AT TIME ZONE tz)) = 1
                               WHEN 'hour' THEN p - pp = interval '1 hour'
                               WHEN 'week' THEN (p AT TIME ZONE tz)::date - (pp AT TIME ZONE tz)::date = 7
                               ELSE (p AT TIME ZONE tz)::date - (pp AT TIME ZONE tz)::date = 1 END
                        THEN calls::float8 / pc - 1 END)
    FROM l
$$;
CREATE FUNCTION usage_api_actual(tz text, per text, seg boolean) RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  SELECT concat_ws('|', period_start, coalesce(segment, '<null>'), endpoint),
         concat_ws('|', calls, users, server_error_rate, client_error_rate, p50_ms, p95_ms, p99_ms, calls_change)
    FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms',
                            period => per, time_zone => tz,
                            segment_column => CASE WHEN seg THEN 'tier' END)
$$;

SET TimeZone = 'UTC';
SELECT tz, per, seg, d.*
  FROM (VALUES ('UTC', 'day', false), ('America/New_York', 'day', false), ('America/New_York', 'day', true),
               ('America/New_York', 'week', true), ('Europe/Berlin', 'month', true), ('Asia/Kolkata', 'hour', false)) c(tz, per, seg),
       LATERAL avtest.diff(format('SELECT * FROM usage_api_actual(%L, %L, %L)', tz, per, seg),
                           format('SELECT * FROM usage_api_ref(%L, %L, %L)', tz, per, seg)) d
 ORDER BY 1, 2, 3;

-- the DST days of New York are 23 and 25 hours long, and each is one period
SELECT period_start, period_start + interval '1 day' - lead(period_start) OVER (ORDER BY period_start) AS not_24h
  FROM (SELECT DISTINCT period_start FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status',
                                                             'latency_ms', time_zone => 'America/New_York')) d
 WHERE period_start BETWEEN '2026-03-07' AND '2026-03-09 12:00+00'
    OR period_start BETWEEN '2026-10-31' AND '2026-11-02 12:00+00'
 ORDER BY 1;

-- normalization: ids collapse; normalize_endpoints => false keeps them
SELECT count(DISTINCT endpoint) AS normalized_endpoints
  FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms');
SELECT count(DISTINCT endpoint) = (SELECT count(DISTINCT endpoint) FROM usage_api_ev) AS raw_endpoints_kept
  FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms',
                          normalize_endpoints => false);

-- an interval latency column and a text status column give the same answers
SELECT * FROM avtest.diff(
  $$SELECT concat_ws('|', period_start, endpoint) AS k,
           concat_ws('|', calls, server_error_rate, client_error_rate, round(p50_ms::numeric, 6), round(p95_ms::numeric, 6), round(p99_ms::numeric, 6)) AS v
      FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status_text', 'latency_iv')$$,
  $$SELECT concat_ws('|', period_start, endpoint) AS k,
           concat_ws('|', calls, server_error_rate, client_error_rate, round(p50_ms::numeric, 6), round(p95_ms::numeric, 6), round(p99_ms::numeric, 6)) AS v
      FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms')$$);

-- Hand-made: calls_change only against the immediately preceding period
CREATE TABLE usage_api_hand (at timestamp, ep text, who int, st int, ms numeric);
INSERT INTO usage_api_hand VALUES
  ('2026-03-01 10:00', '/a/1', 1, 200, 10), ('2026-03-01 11:00', '/a/2', 2, 500, 20),
  ('2026-03-02 10:00', '/a/3', 1, 404, 30),
  -- no call on 03-03; 03-04 has 3 calls: no change (the previous day had none)
  ('2026-03-04 23:30', '/a/1', 1, NULL, NULL), ('2026-03-04 09:00', '/a/1', 3, 200, 40), ('2026-03-04 01:00', '/a/9', NULL, 201, 50),
  ('2026-03-05 00:10', '/a/1', 1, 200, 60),
  (NULL, '/a/1', 1, 200, 1), ('2026-03-05 00:20', NULL, 1, 200, 1);
-- a timestamp column holds wall-clock times of time_zone: the same days in any zone
SELECT * FROM apivalue.api_usage('usage_api_hand', 'at', 'ep', 'who', 'st', 'ms', time_zone => 'Asia/Tokyo');
SELECT period_start, endpoint, calls, calls_change
  FROM apivalue.api_usage('usage_api_hand', 'at', 'ep', 'who', NULL, NULL, normalize_endpoints => false);

-- Bad input: SQLSTATE and message
CREATE FUNCTION usage_api_err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'no error';
EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'tss', 'endpoint', 'user_id', 'status', 'latency_ms')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'user_id', 'endpoint', 'user_id', 'status', 'latency_ms')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'ts', 'latency_ms')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'tier')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms', period => 'fortnight')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms', time_zone => 'Mars/Olympus')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms', period => NULL)$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint; DROP TABLE usage_api_ev', 'user_id', 'status', 'latency_ms')$q$);
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('no_such_table', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms')$q$);
INSERT INTO usage_api_ev (ts, endpoint) VALUES ('infinity', '/x');
SELECT usage_api_err($q$SELECT * FROM apivalue.api_usage('usage_api_ev', 'ts', 'endpoint', 'user_id', 'status', 'latency_ms')$q$);

DROP TABLE usage_api_ev, usage_api_hand;
DROP FUNCTION usage_api_ref(text, text, boolean), usage_api_actual(text, text, boolean), usage_api_err(text);
