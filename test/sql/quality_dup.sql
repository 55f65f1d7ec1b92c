-- Duplicates: near_duplicate_count, duplicate_keys, duplicate_rate.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql
SET timezone = 'UTC';

-- Hand-made: "a" at 0:00, 0:30 (repeat within 1 min), 5:00 (not); "b" once;
-- "c" three times at the same instant (two repeats); NULLs skipped.
SELECT apivalue.near_duplicate_count(f, t, interval '1 minute') AS near,
       apivalue.near_duplicate_count(f, t, interval '0') AS same_instant,
       apivalue.near_duplicate_count(f, t, interval '1 hour') AS within_hour
FROM (VALUES ('a', '2024-01-01 00:00'::timestamptz), ('a', '2024-01-01 00:00:30'), ('a', '2024-01-01 00:05'),
             ('b', '2024-01-01 00:00:10'), ('c', '2024-01-01 00:01'), ('c', '2024-01-01 00:01'),
             ('c', '2024-01-01 00:01'), (NULL, '2024-01-01 00:01'), ('a', NULL)) v(f, t);
-- Edge cases: no rows, one event, all duplicates, a tolerance boundary
-- (exactly tolerance apart counts), fingerprints with equal prefixes, the
-- empty string, future timestamps.
SELECT apivalue.near_duplicate_count(f, t, interval '1 minute') FROM (SELECT 'x'::text, now() WHERE false) v(f, t);
SELECT apivalue.near_duplicate_count('x', '2024-01-01', interval '1 minute');
SELECT apivalue.near_duplicate_count(f, t, interval '1 minute')
FROM (VALUES ('x', '2024-01-01 00:00'::timestamptz), ('x', '2024-01-01 00:01'), ('x', '2024-01-01 00:02:00.000001'),
             ('xy', '2024-01-01 00:00'), ('', '2999-01-01'), ('', '2999-01-01 00:00:59')) v(f, t);
-- Bad input.
SELECT apivalue.near_duplicate_count('x', 'infinity', interval '1 minute');
SELECT apivalue.near_duplicate_count('x', '2024-01-01', NULL);
SELECT apivalue.near_duplicate_count('x', '2024-01-01', interval '-1 second');
SELECT apivalue.near_duplicate_count('x', t, interval '1 second' * i)
FROM unnest(ARRAY['2024-01-01', '2024-01-02']::timestamptz[]) WITH ORDINALITY u(t, i);
SELECT '\x01'::apivalue.near_duplicate_state;

-- Random data against plain SQL: per user and over the whole table, with
-- fingerprints that collide often.
SELECT setseed(0.5);
CREATE TABLE qd_ev AS
SELECT g AS event_id, (random() * 40)::int AS user_id, 'e' || (random() * 4)::int AS event,
       md5(((random() * 3)::int)::text) AS payload_hash,
       timestamptz '2024-06-01' + (random() * 86400)::int * interval '1 s' AS ts
FROM generate_series(1, 6000) g;
-- Client retries: copies a few seconds later, with and without a new id.
INSERT INTO qd_ev SELECT event_id, user_id, event, payload_hash, ts + (random() * 5)::int * interval '1 s'
FROM qd_ev WHERE random() < 0.03;
INSERT INTO qd_ev SELECT event_id + 100000, user_id, event, payload_hash, ts + (random() * 5)::int * interval '1 s'
FROM qd_ev WHERE random() < 0.03 AND event_id < 100000;
INSERT INTO qd_ev SELECT NULL, user_id, NULL, payload_hash, ts FROM qd_ev WHERE random() < 0.01;
ANALYZE qd_ev;

SELECT * FROM avtest.diff(
  $$SELECT user_id::text AS k,
           apivalue.near_duplicate_count(event || '/' || payload_hash, ts, interval '90 seconds')::text AS v
    FROM qd_ev GROUP BY user_id$$,
  $$SELECT user_id::text AS k, count(*) FILTER (WHERE ts - prev <= interval '90 seconds')::text AS v
    FROM (SELECT user_id, ts, lag(ts) OVER (PARTITION BY user_id, event, payload_hash ORDER BY ts) AS prev
          FROM qd_ev WHERE event IS NOT NULL) x GROUP BY user_id$$);
SELECT * FROM avtest.diff(
  $$SELECT 'all' AS k, apivalue.near_duplicate_count(user_id || event || payload_hash, ts, interval '10 minutes')::text AS v
    FROM qd_ev$$,
  $$SELECT 'all' AS k, count(*) FILTER (WHERE ts - prev <= interval '10 minutes')::text AS v
    FROM (SELECT ts, lag(ts) OVER (PARTITION BY user_id || event || payload_hash ORDER BY ts) AS prev
          FROM qd_ev WHERE event IS NOT NULL) x$$);

-- Offending keys: exact duplicates by event id ...
SELECT * FROM avtest.diff(
  $$SELECT key_value AS k, concat_ws(' ', occurrences, duplicates, first_seen, last_seen) AS v
    FROM apivalue.duplicate_keys('qd_ev', 'event_id', 'ts')$$,
  $$SELECT event_id::text AS k, concat_ws(' ', count(*), count(*) - 1, min(ts), max(ts)) AS v
    FROM qd_ev WHERE event_id IS NOT NULL GROUP BY event_id HAVING count(*) > 1$$);
-- ... and near duplicates by a fingerprint expression.
SELECT * FROM avtest.diff(
  $$SELECT key_value AS k, concat_ws(' ', occurrences, duplicates, first_seen, last_seen) AS v
    FROM apivalue.duplicate_keys('qd_ev', 'user_id || ''/'' || event', 'ts', interval '5 seconds')$$,
  $$SELECT k, concat_ws(' ', count(*), count(*) FILTER (WHERE ts - prev <= interval '5 seconds'), min(ts), max(ts)) AS v
    FROM (SELECT user_id || '/' || event AS k, ts, lag(ts) OVER (PARTITION BY user_id || '/' || event ORDER BY ts) AS prev
          FROM qd_ev WHERE event IS NOT NULL) x
    GROUP BY k HAVING count(*) FILTER (WHERE ts - prev <= interval '5 seconds') > 0$$);
-- Duplicate rate.
SELECT * FROM avtest.diff(
  $$SELECT 'rate' AS k, concat_ws(' ', rows, duplicates, round(duplicate_rate::numeric, 9), offending_keys) AS v
    FROM apivalue.duplicate_rate('qd_ev', 'event_id', 'ts')$$,
  $$SELECT 'rate' AS k, concat_ws(' ', count(event_id), count(event_id) - count(DISTINCT event_id),
           round((count(event_id) - count(DISTINCT event_id))::numeric / count(event_id), 9),
           (SELECT count(*) FROM (SELECT event_id FROM qd_ev WHERE event_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) k)) AS v
    FROM qd_ev$$);
SELECT count(*) > 0 AS has_exact, sum(duplicates) > 0 AS has_dups FROM apivalue.duplicate_keys('qd_ev', 'event_id', 'ts');
-- Bad input: unknown column, an expression that is not one, a second statement.
SELECT * FROM apivalue.duplicate_keys('qd_ev', 'nope', 'ts');
SELECT * FROM apivalue.duplicate_keys('qd_ev', 'event_id', 'user_id');
SELECT * FROM apivalue.duplicate_keys('qd_ev', 'event_id); DROP TABLE qd_ev; --', 'ts');
SELECT * FROM apivalue.duplicate_keys('qd_ev', 'event_id', 'ts', interval '-1 second');

DROP TABLE qd_ev;
