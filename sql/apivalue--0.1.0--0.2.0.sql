-- apivalue 0.1.0 -> 0.2.0
--
-- Every change to an object of the extension between the frozen 0.1.0
-- install script (sql/apivalue--0.1.0.sql) and the families of 0.2.0 is
-- repeated here, so that ALTER EXTENSION apivalue UPDATE yields exactly the
-- objects of a fresh 0.2.0 install; test/layers/upgrade.sh checks that.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.2.0'" to load this file. \quit

-- branch retention2: cohort_retention folds each user's activity flags
-- into the matrix with _retention_counts (new) and sum_arrays; ttfv_report
-- computes the segment and the timestamp check only when asked for.
CREATE FUNCTION apivalue._retention_counts(ru bigint[], mode text, brackets int4range[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_retention_counts'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_counts(bigint[], text, int4range[]) IS
  'internal: one user''s row of the retention matrix from _retention_user: {1, then 1 or 0 per period 1..periods (classic) or per bracket}; NULL without a cohort event';

CREATE OR REPLACE FUNCTION apivalue.cohort_retention(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  periods integer DEFAULT 12,
  mode text DEFAULT 'classic',
  start_condition text DEFAULT NULL,
  return_condition text DEFAULT NULL,
  segment_column text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL,
  brackets int4range[] DEFAULT NULL)
RETURNS TABLE (segment text, cohort_start timestamptz, cohort_size bigint,
               period_number integer, retained_users bigint, retention_rate float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := 'true';
  r text := 'true';
  g text := 'NULL::text';
  w text := '';
  horizon integer := periods;
  lows integer[];
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL OR mode IS NULL OR periods IS NULL THEN
    RAISE EXCEPTION 'period, periods, mode and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF periods < 0 OR periods > 10000 THEN
    RAISE EXCEPTION 'periods must be between 0 and 10000, got %', periods USING ERRCODE = '22023';
  END IF;
  IF mode = 'bracket' THEN
    -- validates the brackets (non-empty, bounded, from period 1)
    PERFORM apivalue.retention_by_mode('{0}', mode, brackets);
    SELECT max(upper(b)) - 1, array_agg(lower(b) ORDER BY o)
      INTO horizon, lows FROM unnest(brackets) WITH ORDINALITY AS x(b, o);
  ELSE
    IF brackets IS NOT NULL THEN
      RAISE EXCEPTION 'brackets are only used with mode "bracket"' USING ERRCODE = '22023';
    END IF;
    PERFORM apivalue.retention_by_mode('{0}', mode);
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF start_condition IS NOT NULL THEN
    s := apivalue._condition(events, start_condition, 'start condition') || ' IS TRUE';
  END IF;
  IF return_condition IS NOT NULL THEN
    r := apivalue._condition(events, return_condition, 'return condition') || ' IS TRUE';
  END IF;
  IF segment_column IS NOT NULL THEN
    -- the user's segment at their cohort event
    g := format('apivalue.value_at_first(%s, %s, %s::text)', t, s,
                apivalue._column(events, segment_column, 'segment column'));
  END IF;
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $5', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $6', t); END IF;

  -- Per user, in one aggregate pass: the cohort period, the latest period
  -- seen (to report only periods that have begun), and the activity flags;
  -- _retention_counts turns them into what the mode counts, a bigint[]
  -- {1, then 1 or 0 per period (or bracket) k >= 1}, and one sum_arrays per
  -- cohort gives {cohort size, retained users per period}.  Unbounded
  -- retention needs activity past the horizon too, so it uses the user's
  -- last active period instead of the bitmap: a run of ones up to it
  -- (sum_arrays handles the ragged lengths).
  IF mode IN ('unbounded', 'rolling') THEN
    q := format($q$
      WITH pu AS (
        SELECT min(%2$s) FILTER (WHERE %3$s) AS cohort_ts,
               max(%2$s) FILTER (WHERE %4$s) AS last_active,
               max(%2$s) AS last_ts,
               %5$s AS g
        FROM %6$s
        WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %7$s
        GROUP BY %1$s
      ), u AS (
        SELECT g, apivalue.period_index(cohort_ts, $2, $3, $4) AS ci,
               apivalue.period_index(last_active, $2, $3, $4)
                 - apivalue.period_index(cohort_ts, $2, $3, $4) AS last_n
        FROM pu WHERE cohort_ts IS NOT NULL
      ), lim AS (
        SELECT apivalue.period_index(max(last_ts), $2, $3, $4) AS last_idx FROM pu
      ), m AS (
        SELECT g, ci, count(*) AS size,
               apivalue.sum_arrays(CASE WHEN last_n >= 0 THEN array_fill(1, ARRAY[least(last_n, $1)::int + 1])
                                        ELSE '{}'::int[] END) AS sums
        FROM u GROUP BY 1, 2
      ) $q$, u, t, s, r, g, events, w);
  ELSE
    -- No row filter but since/until: a NULL user is one group, dropped after
    -- grouping (OFFSET 0 keeps that test out of the scan), and rows without
    -- a time are skipped by the aggregate.  lim comes from the cohort groups
    -- (users without a cohort event form the group ci = NULL).
    q := format($q$
      WITH mu AS (
        SELECT g, ru[1] AS ci, max(ru[2]) AS last_idx,
               apivalue.sum_arrays(apivalue._retention_counts(ru, $7, $8)) AS sums
        FROM (SELECT %1$s AS uid,
                     apivalue._retention_user(%2$s, %3$s, %4$s, $1, $2, $3, $4) AS ru,
                     %5$s AS g
              FROM %6$s %7$s
              GROUP BY %1$s
              OFFSET 0) pu
        WHERE uid IS NOT NULL
        GROUP BY 1, 2
      ), lim AS (
        SELECT max(last_idx) AS last_idx FROM mu
      ), m AS (
        SELECT g, ci, sums[1] AS size, sums FROM mu WHERE ci IS NOT NULL
      ) $q$, u, t, s, r, g, events,
      CASE WHEN w = '' THEN '' ELSE 'WHERE' || substr(w, 5) END);
  END IF;
  q := q || $q$
    SELECT m.g, apivalue.period_index_start(m.ci, $2, $3, $4), m.size,
           (n - 1)::integer,
           CASE WHEN n = 1 THEN m.size ELSE coalesce(m.sums[n], 0) END,
           CASE WHEN n = 1 THEN 1.0::float8 ELSE coalesce(m.sums[n], 0)::float8 / m.size END
    FROM m, lim, generate_series(1, coalesce(cardinality($9), $1) + 1) AS n
    WHERE m.ci + (CASE WHEN n = 1 THEN 0 WHEN $9 IS NULL THEN n - 1 ELSE ($9)[n - 1] END) <= lim.last_idx
    ORDER BY 1, 2, 4 $q$;
  RETURN QUERY EXECUTE q USING horizon, period, time_zone, locale, since, until, mode, brackets, lows;
END
$fn$;

CREATE OR REPLACE FUNCTION apivalue.ttfv_report(
  events regclass, user_column text, time_column text,
  start_condition text, value_condition text,
  within interval DEFAULT NULL,
  period text DEFAULT 'week',
  segment_column text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL,
  timestamp_check text DEFAULT NULL)
RETURNS TABLE (segment text, cohort_start timestamptz, users_started bigint,
               users_reached bigint, activation_rate float8,
               p50 interval, p75 interval, p90 interval, excluded_users bigint,
               km_median interval)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := apivalue._condition(events, start_condition, 'start condition');
  v text := apivalue._condition(events, value_condition, 'value condition');
  g text := 'NULL::text';
  bad text := 'false';
  w text := '';
  q text;
BEGIN
  IF segment_column IS NOT NULL THEN
    g := apivalue._column(events, segment_column, 'segment column') || '::text';
  END IF;
  IF timestamp_check IS NOT NULL THEN
    bad := format('(%s IS NOT TRUE)', apivalue._condition(events, timestamp_check, 'timestamp check'));
  END IF;
  IF within < interval '0' THEN
    RAISE EXCEPTION 'within must not be negative, got %', within
      USING ERRCODE = '22023', HINT = 'Pass NULL for no limit.';
  END IF;
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- unknown period, zone or locale: fail before scanning
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $4', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $5', t); END IF;

  q := format($q$
    WITH e AS (
      SELECT %1$s AS u, %2$s AS ts, %3$s IS TRUE AS s, %4$s IS TRUE AS v,
             %5$s AS g, %6$s AS bad
      FROM %7$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %8$s
    ), pu AS (
      SELECT min(ts) FILTER (WHERE s) AS first_start,
             apivalue.time_to_first_value(ts, s, v, $1) AS ttfv,
             %9$s AS g,
             %10$s AS bad,
             max(ts) AS last_ts
      FROM e
      GROUP BY u
    ), ao AS (
      -- users without value are censored at the latest event time
      SELECT max(last_ts) AS as_of FROM pu
    )
    SELECT g, apivalue.period_start(first_start, $2, $3, $6) AS cohort_start,
           count(*) FILTER (WHERE NOT bad),
           count(ttfv) FILTER (WHERE NOT bad),
           count(ttfv) FILTER (WHERE NOT bad)::float8 / nullif(count(*) FILTER (WHERE NOT bad), 0),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           percentile_cont(0.75) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY ttfv) FILTER (WHERE NOT bad),
           count(*) FILTER (WHERE bad),
           apivalue.km_median(apivalue.km_summary(
             apivalue._km_units(coalesce(ttfv, ao.as_of - first_start), interval '1 day'),
             ttfv IS NOT NULL,
             coalesce(apivalue._km_units($1, interval '1 day'), 3660))
             FILTER (WHERE NOT bad)) * interval '1 day'
    FROM pu CROSS JOIN ao
    WHERE first_start IS NOT NULL
    GROUP BY 1, 2
    ORDER BY 1, 2 $q$, u, t, s, v, g, bad, events, w,
    -- without a segment or a timestamp check, no per-row work for them
    CASE WHEN segment_column IS NULL THEN 'NULL::text' ELSE 'apivalue.value_at_first(ts, s, g)' END,
    CASE WHEN timestamp_check IS NULL THEN 'false'
         ELSE 'coalesce(bool_or(bad) FILTER (WHERE s OR v), false)' END);
  RETURN QUERY EXECUTE q USING within, period, time_zone, since, until, locale;
END
$fn$;
