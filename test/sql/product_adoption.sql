SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- feature_adoption and adoption_velocity: a hand-computed table, then plain
-- SQL references on random data.
\i test/data/diff.sql
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS pra CASCADE;
CREATE SCHEMA pra;
RESET client_min_messages;
SET timezone = 'UTC';

-- Weeks start on Monday (2024-01-01 is one).
--   u1 first seen 01-01, uses keys 01-03 12:00          (keys: t = 2 days)
--   u2 first seen 01-02, never uses a feature            (censored at 7 days)
--   u3 first seen 01-08 using keys, hooks 01-09          (keys: t = 0, hooks: t = 1)
--   u4 first seen 01-09 (= as_of, the latest event)      (censored at 0)
CREATE TABLE pra.ev (u int, ts timestamptz, f text);
INSERT INTO pra.ev VALUES (1, '2024-01-01', NULL), (1, '2024-01-03 12:00', 'keys'), (2, '2024-01-02', NULL),
  (3, '2024-01-08', 'keys'), (3, '2024-01-09', 'hooks'), (4, '2024-01-09', NULL), (NULL, '2024-01-09', 'keys');
-- week 1: active u1, u2; keys adopted by u1 (1 of 2 seen).
-- week 2: active u3, u4; keys used by u3 (new), 2 of 4 seen; hooks new, 1 of 4.
SELECT * FROM apivalue.feature_adoption('pra.ev', 'u', 'ts', 'f');
-- keys:  t=0: n=4 d=1 (u3) c=1 (u4) S = 3/4; t=2: n=2 (u1, u2) d=1 S = 3/8
--        median 2 days; adopted within 30 days 1 - 3/8 = 0.625
-- hooks: t=0: n=4 c=1 (u4); t=1: n=3 d=1 S = 2/3 -> 1/3 adopted, no median
SELECT feature, users, adopters, km_median, round(adopted_by_30d::numeric, 6) AS adopted_by_30d
FROM apivalue.adoption_velocity('pra.ev', 'u', 'ts', 'f');
-- as_of 01-08 12:00: u4 unseen, hooks not yet used, u3 keys at t = 0
SELECT feature, users, adopters, km_median, round(adopted_by_30d::numeric, 6) AS adopted_by_30d
FROM apivalue.adoption_velocity('pra.ev', 'u', 'ts', 'f', as_of => '2024-01-08 12:00+00');
-- daily periods in another zone
SELECT period_start, feature, active_users, feature_users, new_adopters, cumulative_adopters
FROM apivalue.feature_adoption('pra.ev', 'u', 'ts', 'f', period => 'day', time_zone => 'Asia/Tokyo')
ORDER BY 2, 1;

-- Random data.
CREATE TABLE pra.rnd (u int, ts timestamptz, f text);
SELECT setseed(0.77);
INSERT INTO pra.rnd
SELECT u, timestamptz '2024-02-01' + (random() * 80 * 24)::int * interval '1 hour',
       (ARRAY['keys', 'hooks', 'sdk', NULL, NULL])[1 + floor(random() * 5)::int]
FROM generate_series(1, 300) u, generate_series(1, 1 + u % 7) k;

SELECT 'feature_adoption' AS what, d.*
FROM avtest.diff(
  $a$SELECT period_start || '/' || feature AS k,
            concat_ws(' ', active_users, feature_users, round(adoption_rate::numeric, 9), new_adopters,
                      cumulative_adopters, round(cumulative_adoption_rate::numeric, 9)) AS v
     FROM apivalue.feature_adoption('pra.rnd', 'u', 'ts', 'f')$a$,
  $r$WITH e AS (SELECT u, date_trunc('week', ts) AS p, f FROM pra.rnd),
          per AS (SELECT DISTINCT p FROM e),
          fe AS (SELECT DISTINCT f FROM e WHERE f IS NOT NULL),
          first_use AS (SELECT f, u, min(p) AS p FROM e WHERE f IS NOT NULL GROUP BY 1, 2),
          first_seen AS (SELECT u, min(p) AS p FROM e GROUP BY 1)
     SELECT per.p || '/' || fe.f AS k,
            concat_ws(' ',
              (SELECT count(DISTINCT u) FROM e WHERE e.p = per.p),
              (SELECT count(DISTINCT u) FROM e WHERE e.p = per.p AND e.f = fe.f),
              round(((SELECT count(DISTINCT u) FROM e WHERE e.p = per.p AND e.f = fe.f)::float8
                     / (SELECT count(DISTINCT u) FROM e WHERE e.p = per.p))::numeric, 9),
              (SELECT count(*) FROM first_use x WHERE x.f = fe.f AND x.p = per.p),
              (SELECT count(*) FROM first_use x WHERE x.f = fe.f AND x.p <= per.p),
              round(((SELECT count(*) FROM first_use x WHERE x.f = fe.f AND x.p <= per.p)::float8
                     / (SELECT count(*) FROM first_seen s WHERE s.p <= per.p))::numeric, 9)) AS v
     FROM per, fe
     WHERE per.p >= (SELECT min(p) FROM first_use x WHERE x.f = fe.f)$r$) d;

