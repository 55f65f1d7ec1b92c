-- Shared statistics: documented edge cases (zero cells, empty groups), random
-- tables against plain-SQL references, and bad input with SQLSTATEs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE FUNCTION pg_temp.close(got double precision, ref double precision, rel double precision DEFAULT 1e-9)
RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT got IS NOT NULL AND (got = ref OR abs(got - ref) / rel <= abs(ref)) $$;

-- Empty groups: rates of empty groups and every comparison are NULL.
SELECT * FROM apivalue.two_proportion_test(0, 0, 3, 10);
SELECT * FROM apivalue.two_proportion_test(0, 0, 0, 0);
-- Nobody (or everybody) converted in both groups: no statistic, p = 1, but
-- the interval still says how large a difference the data allow.
SELECT rate1, rate2, diff, z, p_value, round(ci_low::numeric, 4) AS ci_low,
       round(ci_high::numeric, 4) AS ci_high, phi
  FROM apivalue.two_proportion_test(0, 10, 0, 20);
SELECT rate1, rate2, diff, z, p_value, round(ci_low::numeric, 4) AS ci_low,
       round(ci_high::numeric, 4) AS ci_high, phi
  FROM apivalue.two_proportion_test(10, 10, 20, 20);
SELECT * FROM apivalue.wilson_interval(0, 0);
SELECT * FROM apivalue.newcombe_interval(1, 5, 0, 0);
SELECT apivalue.phi_coefficient(0, 0, 0, 0) AS all_zero, apivalue.phi_coefficient(3, 4, 0, 0) AS empty_row,
       apivalue.phi_coefficient(3, 0, 5, 0) AS empty_column;
SELECT apivalue.fisher_exact_p(0, 0, 0, 0) AS all_zero, apivalue.fisher_exact_p(0, 7, 0, 9) AS empty_column;
-- Goodness of fit: nothing to test -> NULL; a count where the share is 0 -> 0.
SELECT apivalue.chisq_gof_p('{}') AS no_categories, apivalue.chisq_gof_p('{0,0}') AS no_counts,
       apivalue.chisq_gof_p('{5}') AS one_category, apivalue.chisq_gof_p('{5,0}', '{1,0}') AS one_positive_share,
       apivalue.chisq_gof_p('{5,3}', '{1,0}') AS impossible_count,
       apivalue.chisq_gof_p('{5,0,5}', '{1,0,1}') AS zero_share_unused,
       apivalue.chisq_gof_p(NULL) AS null_input;
SELECT apivalue.bh_qvalues('{}') AS empty, apivalue.bh_qvalues('{NULL,NULL}') AS all_null,
       apivalue.bh_qvalues('[3:4]={0.01,0.02}') AS keeps_bounds;
-- Huge tables stay finite and tiny p-values do not turn into NaN.
SELECT t.p_value = 0 AS underflows_to_zero, t.phi > 0.99 AS phi_near_one
  FROM apivalue.two_proportion_test(1000000000, 1000000000, 0, 1000000000) t;
SELECT apivalue.fisher_exact_p(3000, 0, 0, 3000) AS far_tail, apivalue.fisher_exact_p(1000000, 1000000, 1000000, 1000000) AS balanced_big;

-- Random tables (deterministic seed) against plain-SQL references.
SELECT setseed(0.8);
CREATE TABLE stats_rt AS
SELECT i, (random() * 12)::int AS a, (random() * 12)::int AS b,
          (random() * 12)::int AS c, (random() * 12)::int AS d
  FROM generate_series(1, 300) i;
UPDATE stats_rt SET a = 0 WHERE i % 10 = 0;           -- zero cells
UPDATE stats_rt SET a = 0, b = 0 WHERE i % 37 = 0;    -- empty first row
UPDATE stats_rt SET b = 0, d = 0 WHERE i % 41 = 0;    -- empty second column

-- Fisher: exact integer weights comb(r1, x) * comb(r2, c1 - x) in numeric,
-- summed where no larger than the observed weight times (1 + 1e-7).
CREATE FUNCTION pg_temp.comb(n int, k int) RETURNS numeric LANGUAGE sql IMMUTABLE AS
$$ SELECT factorial(n) / (factorial(k) * factorial(n - k)) $$;
WITH m AS (
  SELECT i, a, b, c, d, a + b AS r1, c + d AS r2, a + c AS c1 FROM stats_rt
), w AS (
  SELECT m.i, x, pg_temp.comb(r1, x) * pg_temp.comb(r2, c1 - x) AS wx,
         pg_temp.comb(r1, a) * pg_temp.comb(r2, c1 - a) AS wa
    FROM m, generate_series(greatest(0, c1 - r2), least(r1, c1)) x
), ref AS (
  SELECT i, (sum(wx) FILTER (WHERE wx <= wa * 1.0000001) / sum(wx))::float8 AS p FROM w GROUP BY i
)
SELECT count(*) AS tables,
       count(*) FILTER (WHERE NOT pg_temp.close(apivalue.fisher_exact_p(t.a, t.b, t.c, t.d), ref.p, 1e-11)) AS mismatches
  FROM stats_rt t JOIN ref USING (i);

