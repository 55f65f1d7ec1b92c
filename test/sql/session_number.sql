-- session_number(ts, gap): edge cases, bad input, and a randomized
-- differential test against lag() + sum() window functions.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';

CREATE TABLE sn_edge (id int, u int, ts timestamptz);
INSERT INTO sn_edge VALUES
  -- user 1: gaps of exactly 30 min (same session), 30 min + 1 us (new),
  -- equal timestamps (same), a NULL ts (NULL, does not break the session)
  (1, 1, '2024-01-01 10:00'), (2, 1, '2024-01-01 10:30'),
  (3, 1, '2024-01-01 11:00:00.000001'), (4, 1, '2024-01-01 11:00:00.000001'),
  (5, 1, NULL), (6, 1, '2024-01-01 11:20'), (7, 1, '2024-01-02 00:00'),
  -- user 2: one event
  (8, 2, '2024-01-01 00:00'),
  -- user 3: only NULL
  (9, 3, NULL);
SELECT id, u, ts,
       apivalue.session_number(ts, '30 minutes') OVER w AS s30,
       apivalue.session_number(ts, '0') OVER w AS s0,
       apivalue.session_number(ts::timestamp, '1 day') OVER w AS s1d
FROM sn_edge WINDOW w AS (PARTITION BY u ORDER BY ts, id)
ORDER BY u, ts, id;

-- NULL ts first (NULLS FIRST) does not change the numbering of the others
SELECT id, apivalue.session_number(ts, '30 minutes') OVER (PARTITION BY u ORDER BY ts NULLS FIRST, id) AS s
FROM sn_edge WHERE u = 1 ORDER BY id;

-- bad input
SELECT apivalue.session_number(ts, '-1 second') OVER (PARTITION BY u ORDER BY ts) FROM sn_edge;
SELECT apivalue.session_number(ts, NULL) OVER (PARTITION BY u ORDER BY ts) FROM sn_edge;
SELECT apivalue.session_number(ts, '1 hour') OVER (PARTITION BY u ORDER BY ts DESC) FROM sn_edge;
SELECT apivalue.session_number(ts, '1 hour') OVER (ORDER BY ts)
FROM (VALUES ('2024-01-01'::timestamptz), ('infinity')) v(ts);
DROP TABLE sn_edge;

-- Randomized differential test (several gaps, ties, NULL timestamps).
\i test/data/diff.sql
SELECT setseed(0.1717);
CREATE TABLE sn_rand AS
SELECT row_number() OVER () AS id, u,
       CASE WHEN random() < 0.03 THEN NULL
            ELSE '2024-01-01'::timestamptz + floor(random() * 20000) * interval '1 minute' END AS ts
FROM generate_series(1, 200) u, LATERAL generate_series(1, (random() * 60)::int) i;

SELECT gap, d.* FROM unnest(ARRAY['0', '5 minutes', '1 hour', '1 day', '1 mon']::interval[]) gap,
LATERAL avtest.diff(
  format($$SELECT id::text AS k, apivalue.session_number(ts, %L) OVER (PARTITION BY u ORDER BY ts, id)::text AS v
           FROM sn_rand$$, gap),
  format($$SELECT id::text AS k,
                  CASE WHEN ts IS NOT NULL THEN
                    sum(CASE WHEN prev IS NULL OR ts - prev > %L::interval THEN 1 ELSE 0 END)
                      OVER (PARTITION BY u ORDER BY ts, id) END::text AS v
           FROM (SELECT id, u, ts, lag(ts) OVER (PARTITION BY u ORDER BY ts, id) AS prev
                 FROM sn_rand WHERE ts IS NOT NULL) x
           UNION ALL
           SELECT id::text, NULL FROM sn_rand WHERE ts IS NULL$$, gap)) d
ORDER BY gap;
DROP TABLE sn_rand;
