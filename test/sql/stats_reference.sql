-- Shared statistics against independently computed reference values.
--
-- Every reference below was computed offline with Python 3's standard library
-- only, not with the C code under test:
--   normal_cdf     0.5 * erfc(-z/sqrt 2) with erf from its Taylor series in
--                  decimal arithmetic (80 digits);
--   normal_quantile statistics.NormalDist().inv_cdf (Wichura's AS241, a
--                  different algorithm from ours);
--   chisq_p        closed forms in 80-digit decimals: even df
--                  Q = e^-y sum_{i<df/2} y^i/i!, odd df
--                  Q = erfc(sqrt y) + e^-y sum_{i=1..(df-1)/2} y^(i-1/2)/Gamma(i+1/2), y = x/2;
--   fisher_exact_p exact fractions: hypergeometric probabilities from
--                  math.comb, summed where p <= p_observed * (1 + 1e-7);
--   wilson / newcombe / z / phi  the textbook formulas in 80-digit decimals,
--                  z_0.975 = NormalDist().inv_cdf(0.975).
-- Newcombe's intervals are also those printed in Newcombe (1998), Table II,
-- method 10 (to 4 decimals): 56/70-48/80 (0.0524, 0.3339), 9/10-3/10
-- (0.1705, 0.8090), 6/7-2/7 (0.0582, 0.8062), 5/56-0/29 (-0.0381, 0.1926),
-- 0/10-0/20 (-0.1611, 0.2775), 0/10-0/10 (-0.2775, 0.2775), 10/10-0/20
-- (0.6791, 1.0000), 10/10-0/10 (0.6075, 1.0000).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- close: equal within a relative 1e-9 (exactly equal at zero)
CREATE FUNCTION pg_temp.close(got double precision, ref double precision, rel double precision DEFAULT 1e-9)
RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT got IS NOT NULL AND (got = ref OR abs(got - ref) / rel <= abs(ref)) $$;
CREATE FUNCTION pg_temp.show(v double precision) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN v IS NULL THEN 'NULL' ELSE to_char(v, '9.9999999EEEE') END $$;

-- Normal distribution, far into both tails.
SELECT z, pg_temp.show(apivalue.normal_cdf(z)) AS cdf, pg_temp.close(apivalue.normal_cdf(z), ref) AS ok
  FROM (VALUES (-8, 6.2209605742717839e-16), (-3, 0.0013498980316300946),
               (-1.96, 0.024997895148220435), (0, 0.5), (1, 0.84134474606854293),
               (1.96, 0.97500210485177952), (3, 0.9986501019683699),
               (8, 0.99999999999999933)) v(z, ref)
 ORDER BY z;

SELECT p, pg_temp.show(apivalue.normal_quantile(p)) AS z,
       pg_temp.close(apivalue.normal_quantile(p), ref, 1e-12) AS ok
  FROM (VALUES (1e-10, -6.361340902404056), (0.001, -3.090232306167813),
               (0.025, -1.9599639845400538), (0.3, -0.5244005127080407),
               (0.975, 1.9599639845400536), (0.999, 3.090232306167813),
               (0.9999999999, 6.361340889697421)) v(p, ref)
 ORDER BY p;
SELECT apivalue.normal_quantile(0.5) AS median, apivalue.normal_quantile(0) AS at_0,
       apivalue.normal_quantile(1) AS at_1;

-- Chi-square upper tail: both branches (series for x < df/2 + 1, continued
-- fraction above), tails down to 1e-17, large df.
SELECT x, df, pg_temp.show(apivalue.chisq_p(x, df)) AS p, pg_temp.close(apivalue.chisq_p(x, df), ref) AS ok
  FROM (VALUES (3.841458820694124, 1, 0.050000000000000058), (0.5, 1, 0.47950012218695348),
               (1e-06, 1, 0.99920211557217786), (2, 2, 0.36787944117144233),
               (7.5, 3, 0.057558451972636406), (10, 4, 0.040427681994512805),
               (0.01, 5, 0.99999946997299571), (30, 10, 0.00085664121077530042),
               (100, 10, 5.4497019829205295e-17), (50, 30, 0.012402060718900579),
               (150, 100, 0.00090393204235400906)) v(x, df, ref)
 ORDER BY df, x;