-- z, phi and Newcombe: the textbook formulas in SQL (z_0.975 as a constant).
WITH t AS (
  SELECT i, a AS x1, a + b AS n1, c AS x2, c + d AS n2 FROM stats_rt
), f AS (
  SELECT t.*, x1::float8 / nullif(n1, 0) AS p1, x2::float8 / nullif(n2, 0) AS p2,
         (x1 + x2)::float8 / nullif(n1 + n2, 0) AS pp, 1.959963984540054::float8 AS zc
    FROM t
), w AS (
  SELECT f.*,
         CASE WHEN x1 = 0 THEN 0 ELSE ((p1 + zc^2 / (2 * n1)) - zc * sqrt(p1 * (1 - p1) / n1 + zc^2 / (4 * n1^2))) / (1 + zc^2 / n1) END AS l1,
         CASE WHEN x1 = n1 THEN 1 ELSE ((p1 + zc^2 / (2 * n1)) + zc * sqrt(p1 * (1 - p1) / n1 + zc^2 / (4 * n1^2))) / (1 + zc^2 / n1) END AS u1,
         CASE WHEN x2 = 0 THEN 0 ELSE ((p2 + zc^2 / (2 * n2)) - zc * sqrt(p2 * (1 - p2) / n2 + zc^2 / (4 * n2^2))) / (1 + zc^2 / n2) END AS l2,
         CASE WHEN x2 = n2 THEN 1 ELSE ((p2 + zc^2 / (2 * n2)) + zc * sqrt(p2 * (1 - p2) / n2 + zc^2 / (4 * n2^2))) / (1 + zc^2 / n2) END AS u2
    FROM f WHERE n1 > 0 AND n2 > 0
), ref AS (
  SELECT w.*,
         CASE WHEN pp > 0 AND pp < 1 THEN (p1 - p2) / sqrt(pp * (1 - pp) * (1.0 / n1 + 1.0 / n2)) END AS z,
         CASE WHEN pp > 0 AND pp < 1 THEN (x1 * (n2 - x2) - (n1 - x1) * x2)::float8
                / sqrt(n1::float8 * n2 * (x1 + x2) * (n1 - x1 + n2 - x2)) END AS phi,
         (p1 - p2) - sqrt((p1 - l1)^2 + (u2 - p2)^2) AS lo,
         (p1 - p2) + sqrt((u1 - p1)^2 + (p2 - l2)^2) AS hi
    FROM w
)
SELECT count(*) AS tables,
       count(*) FILTER (WHERE NOT (
         (pg_temp.close(tp.z, ref.z, 1e-12) OR (tp.z IS NULL AND ref.z IS NULL) OR (ref.z = 0 AND tp.z = 0))
         AND (pg_temp.close(tp.phi, ref.phi, 1e-12) OR (tp.phi IS NULL AND ref.phi IS NULL) OR (ref.phi = 0 AND tp.phi = 0))
         AND (abs(tp.ci_low - ref.lo) <= 1e-12) AND (abs(tp.ci_high - ref.hi) <= 1e-12)
         AND tp.ci_low <= tp.diff AND tp.diff <= tp.ci_high
         AND (tp.z IS NOT NULL OR tp.p_value = 1)
         AND (tp.z IS NULL OR pg_temp.close(tp.p_value, 2 * apivalue.normal_cdf(-abs(tp.z)), 1e-12))
       )) AS mismatches,
       count(*) FILTER (WHERE tp.z IS NULL) AS degenerate_tables
  FROM ref, LATERAL apivalue.two_proportion_test(x1, n1, x2, n2) tp;

-- Chi-square tail identities over both algorithm branches:
--   df 1: 2 Phi(-sqrt x);  df 2: e^(-x/2);  df 4: e^(-x/2) (1 + x/2)
SELECT count(*) AS points,
       count(*) FILTER (WHERE NOT (pg_temp.close(apivalue.chisq_p(x, 1), 2 * apivalue.normal_cdf(-sqrt(x)), 1e-11)
                                AND pg_temp.close(apivalue.chisq_p(x, 2), exp(-x / 2), 1e-11)
                                AND pg_temp.close(apivalue.chisq_p(x, 4), exp(-x / 2) * (1 + x / 2), 1e-11))) AS mismatches
  FROM (SELECT random() * 80 AS x FROM generate_series(1, 400)) r;