-- velocity: plain-SQL Kaplan-Meier per feature (days from first event)
CREATE FUNCTION pra.velocity_reference(as_of timestamptz) RETURNS TABLE (k text, v text)
LANGUAGE sql AS $$
  WITH e AS (SELECT * FROM pra.rnd WHERE ts <= coalesce(as_of, 'infinity')),
       usr AS (SELECT u, min(ts) AS first_ts FROM e GROUP BY u),
       ao AS (SELECT coalesce(as_of, (SELECT max(ts) FROM e)) AS a),
       fe AS (SELECT DISTINCT f FROM e WHERE f IS NOT NULL),
       tt AS (
         SELECT fe.f, usr.u,
                floor(extract(epoch FROM coalesce(
                  (SELECT min(ts) FROM e WHERE e.u = usr.u AND e.f = fe.f), ao.a) - usr.first_ts) / 86400)::int AS t,
                EXISTS (SELECT 1 FROM e WHERE e.u = usr.u AND e.f = fe.f) AS got
         FROM fe, usr, ao),
       cnt AS (
         SELECT fe.f, g.t,
                (SELECT count(*) FROM tt WHERE tt.f = fe.f AND tt.t >= g.t) AS n,
                (SELECT count(*) FROM tt WHERE tt.f = fe.f AND tt.t = g.t AND tt.got) AS d
         FROM fe, generate_series(0, 90) g(t)),
       km AS (
         SELECT cnt.*, exp(sum(ln(CASE WHEN n > 0 THEN 1 - d::float8 / n ELSE 1 END))
                          OVER (PARTITION BY f ORDER BY t)) AS s
         FROM cnt)
  SELECT fe.f,
         concat_ws(' ',
           (SELECT count(*) FROM usr),
           (SELECT count(*) FROM tt WHERE tt.f = fe.f AND tt.got),
           (SELECT min(t) FROM km WHERE km.f = fe.f AND km.s <= 0.5 + 1e-12) * interval '1 day',
           round((1 - (SELECT s FROM km WHERE km.f = fe.f AND km.t = 29))::numeric, 9))
  FROM fe
$$;
SELECT 'adoption_velocity' AS what, label, d.*
FROM (VALUES ('latest event', NULL::timestamptz), ('as_of 2024-03-10', '2024-03-10 00:00+00')) c(label, as_of),
     LATERAL avtest.diff(
       format($a$SELECT feature AS k, concat_ws(' ', users, adopters, km_median, round(adopted_by_30d::numeric, 9)) AS v
                FROM apivalue.adoption_velocity('pra.rnd', 'u', 'ts', 'f', as_of => %L)$a$, as_of),
       format('SELECT * FROM pra.velocity_reference(%L)', as_of)) d
ORDER BY 2;

-- bad input
\set VERBOSITY terse
SELECT count(*) FROM apivalue.feature_adoption('pra.ev', 'u', 'ts', 'nope');
SELECT count(*) FROM apivalue.feature_adoption('pra.ev', 'u', 'ts', 'f', period => 'fortnight');
SELECT count(*) FROM apivalue.adoption_velocity('pra.ev', 'u', 'f', 'f');
SELECT count(*) FROM apivalue.adoption_velocity('pra.ev', 'u', 'ts', 'f', horizon => '-1 day');

RESET timezone;
SET client_min_messages = warning;
DROP SCHEMA pra CASCADE;
RESET client_min_messages;