SELECT apivalue.chisq_p(0, 3) AS at_zero, apivalue.chisq_p('Infinity', 3) AS at_infinity;

-- Fisher's exact test, two-sided, zero cells and zero margins included.
SELECT a, b, c, d, pg_temp.show(apivalue.fisher_exact_p(a, b, c, d)) AS p,
       pg_temp.close(apivalue.fisher_exact_p(a, b, c, d), ref) AS ok
  FROM (VALUES (3, 1, 1, 3, 0.48571428571428571), (1, 9, 11, 3, 0.0027594561852200836),
               (0, 5, 5, 0, 0.0079365079365079361), (0, 10, 0, 10, 1),
               (10, 0, 0, 10, 1.082508822446903e-05), (2, 7, 8, 2, 0.023014137565221155),
               (5, 5, 5, 5, 1), (1, 1000, 20, 980, 9.9598712718276433e-06),
               (500, 500, 450, 550, 0.028203568904234012), (0, 0, 0, 0, 1),
               (7, 0, 0, 0, 1), (0, 30, 6, 24, 0.023720703916957263)) v(a, b, c, d, ref)
 ORDER BY a, b, c, d;

-- Wilson score intervals (95 %).
SELECT x, n, pg_temp.show(w.low) AS low, pg_temp.show(w.high) AS high,
       pg_temp.close(w.low, rlow) OR (rlow = 0 AND w.low = 0) AS low_ok,
       pg_temp.close(w.high, rhigh) AS high_ok
  FROM (VALUES (0, 10, 0, 0.27753279986288915), (10, 10, 0.72246720013711085, 1),
               (1, 2, 0.094531205734230753, 0.90546879426576921),
               (56, 70, 0.69183355503746935, 0.8769526075163705),
               (0, 1, 0, 0.79345068562276255),
               (3, 1000, 0.0010207838811386193, 0.0087830140535031711)) v(x, n, rlow, rhigh),
       LATERAL apivalue.wilson_interval(x, n) w
 ORDER BY n, x;

-- Newcombe hybrid score intervals, Newcombe (1998) Table II examples.
SELECT x1, n1, x2, n2, round(nc.low::numeric, 4) AS low4, round(nc.high::numeric, 4) AS high4,
       pg_temp.close(nc.low, rlow) AS low_ok, pg_temp.close(nc.high, rhigh) AS high_ok
  FROM (VALUES (56, 70, 48, 80, 0.052431472402364926, 0.33387265403690591),
               (9, 10, 3, 10, 0.17052272393450302, 0.80901797353548799),
               (6, 7, 2, 7, 0.058227927482312355, 0.80624963752422774),
               (5, 56, 0, 29, -0.038137147903536839, 0.19256001385511157),
               (0, 10, 0, 20, -0.1611251580528193, 0.27753279986288915),
               (0, 10, 0, 10, -0.27753279986288915, 0.27753279986288915),
               (10, 10, 0, 20, 0.67908603714191484, 1),
               (10, 10, 0, 10, 0.60750935043052434, 1)) v(x1, n1, x2, n2, rlow, rhigh),
       LATERAL apivalue.newcombe_interval(x1, n1, x2, n2) nc
 ORDER BY x1, n1, x2, n2;