-- Goodness of fit with two categories is the two-sided z-test of one share:
--   p = 2 Phi(-|o1 - n s| / sqrt(n s (1 - s)))
SELECT count(*) AS splits,
       count(*) FILTER (WHERE NOT pg_temp.close(apivalue.chisq_gof_p(ARRAY[o1, o2], ARRAY[s, 1 - s]),
                                                2 * apivalue.normal_cdf(-abs(o1 - (o1 + o2) * s) / sqrt((o1 + o2) * s * (1 - s))),
                                                1e-10)) AS mismatches
  FROM (SELECT o1, n - o1 AS o2, s
          FROM (SELECT n, s, least(n, greatest(0, round(n * s + (random() - 0.5) * 8 * sqrt(n * s * (1 - s)))))::bigint AS o1
                  FROM (SELECT (10 + random() * 5000)::bigint AS n, 0.05 + random() * 0.9 AS s
                          FROM generate_series(1, 200)) g) h) r;

-- Benjamini-Hochberg against the window-function definition
-- q_(i) = min_{j >= i} m p_(j) / j, capped at 1 (ties and NULLs included).
CREATE TABLE stats_bh AS
SELECT g, i, CASE WHEN random() < 0.1 THEN NULL ELSE round(random()::numeric, 2)::float8 END AS p
  FROM generate_series(1, 20) g, generate_series(1, 30) i;
\i test/data/diff.sql
SELECT * FROM avtest.diff(
  $$ SELECT g::text || ':' || i::text AS k, q::text AS v
       FROM (SELECT g, apivalue.bh_qvalues(array_agg(p ORDER BY i)) AS qs FROM stats_bh GROUP BY g) a,
            unnest(a.qs) WITH ORDINALITY u(q, i) $$,
  $$ WITH r AS (
       SELECT g, i, p, count(p) OVER (PARTITION BY g) AS m,
              row_number() OVER (PARTITION BY g ORDER BY p, i) AS rk
         FROM stats_bh WHERE p IS NOT NULL
     )
     SELECT b.g::text || ':' || b.i::text AS k,
            CASE WHEN r.p IS NOT NULL THEN
              least(1, min(r.m * r.p / r.rk) OVER (PARTITION BY r.g ORDER BY r.p DESC, r.i DESC
                                                   ROWS UNBOUNDED PRECEDING))::text END AS v
       FROM stats_bh b LEFT JOIN r USING (g, i) $$);

-- Bad input, with SQLSTATEs.
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT what, pg_temp.sqlstate_of(stmt) AS error
  FROM (VALUES
    ('negative count',          $$SELECT apivalue.fisher_exact_p(-1, 2, 3, 4)$$),
    ('count too large',         $$SELECT apivalue.phi_coefficient(1, 2, 3, 9000000000000000000)$$),
    ('successes above trials',  $$SELECT apivalue.two_proportion_test(11, 10, 1, 10)$$),
    ('confidence 1',            $$SELECT apivalue.wilson_interval(1, 10, 1)$$),
    ('confidence NaN',          $$SELECT apivalue.newcombe_interval(1, 10, 2, 10, 'NaN')$$),
    ('quantile outside [0,1]',  $$SELECT apivalue.normal_quantile(1.5)$$),
    ('cdf of NaN',              $$SELECT apivalue.normal_cdf('NaN')$$),
    ('negative chi-square',     $$SELECT apivalue.chisq_p(-1, 3)$$),
    ('zero degrees of freedom', $$SELECT apivalue.chisq_p(1, 0)$$),
    ('p-value above 1',         $$SELECT apivalue.bh_qvalues('{0.5,1.5}')$$),
    ('p-value NaN',             $$SELECT apivalue.bh_qvalues('{NaN}')$$),
    ('two-dimensional p',       $$SELECT apivalue.bh_qvalues('{{0.1,0.2},{0.3,0.4}}')$$),
    ('share count mismatch',    $$SELECT apivalue.chisq_gof_p('{1,2,3}', '{0.5,0.5}')$$),
    ('negative share',          $$SELECT apivalue.chisq_gof_p('{1,2}', '{-0.5,1.5}')$$),
    ('NULL observed element',   $$SELECT apivalue.chisq_gof_p('{1,NULL}')$$),
    ('negative observed',       $$SELECT apivalue.chisq_gof_p('{1,-2}')$$)
  ) v(what, stmt)
 ORDER BY what;

DROP TABLE stats_rt, stats_bh;
