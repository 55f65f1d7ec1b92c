SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- distinct_percentiles against count(DISTINCT) and percentile_cont on random
-- data: text, bigint and numeric users with NULLs, latencies with NULLs,
-- ties, infinities and NaN, in 40 groups.  With parallel
-- plans forced the hash aggregate is partial in the workers, so combine,
-- serialize and deserialize are compared too.

CREATE TABLE usage_dp_ev AS
SELECT ((abs(hashint4(i)) % 40) * (abs(hashint4(i)) % 40)) % 97 AS g,
       CASE WHEN i % 13 = 0 THEN NULL ELSE 'u' || (abs(hashint4(i * 3)) % 300) END AS u_text,
       CASE WHEN i % 17 = 0 THEN NULL ELSE (abs(hashint4(i * 5)) % 200)::bigint - 100 END AS u_big,
       -- 1.0 and 1.00 are equal numerics: counted once, as count(DISTINCT) does
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE round((abs(hashint4(i * 7)) % 50)::numeric / 10, 1 + i % 2) END AS u_num,
       CASE WHEN i % 19 = 0 THEN NULL
            WHEN i % 997 = 0 THEN 'Infinity'::float8
            WHEN i % 1499 = 0 THEN 'NaN'::float8
            WHEN i % 3 = 0 THEN (abs(hashint4(i * 11)) % 20)::float8          -- ties
            ELSE (abs(hashint4(i * 13)) % 100000) / 7.0 END AS lat
  FROM generate_series(1, 8000) i;
ANALYZE usage_dp_ev;

SELECT u, d.*
  FROM (VALUES ('u_text'), ('u_big'), ('u_num')) c(u),
       LATERAL avtest.diff(
         format($a$SELECT g::text AS k, array_to_string(
                    apivalue.distinct_percentiles(%I, lat, '{0.5,0.95,0.99,0,1,0.123}'), '|', '<null>') AS v
                  FROM usage_dp_ev GROUP BY g$a$, u),
         format($r$SELECT g::text AS k, concat_ws('|', count(DISTINCT %I)::float8,
                    array_to_string(percentile_cont('{0.5,0.95,0.99,0,1,0.123}'::float8[])
                                      WITHIN GROUP (ORDER BY lat), '|', '<null>')) AS v
                  FROM usage_dp_ev GROUP BY g$r$, u)) d
 ORDER BY 1;

-- the same under hash aggregation, whatever the planner would choose
SET enable_sort = off;
SELECT d.*
  FROM avtest.diff(
         $a$SELECT g::text AS k, (apivalue.distinct_percentiles(u_text, lat, '{0.25,0.75}'))::text AS v
              FROM usage_dp_ev GROUP BY g$a$,
         $r$SELECT g::text AS k, (ARRAY[count(DISTINCT u_text)::float8]
                             || percentile_cont('{0.25,0.75}'::float8[]) WITHIN GROUP (ORDER BY lat))::text AS v
              FROM usage_dp_ev GROUP BY g$r$) d;
RESET enable_sort;

-- hand-made cases
-- one row
SELECT apivalue.distinct_percentiles(u, l, '{0,0.5,1}')
  FROM (VALUES ('a'::text, 4.5::float8)) v(u, l);
-- all latencies NULL: the percentiles are NULL, the users still counted
SELECT apivalue.distinct_percentiles(u, l, '{0.5}')
  FROM (VALUES ('a'::text, NULL::float8), ('b', NULL), ('a', NULL)) v(u, l);
-- all users NULL: 0 users (as count(DISTINCT))
SELECT apivalue.distinct_percentiles(u, l, '{0.5}'),
       count(DISTINCT u), percentile_cont(0.5) WITHIN GROUP (ORDER BY l)
  FROM (VALUES (NULL::bigint, 1::float8), (NULL, 2), (NULL, 4)) v(u, l);
-- ties and interpolation: 1,2,2,2,10 -> p0.9 = 2 + 0.6 * 8
SELECT apivalue.distinct_percentiles(u, l, '{0.5,0.9,NULL}'),
       count(DISTINCT u), percentile_cont('{0.5,0.9,NULL}'::float8[]) WITHIN GROUP (ORDER BY l)
  FROM (VALUES (1::bigint, 2::float8), (2, 10), (1, 2), (-1, 1), (2, 2)) v(u, l);
-- no rows: NULL (no group)
SELECT apivalue.distinct_percentiles(u, l, '{0.5}') IS NULL AS no_rows
  FROM (VALUES ('a'::text, 1::float8)) v(u, l) WHERE false;
-- a fraction outside [0, 1]
SELECT apivalue.distinct_percentiles(u, l, '{1.5}')
  FROM (VALUES ('a'::text, 1::float8)) v(u, l);
-- a type without hashing
SELECT apivalue.distinct_percentiles(u, l, '{0.5}')
  FROM (VALUES (point(1, 2), 1::float8)) v(u, l);

-- normalize_step's ASCII path (no ICU) against its ICU path: a soft hyphen
-- (U+00AD, removed by NFKC case folding) at the end makes the label
-- non-ASCII without changing its normal form
SELECT count(*) AS labels,
       count(*) FILTER (WHERE apivalue.normalize_step(s) IS DISTINCT FROM
                              apivalue.normalize_step(s || U&'\00AD')) AS mismatches
  FROM (SELECT string_agg(substr(E'AbZz09_-/?#&=;,: \t\n\x0b\f\r{}.Xx7f~' || chr(1) || chr(127),
                                 1 + abs(hashint4(i * 31 + j)) % 41, 1 + (i + j) % 3), '')
               AS s
          FROM generate_series(1, 3000) i, generate_series(1, 12) j
         GROUP BY i) t;

-- period_start's list of periods seen: rows out of time order, across the
-- DST changes of New York, against date_trunc in the zone
SELECT per, count(*) AS rows,
       count(*) FILTER (WHERE apivalue.period_start(ts, per, 'America/New_York')
                              IS DISTINCT FROM date_trunc(per, ts, 'America/New_York')) AS mismatches
  FROM (VALUES ('day'), ('week'), ('month')) p(per),
       LATERAL (SELECT timestamptz '2026-01-01 00:00+00'
                       + (abs(hashint4(i)) % (365 * 24 * 60)) * interval '1 minute' AS ts
                  FROM generate_series(1, 4000) i) t
 GROUP BY per ORDER BY per;

DROP TABLE usage_dp_ev;