-- Two-proportion z-test and phi, zero cells included; phi = z / sqrt(n1 + n2).
SELECT x1, n1, x2, n2, pg_temp.show(t.z) AS z, pg_temp.show(t.p_value) AS p_value,
       pg_temp.show(t.phi) AS phi,
       pg_temp.close(t.z, rz) AND pg_temp.close(t.p_value, rp) AND pg_temp.close(t.phi, rphi) AS ok,
       pg_temp.close(t.z / sqrt(n1 + n2), t.phi, 1e-12) AS phi_is_z_over_root_n,
       pg_temp.close(t.diff, x1::float8 / n1 - x2::float8 / n2, 1e-15) AS diff_ok
  FROM (VALUES (56, 70, 48, 80, 2.6501719512585327, 0.0080450813681965851, 0.2163856337073152),
               (120, 1000, 80, 1000, 2.9814239699997196, 0.0028691127920766157, 0.066666666666666666),
               (1, 10, 0, 10, 1.0259783520851542, 0.30490178817878832, 0.22941573387056177),
               (0, 10, 10, 10, -4.4721359549995796, 7.7442164310440841e-06, -1)) v(x1, n1, x2, n2, rz, rp, rphi),
       LATERAL apivalue.two_proportion_test(x1, n1, x2, n2) t
 ORDER BY x1, n1, x2, n2;

SELECT a, b, c, d, pg_temp.show(apivalue.phi_coefficient(a, b, c, d)) AS phi,
       pg_temp.close(apivalue.phi_coefficient(a, b, c, d), ref) AS ok
  FROM (VALUES (10, 20, 30, 40, -0.089087080637474794), (0, 5, 5, 0, -1), (3, 0, 0, 4, 1)) v(a, b, c, d, ref)
 ORDER BY a;

-- Benjamini-Hochberg by hand (m = number of non-NULL p-values):
--   {0.01, 0.04, 0.03, NULL, 0.5}, m = 4, sorted 0.01 0.03 0.04 0.5:
--     m p / rank = 0.04, 0.06, 0.0533.., 0.5; running minimum from the top
--     gives q = {0.04, 0.0533.., 0.0533.., NULL, 0.5}
--   {0.9, 0.9, 0.02, 0.001}, m = 4: 4*0.001/1 = 0.004, 4*0.02/2 = 0.04,
--     4*0.9/3 = 1.2, 4*0.9/4 = 0.9 -> q = {0.9, 0.9, 0.04, 0.004}
--   {0.2, 0.2, 0.2}: 0.6, 0.3, 0.2 -> all 0.2 (ties share their q)
--   {0.8}: 0.8; {0.3, 0.6}: 0.6, 0.6
SELECT input, apivalue.bh_qvalues(input) AS q,
       (SELECT bool_and(pg_temp.close(g, r, 1e-14) OR (g IS NULL AND r IS NULL))
          FROM unnest(apivalue.bh_qvalues(input), expected) u(g, r)) AS ok
  FROM (VALUES ('{0.01,0.04,0.03,NULL,0.5}'::float8[], '{0.04,0.053333333333333333,0.053333333333333333,NULL,0.5}'::float8[]),
               ('{0.9,0.9,0.02,0.001}', '{0.9,0.9,0.04,0.004}'),
               ('{0.2,0.2,0.2}', '{0.2,0.2,0.2}'),
               ('{0.8}', '{0.8}'),
               ('{0.3,0.6}', '{0.6,0.6}')) v(input, expected)
 ORDER BY cardinality(input), input::text;

-- Chi-square goodness of fit (sample ratio mismatch), by hand:
--   450/550 against 50/50: (50^2/500) * 2 = 10 on 1 df -> erfc(sqrt 5) = 0.0015654022580025497
--   30/30/40 against equal thirds (100/3 each): 1/3 + 1/3 + 4/3 = 2 on 2 df -> e^-1 = 0.36787944117144233
--   200/300/500 against 2:3:5 (shares are normalized): statistic 0 -> p = 1
SELECT observed, shares, pg_temp.show(apivalue.chisq_gof_p(observed, shares)) AS p,
       pg_temp.close(apivalue.chisq_gof_p(observed, shares), ref, 1e-12) AS ok
  FROM (VALUES ('{450,550}'::bigint[], NULL::float8[], 0.0015654022580025497),
               ('{30,30,40}', NULL, 0.36787944117144233),
               ('{200,300,500}', '{2,3,5}', 1)) v(observed, shares, ref)
 ORDER BY observed::text;
