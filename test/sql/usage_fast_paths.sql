SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

-- The per-row fast paths of api_usage's engine against plain SQL.
--
-- distinct_percentiles hashes and compares smallint, integer, bigint and
-- (under a deterministic collation) text and varchar values inline, skips
-- the probe when a row repeats the group's last value, and selects the
-- percentile rows instead of sorting (a sort for more than 8 fractions):
-- each path, and the generic one (numeric; text under a nondeterministic
-- collation), against count(DISTINCT) and percentile_cont.  Users come in
-- runs (the last-value path) and large groups have many ties, NaN and
-- infinities (the selection).  With parallel plans forced the states are
-- also serialized and combined.

CREATE COLLATION usage_fp_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE usage_fp_ev AS
SELECT i % 5 AS g,
       CASE WHEN i % 23 = 0 THEN NULL ELSE ((i / 3) % 700 - 350)::smallint END AS u2,
       CASE WHEN i % 29 = 0 THEN NULL ELSE (abs(hashint4(i / 4)) % 900) - 450 END AS u4,
       CASE WHEN i % 31 = 0 THEN NULL
            ELSE ((abs(hashint4(i / 2)) % 800)::bigint - 400) * 4294967311 END AS u8,
       CASE WHEN i % 37 = 0 THEN NULL
            ELSE (CASE WHEN i % 2 = 0 THEN 'User' ELSE 'uSER' END) || (abs(hashint4(i / 3)) % 600) END AS ut,
       CASE WHEN i % 41 = 0 THEN NULL ELSE 'v' || (abs(hashint4(i / 5)) % 500) END::varchar(20) AS uv,
       CASE WHEN i % 43 = 0 THEN NULL ELSE round((abs(hashint4(i)) % 300)::numeric / 10, 1 + i % 2) END AS un,
       CASE WHEN i % 19 = 0 THEN NULL
            WHEN i % 701 = 0 THEN 'NaN'::float8
            WHEN i % 809 = 0 THEN 'Infinity'::float8
            WHEN i % 907 = 0 THEN '-Infinity'::float8
            WHEN i % 3 = 0 THEN (abs(hashint4(i * 11)) % 15)::float8          -- ties
            ELSE (abs(hashint4(i * 13)) % 100000) / 7.0 END AS lat
  FROM generate_series(1, 20000) i;

SELECT u, f, d.*
  FROM (VALUES ('u2', 'u2'), ('u4', 'u4'), ('u8', 'u8'), ('ut', 'ut'), ('uv', 'uv'),
               ('ut COLLATE "C"', 'ut COLLATE "C"'), ('un', 'un'),
               ('ut COLLATE usage_fp_ci', 'ut COLLATE usage_fp_ci')) c(u, u_ref),
       (VALUES ('{0.5,0.95,0.99}'), ('{1,0,0.5,0.5,NULL,0.999,0.001}'),
               ('{0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9}')) fr(f),
       LATERAL avtest.diff(
         format($a$SELECT g::text AS k, array_to_string(
                    apivalue.distinct_percentiles(%s, lat, %L), '|', '<null>') AS v
                  FROM usage_fp_ev GROUP BY g$a$, u, f),
         format($r$SELECT g::text AS k, concat_ws('|', count(DISTINCT %s)::float8,
                    array_to_string(percentile_cont(%L::float8[])
                                      WITHIN GROUP (ORDER BY lat), '|', '<null>')) AS v
                  FROM usage_fp_ev GROUP BY g$r$, u_ref, f)) d
 ORDER BY 1, 2;

-- hand-made: equal values are one value; values differing only in their
-- high 32 bits, or only in Unicode normalization, are different values
SELECT (apivalue.distinct_percentiles(u, 1, '{}'))[1] AS distinct_ints,
       count(DISTINCT u) AS reference
  FROM (VALUES (0::bigint), (-1), (4294967296), (-4294967297), (0), (4294967296),
               (9223372036854775807), (-9223372036854775808), (-1)) v(u);
SELECT (apivalue.distinct_percentiles(u, 1, '{}'))[1] AS distinct_texts,
       count(DISTINCT u) AS reference
  FROM (VALUES (''::text), ('a'), ('a'), (repeat('x', 300)), (repeat('x', 300)),
               (U&'\00e9'), (U&'e\0301'), ('A')) v(u);

-- normalize_step's memo: more distinct labels than memo slots (ids, white
-- space, upper case, non-ASCII, longer than the memo keeps), each seen
-- several times in a scrambled order, so entries are hit, spared and
-- replaced; every answer against a first call of a fresh call site (a new
-- plan per label, so no memo)
CREATE FUNCTION usage_fp_fresh(t text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE 'SELECT apivalue.normalize_step($1)' INTO r USING t;
  RETURN r;
END $$;

CREATE TABLE usage_fp_labels AS
SELECT l, CASE l % 7
            WHEN 0 THEN 'GET /v1/Items/' || l
            WHEN 1 THEN E'  post\t/v2/users/u' || l || '/keys  '
            WHEN 2 THEN 'GET /v1/items'
            WHEN 3 THEN U&'GET /v1/r\00e9sum\00e9s/' || (l * 7919)
            WHEN 4 THEN 'GET /' || repeat('Segment/', 40) || l
            WHEN 5 THEN U&'GET /v1/\FF29tems?id=' || l
            ELSE 'PUT /v1/orders/ord_' || md5(l::text) END AS s
  FROM generate_series(1, 8000) l;

SELECT count(*) AS calls,
       count(DISTINCT s) AS labels,
       count(*) FILTER (WHERE got IS DISTINCT FROM ref) AS mismatches
  FROM (SELECT l, s, apivalue.normalize_step(s) AS got
          FROM (SELECT l, s FROM usage_fp_labels, generate_series(1, 4) k
                 ORDER BY hashint4(l * 4 + k) OFFSET 0) o
        OFFSET 0) t
  JOIN (SELECT l, usage_fp_fresh(s) AS ref FROM usage_fp_labels) r USING (l);

DROP FUNCTION usage_fp_fresh(text);
DROP TABLE usage_fp_labels;
DROP TABLE usage_fp_ev;
DROP COLLATION usage_fp_ci;
