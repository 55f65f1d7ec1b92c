-- apivalue 0.1.0 -> 0.2.0
--
-- Every change to an object of the extension between the frozen 0.1.0
-- install script (sql/apivalue--0.1.0.sql) and the families of 0.2.0 is
-- repeated here, so that ALTER EXTENSION apivalue UPDATE yields exactly the
-- objects of a fresh 0.2.0 install; test/layers/upgrade.sh checks that.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.2.0'" to load this file. \quit

-- branch product2: funnel_report filters the scan to rows matching a step or an
-- exclusion (all rows only in strict_order mode)
CREATE OR REPLACE FUNCTION apivalue.funnel_report(
  events regclass, user_column text, time_column text,
  steps text[], conversion_window interval, mode text DEFAULT '',
  step_labels text[] DEFAULT NULL,
  exclusions text[] DEFAULT '{}', exclusion_steps int4range[] DEFAULT NULL,
  optional_steps int[] DEFAULT '{}', step_order text DEFAULT 'ordered',
  breakdown text DEFAULT NULL, attribution text DEFAULT 'first_touch',
  counting text DEFAULT 'unique')
RETURNS TABLE (breakdown_value text, step int, step_label text, users bigint,
               conversion_from_start float8, conversion_from_previous float8,
               dropped_after bigint, avg_time_from_previous interval,
               median_time_from_previous interval, p90_time_from_previous interval,
               excluded_users bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  n int := coalesce(cardinality(steps), 0);
  nx int := coalesce(cardinality(exclusions), 0);
  conds text[] := '{}';
  bd text := 'NULL::text';
  labels text[];
  cfg bigint[];
  modes_bits bigint := 0;
  opt_mask bigint := 0;
  attr bigint;
  prev int[] := '{}';
  last_mand int := 1;
  i int;
  r int4range;
  lo int;
  hi int;
  q text;
  win_months int;
  win_days int;
  win_usec bigint;
  filt text := '';
BEGIN
  IF n = 0 THEN
    RAISE EXCEPTION 'funnel_report needs at least one step'
      USING ERRCODE = '22023', HINT = 'Pass steps as an array of boolean SQL conditions, e.g. ARRAY[$$event = ''signup''$$, $$event = ''first_call''$$].';
  END IF;
  IF n > 32 THEN
    RAISE EXCEPTION 'funnel_report accepts at most 32 steps, got %', n USING ERRCODE = '54023';
  END IF;
  IF nx > 32 THEN
    RAISE EXCEPTION 'funnel_report accepts at most 32 exclusions, got %', nx USING ERRCODE = '54023';
  END IF;
  IF conversion_window IS NULL THEN
    RAISE EXCEPTION 'conversion_window must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF conversion_window < interval '0' THEN
    RAISE EXCEPTION 'conversion_window must not be negative, got %', conversion_window USING ERRCODE = '22023';
  END IF;
  IF mode IS NULL OR step_order IS NULL OR attribution IS NULL OR counting IS NULL THEN
    RAISE EXCEPTION 'mode, step_order, attribution and counting must not be NULL' USING ERRCODE = '22004';
  END IF;
  FOR i IN 1 .. n LOOP
    conds := conds || apivalue._condition(events, steps[i], format('step %s', i));
  END LOOP;
  FOR i IN 1 .. nx LOOP
    conds := conds || apivalue._condition(events, exclusions[i], format('exclusion %s', i));
  END LOOP;
  IF breakdown IS NOT NULL THEN
    bd := apivalue._expression(events, breakdown, 'breakdown') || '::text';
  END IF;
  IF step_labels IS NOT NULL AND cardinality(step_labels) <> n THEN
    RAISE EXCEPTION 'step_labels has % labels for % steps', cardinality(step_labels), n
      USING ERRCODE = '22023';
  END IF;
  labels := coalesce(step_labels, steps);

  IF step_order NOT IN ('ordered', 'any_order') THEN
    RAISE EXCEPTION 'unknown step_order "%"', step_order
      USING ERRCODE = '22023', HINT = 'Valid values are ordered and any_order.';
  END IF;
  IF counting NOT IN ('unique', 'total') THEN
    RAISE EXCEPTION 'unknown counting "%"', counting
      USING ERRCODE = '22023', HINT = 'Valid values are unique and total.';
  END IF;
  -- the modes, checked by window_funnel's own parser
  SELECT bit_or(b) INTO modes_bits
  FROM (VALUES (1, 'strict_deduplication'), (2, 'strict_order'), (4, 'strict_increase'),
               (8, 'allow_reentry')) m(b, name)
  WHERE name = ANY (SELECT btrim(x) FROM unnest(string_to_array(mode, ',')) x);
  PERFORM apivalue.window_funnel(interval '0', mode, now(), true);
  modes_bits := coalesce(modes_bits, 0);
  IF step_order = 'any_order' AND modes_bits <> 0 THEN
    RAISE EXCEPTION 'mode "%" cannot be used with step_order any_order', mode
      USING ERRCODE = '22023', HINT = 'window_funnel modes describe ordered funnels; pass mode => ''''.';
  END IF;
  IF counting = 'total' AND (modes_bits & ~4) <> 0 THEN
    RAISE EXCEPTION 'mode "%" cannot be used with counting total', mode
      USING ERRCODE = '22023', HINT = 'Only strict_increase applies to total counting.';
  END IF;
  IF step_order = 'any_order' AND counting = 'total' THEN
    RAISE EXCEPTION 'counting total cannot be used with step_order any_order'
      USING ERRCODE = '22023', HINT = 'Attempts are defined for ordered funnels.';
  END IF;

  IF attribution = 'first_touch' THEN
    attr := -2;
  ELSIF attribution = 'last_touch' THEN
    attr := -1;
  ELSIF attribution ~ '^step:[0-9]{1,9}$' THEN
    attr := substr(attribution, 6)::bigint;
    IF attr < 1 OR attr > n THEN
      RAISE EXCEPTION 'attribution "%" names a step outside 1..%', attribution, n USING ERRCODE = '22023';
    END IF;
  ELSE
    RAISE EXCEPTION 'unknown attribution "%"', attribution
      USING ERRCODE = '22023', HINT = 'Valid values are first_touch, last_touch and step:N.';
  END IF;

  IF optional_steps IS NULL THEN
    optional_steps := '{}';
  END IF;
  FOR i IN SELECT x FROM unnest(optional_steps) x LOOP
    IF i IS NULL OR i < 1 OR i > n THEN
      RAISE EXCEPTION 'optional step % is not one of the steps 1..%', i, n USING ERRCODE = '22023';
    END IF;
    IF i = 1 THEN
      RAISE EXCEPTION 'the first step cannot be optional'
        USING ERRCODE = '22023', HINT = 'A funnel starts with a step every user must do.';
    END IF;
    opt_mask := opt_mask | (1::bigint << (i - 1));
  END LOOP;
  IF opt_mask <> 0 AND step_order = 'any_order' THEN
    RAISE EXCEPTION 'optional steps cannot be used with step_order any_order'
      USING ERRCODE = '22023', HINT = 'In an any-order funnel every step is already skippable.';
  END IF;

  -- the window in microseconds, months as 30 days (as window_funnel counts them)
  win_months := extract(year FROM conversion_window) * 12 + extract(month FROM conversion_window);
  win_days := extract(day FROM conversion_window);
  win_usec := (win_months * 30 + win_days) * 86400000000::bigint
              + round(extract(epoch FROM conversion_window
                              - make_interval(months => win_months, days => win_days)) * 1000000)::bigint;
  cfg := ARRAY[1, n, nx, win_usec,
               modes_bits, (step_order = 'any_order')::int, (counting = 'total')::int,
               attr, opt_mask]::bigint[];
  IF exclusion_steps IS NOT NULL AND cardinality(exclusion_steps) <> nx THEN
    RAISE EXCEPTION 'exclusion_steps has % ranges for % exclusions', cardinality(exclusion_steps), nx
      USING ERRCODE = '22023', HINT = 'Give one range per exclusion, or NULL for the whole funnel.';
  END IF;
  FOR i IN 1 .. nx LOOP
    r := CASE WHEN exclusion_steps IS NULL THEN int4range(1, n, '[]') ELSE exclusion_steps[i] END;
    IF r IS NULL OR isempty(r) OR lower_inf(r) OR upper_inf(r) THEN
      RAISE EXCEPTION 'exclusion range % must be a bounded range of steps', coalesce(r::text, 'NULL')
        USING ERRCODE = '22023', HINT = 'Write it as int4range(a, b, ''[]'') with 1 <= a < b <= number of steps.';
    END IF;
    lo := lower(r);
    hi := upper(r) - 1;
    IF lo < 1 OR hi > n OR lo >= hi THEN
      RAISE EXCEPTION 'exclusion range [%,%] is outside the steps 1..%', lo, hi, n
        USING ERRCODE = '22023', HINT = 'An exclusion lies between step a and a later step b of the funnel.';
    END IF;
    cfg := cfg || ARRAY[lo, hi]::bigint[];
  END LOOP;

  -- previous mandatory step of each step (for conversion_from_previous)
  FOR i IN 1 .. n LOOP
    prev := prev || CASE WHEN i = 1 THEN NULL ELSE last_mand END;
    IF (opt_mask & (1::bigint << (i - 1))) = 0 THEN
      last_mand := i;
    END IF;
  END LOOP;

  -- Rows matching no step and no exclusion never reach a chain, except as
  -- interruptions in strict_order mode (ordered, unique counting): filter
  -- them out in the scan, so that only the few step events are grouped.
  IF step_order = 'any_order' OR counting = 'total' OR (modes_bits & 2) = 0 THEN
    filt := format(' AND (%s)', array_to_string(conds, ' OR '));
  END IF;

  q := format($q$
    WITH c AS (
      SELECT apivalue._funnel_report_chains($1, %2$s, %3$s, %4$s) AS a
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL%6$s
      GROUP BY %1$s
    ), h AS MATERIALIZED (
      SELECT p.* FROM c CROSS JOIN LATERAL unnest(c.a) p
    ), g AS (
      SELECT h.breakdown_value AS b, h.step AS s, count(*) AS users,
             count(*) FILTER (WHERE h.last AND h.step < $2) AS dropped,
             avg(h.from_previous) AS avg_t,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY h.from_previous) AS med_t,
             percentile_cont(0.9) WITHIN GROUP (ORDER BY h.from_previous) AS p90_t
      FROM h WHERE NOT h.excluded
      GROUP BY 1, 2
    ), x AS (
      SELECT count(*) FILTER (WHERE h.excluded) AS n FROM h
    ), bv AS (
      SELECT DISTINCT g.b FROM g
      UNION
      SELECT NULL::text WHERE NOT $5
    ), full_g AS (
      SELECT bv.b, s.s, coalesce(g.users, 0) AS users, coalesce(g.dropped, 0) AS dropped,
             g.avg_t, g.med_t, g.p90_t
      FROM bv CROSS JOIN generate_series(1, $2) AS s(s)
      LEFT JOIN g ON g.b IS NOT DISTINCT FROM bv.b AND g.s = s.s
    )
    SELECT f.b, f.s, $3[f.s], f.users,
           f.users::float8 / nullif(first_value(f.users) OVER w, 0),
           CASE WHEN f.s = 1 THEN NULL
                ELSE f.users::float8 / nullif(p.users, 0) END,
           f.dropped, f.avg_t, f.med_t, f.p90_t, x.n
    FROM full_g f
    CROSS JOIN x
    LEFT JOIN full_g p ON p.b IS NOT DISTINCT FROM f.b AND p.s = ($4)[f.s]
    WINDOW w AS (PARTITION BY f.b ORDER BY f.s)
    ORDER BY f.b NULLS LAST, f.s $q$,
    u, t, bd, array_to_string(conds, ', '), events, filt);
  RETURN QUERY EXECUTE q USING cfg, n, labels, prev, breakdown IS NOT NULL;
END
$fn$;

-- branch product2: ttfv_survival reads each user with one aggregate, _ttfv_point
-- (first start, first value at or after it, latest event), and counts units in
-- integer arithmetic (_km_units_between)
-- _ttfv_point (src/km.c): one user's first start, first value at or after it
-- and latest event, in one transition per row, for ttfv_survival.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._ttfv_point_accum(internal, timestamptz, boolean, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_accum(internal, timestamptz, boolean, boolean) IS
  'internal: _ttfv_point transition function';
CREATE FUNCTION apivalue._ttfv_point_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_combine(internal, internal) IS
  'internal: _ttfv_point combine function';
CREATE FUNCTION apivalue._ttfv_point_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_serialize(internal) IS
  'internal: _ttfv_point serialization (version byte, flags, times)';
CREATE FUNCTION apivalue._ttfv_point_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_deserialize(bytea, internal) IS
  'internal: _ttfv_point deserialization (checked against its size)';
CREATE FUNCTION apivalue._ttfv_point_final(internal)
RETURNS timestamptz[] AS 'MODULE_PATHNAME', 'apivalue_ttfv_point_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._ttfv_point_final(internal) IS
  'internal: _ttfv_point final function';

CREATE AGGREGATE apivalue._ttfv_point(ts timestamptz, is_start boolean, is_value boolean) (
  SFUNC = apivalue._ttfv_point_accum, STYPE = internal, SSPACE = 64,
  FINALFUNC = apivalue._ttfv_point_final,
  COMBINEFUNC = apivalue._ttfv_point_combine,
  SERIALFUNC = apivalue._ttfv_point_serialize,
  DESERIALFUNC = apivalue._ttfv_point_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue._ttfv_point(timestamptz, boolean, boolean) IS
  'internal: {first start, first value at or after it, latest event} of one user for ttfv_survival (timestamptz[], NULL elements where there is none)';
CREATE FUNCTION apivalue._km_units_between(start timestamptz, stop timestamptz, resolution_usec bigint)
RETURNS int AS 'MODULE_PATHNAME', 'apivalue_km_units_between'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_units_between(timestamptz, timestamptz, bigint) IS
  'internal: whole resolution units from start to stop, truncated toward zero (= _km_units(stop - start, resolution) with the resolution in microseconds), in integer arithmetic';
CREATE OR REPLACE FUNCTION apivalue.ttfv_survival(
  events regclass, user_column text, time_column text,
  start_condition text, value_condition text,
  resolution interval DEFAULT '1 day', horizon interval DEFAULT '90 days',
  as_of timestamptz DEFAULT NULL, cohort_period text DEFAULT 'month',
  time_zone text DEFAULT 'UTC')
RETURNS TABLE (cohort_start timestamptz, t int, at_risk bigint, reached bigint,
               censored bigint, survival float8, ci_low float8, ci_high float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  s text := apivalue._condition(events, start_condition, 'start condition');
  v text := apivalue._condition(events, value_condition, 'value condition');
  h numeric;
  w text := '';
BEGIN
  IF resolution IS NULL OR horizon IS NULL OR cohort_period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'resolution, horizon, cohort_period and time_zone must not be NULL'
      USING ERRCODE = '22004';
  END IF;
  IF extract(epoch FROM resolution) <= 0 THEN
    RAISE EXCEPTION 'resolution must be positive, got %', resolution USING ERRCODE = '22023';
  END IF;
  IF extract(epoch FROM horizon) < 0 THEN
    RAISE EXCEPTION 'horizon must not be negative, got %', horizon USING ERRCODE = '22023';
  END IF;
  h := div(extract(epoch FROM horizon), extract(epoch FROM resolution));
  IF h > 1000000 THEN
    RAISE EXCEPTION 'horizon % is % units of resolution %, more than 1000000', horizon, h, resolution
      USING ERRCODE = '22023', HINT = 'Use a coarser resolution or a shorter horizon.';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite, got %', as_of USING ERRCODE = '22008';
  END IF;
  -- unknown period or zone: fail before scanning
  PERFORM apivalue.period_start(now(), cohort_period, time_zone);
  IF as_of IS NOT NULL THEN
    w := format(' AND %s <= $1', ts);
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH pt AS MATERIALIZED (
      SELECT apivalue._ttfv_point(%2$s, %3$s, %4$s) AS p
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %6$s
      GROUP BY %1$s
    ), ao AS (
      SELECT coalesce($1, max(pt.p[3])) AS as_of FROM pt
    ), c AS (
      SELECT apivalue.period_start(pt.p[1], $2, $3) AS cohort,
             apivalue.km_summary(
               apivalue._km_units_between(pt.p[1], coalesce(pt.p[2], ao.as_of), $6),
               pt.p[2] IS NOT NULL, $5) AS km
      FROM pt CROSS JOIN ao
      WHERE pt.p[1] IS NOT NULL
      GROUP BY 1
    )
    SELECT c.cohort, k.t, k.at_risk, k.reached, k.censored, k.survival, k.ci_low, k.ci_high
    FROM c CROSS JOIN LATERAL apivalue.km_curve(c.km) k
    ORDER BY 1, 2 $q$, u, ts, s, v, events, w)
  USING as_of, cohort_period, time_zone, resolution, h::int,
        (extract(epoch FROM resolution) * 1000000)::bigint;
END
$fn$;

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

-- branch isolation: run_quality_checks and drop_quality_check(keep_results =>
-- false) share one advisory lock (runs shared, drops exclusive), so such a
-- drop waits for runs in progress and a run for such an uncommitted drop
-- (test/isolation/specs/quality_run_vs_drop.spec).
CREATE OR REPLACE FUNCTION apivalue.drop_quality_check(name text, keep_results boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM apivalue.quality_checks c WHERE c.name = drop_quality_check.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- With keep_results => false: exclusive against runs (see
  -- run_quality_checks), until commit.  Wait for the runs in progress, so
  -- that their rows are removed too (in READ COMMITTED the DELETE below sees
  -- them).  Under REPEATABLE READ or SERIALIZABLE the snapshot predates the
  -- results of a run we waited for, and deleting around them would leave
  -- rows of a dropped check behind: that is a serialization failure.  When
  -- the results are kept, a run's result is history like any other, and the
  -- drop waits for nothing.
  IF NOT keep_results THEN
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
      PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0);
      IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'quality check "%" was run by a concurrent transaction', name
          USING ERRCODE = '40001',
                DETAIL = 'Its results are not visible to this transaction''s snapshot, so they could not be removed.',
                HINT = 'Retry the transaction.';
      END IF;
    END IF;
    DELETE FROM apivalue.quality_results r WHERE r.check_name = drop_quality_check.name;
  END IF;
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION apivalue.run_quality_checks(name text DEFAULT NULL)
RETURNS SETOF apivalue.quality_results
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  rid bigint;
  c record;
  r record;
  st text;
  det jsonb;
  smp jsonb;
  obs float8;
  t0 timestamptz;
  e_msg text;
  e_state text;
  e_detail text;
  e_hint text;
BEGIN
  IF name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM apivalue.quality_checks q WHERE q.name = run_quality_checks.name) THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- Runs share one lock that drop_quality_check(keep_results => false)
  -- takes exclusively, until the end of the transaction: such a drop waits
  -- for the runs in progress (so that it removes their rows as well, and no
  -- result row of the dropped check appears afterwards), and a run waits for
  -- such an uncommitted drop, then no longer sees the dropped check (the loop
  -- below reads the checks with a new snapshot).  One lock for all checks
  -- and no row locks (a role that may only read quality_checks can run
  -- them): nothing to take in an order that could deadlock.  Under
  -- REPEATABLE READ or SERIALIZABLE the snapshot predates the drop we waited
  -- for: a serialization failure.
  IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0);
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'quality checks were dropped by a concurrent transaction'
        USING ERRCODE = '40001',
              DETAIL = 'This transaction''s snapshot predates the drop and would still run the dropped checks.',
              HINT = 'Retry the transaction.';
    END IF;
  END IF;
  rid := nextval('apivalue.quality_run_id_seq');
  FOR c IN
    SELECT q.*, k.runner
    FROM apivalue.quality_checks q JOIN apivalue.quality_check_kinds k ON k.kind = q.kind
    WHERE CASE WHEN run_quality_checks.name IS NULL THEN q.enabled ELSE q.name = run_quality_checks.name END
    ORDER BY q.name
  LOOP
    t0 := clock_timestamp();
    obs := NULL; det := NULL; smp := NULL;
    -- Each check in its own subtransaction: an error is recorded, never fatal.
    BEGIN
      EXECUTE format('SELECT observed, details, sample FROM %s($1, $2)', c.runner::oid::regproc)
        INTO r USING c.relation, c.parameters;
      obs := r.observed; det := r.details; smp := r.sample;
      st := CASE
              WHEN obs IS NULL OR obs = 'NaN'::float8 THEN 'error'
              WHEN obs > c.fail_threshold THEN 'fail'
              WHEN obs > c.warn_threshold THEN 'warn'
              ELSE 'pass' END;
      IF st = 'error' THEN
        det := coalesce(det, '{}') || jsonb_build_object('error', 'the check observed no value (no rows?)');
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE,
                              e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      st := 'error';
      det := jsonb_strip_nulls(jsonb_build_object('error', e_msg, 'sqlstate', e_state,
                                                  'detail', nullif(e_detail, ''), 'hint', nullif(e_hint, '')));
      obs := NULL; smp := NULL;
    END;
    INSERT INTO apivalue.quality_results
      (run_id, check_name, run_at, status, observed, warn_threshold, fail_threshold, details, sample, duration)
    VALUES (rid, c.name, now(), st, obs, c.warn_threshold, c.fail_threshold, det, smp, clock_timestamp() - t0);
  END LOOP;
  IF name IS NOT NULL AND NOT FOUND THEN
    -- The loop ran nothing: the check was dropped while we waited.
    RAISE EXCEPTION 'quality check "%" does not exist', name
      USING ERRCODE = '42704', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;
  RETURN QUERY SELECT * FROM apivalue.quality_results q WHERE q.run_id = rid ORDER BY q.check_name;
END $$;

-- branch isolation: define_metric locks its definition (LOCK TABLE ... IN
-- ACCESS SHARE MODE) before reading it, so a concurrent DROP of the view ends
-- in 42P01 rather than an internal error from pg_get_viewdef.
CREATE OR REPLACE FUNCTION apivalue.define_metric(
  name          text,
  definition    regclass,
  description   text,
  owner         text,
  unit          text,
  grain         text DEFAULT NULL,
  tags          text[] DEFAULT '{}',
  counts_events text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller   regrole := apivalue.session_role();
  relkind  "char";
  cur      apivalue.metrics%ROWTYPE;
  new_sql  text;
  new_tags text[] := coalesce(tags, '{}');
  new_ver  integer;
BEGIN
  IF name IS NULL OR btrim(name) = '' OR name <> btrim(name) THEN
    RAISE EXCEPTION 'invalid metric name "%"', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A metric name must be non-empty without leading or trailing blanks.';
  END IF;
  IF definition IS NULL THEN
    RAISE EXCEPTION 'definition of metric "%" must not be null', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = definition;
  IF relkind IS NULL THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF relkind NOT IN ('v', 'm') THEN
    RAISE EXCEPTION '"%" is not a view or materialized view', definition::text
      USING ERRCODE = 'wrong_object_type',
            HINT = 'A metric is defined by a view: CREATE VIEW ... AS SELECT ..., then define_metric(name, ''that_view'', ...).';
  END IF;
  IF description IS NULL OR btrim(description) = '' THEN
    RAISE EXCEPTION 'metric "%" needs a description', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Say what the number means, in a sentence.';
  END IF;
  IF owner IS NULL OR btrim(owner) = '' THEN
    RAISE EXCEPTION 'metric "%" needs an owner', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the team or person answerable for the number.';
  END IF;
  IF array_position(new_tags, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'tags of metric "%" must not contain NULL', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- Lock the definition until commit, by name: a DROP of it in progress is
  -- waited for and then reported as a missing relation (42P01), instead of
  -- pg_get_viewdef failing on the vanished OID with an internal error; and a
  -- later DROP waits for this transaction, so its event trigger
  -- (metric_on_sql_drop) sees and removes the metric defined here.
  EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', definition);
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = definition) THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;

  PERFORM apivalue.metric_check_owner(definition, caller, 'define');
  new_sql := apivalue.view_sql(definition);

  -- One definer at a time per metric name (transaction-scoped advisory lock,
  -- then the row lock): concurrent (re)definitions of one name each get
  -- their own version, never the same one twice.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.metrics'),
                                           pg_catalog.hashtext(name));
  SELECT * INTO cur FROM apivalue.metrics m WHERE m.name = define_metric.name FOR UPDATE;

  IF NOT FOUND THEN
    -- Versions continue after a drop, so history never repeats a version.
    SELECT coalesce(max(h.version), 0) + 1 INTO new_ver
      FROM apivalue.metric_history h WHERE h.name = define_metric.name;
    BEGIN
      INSERT INTO apivalue.metrics
        VALUES (name, new_ver, definition, description, owner, unit, grain, new_tags,
                counts_events, new_sql, caller::text, session_user, now());
    EXCEPTION WHEN unique_violation THEN
      -- Only under REPEATABLE READ or SERIALIZABLE, whose snapshot predates
      -- a concurrent first definition that committed while we waited.
      RAISE EXCEPTION 'metric "%" was defined concurrently', name
        USING ERRCODE = 'serialization_failure',
              HINT = 'Retry the transaction.';
    END;
  ELSE
    -- Changing a metric that points at someone else's view needs their role.
    PERFORM apivalue.metric_check_owner(cur.definition, caller, 'redefine');
    IF cur.definition = definition
       AND cur.definition_sql = new_sql
       AND cur.description = description
       AND cur.owner = owner
       AND cur.unit IS NOT DISTINCT FROM unit
       AND cur.grain IS NOT DISTINCT FROM grain
       AND cur.tags = new_tags
       AND cur.counts_events IS NOT DISTINCT FROM counts_events THEN
      RETURN cur.version;  -- nothing changed: re-running a deploy is a no-op
    END IF;
    new_ver := cur.version + 1;
    UPDATE apivalue.metrics m
       SET version = new_ver, definition = define_metric.definition,
           description = define_metric.description, owner = define_metric.owner,
           unit = define_metric.unit, grain = define_metric.grain, tags = new_tags,
           counts_events = define_metric.counts_events, definition_sql = new_sql,
           defined_by = caller::text, session_user_name = session_user, defined_at = now()
     WHERE m.name = define_metric.name;
  END IF;

  INSERT INTO apivalue.metric_history
    VALUES (name, new_ver, CASE WHEN cur.name IS NULL THEN 'define' ELSE 'redefine' END,
            definition::text, new_sql, description, owner, unit, grain, new_tags,
            counts_events, caller::text, session_user, now());
  RETURN new_ver;
END;
$$;

-- branch isolation: propose_event turns a duplicate version (a stale
-- REPEATABLE READ snapshot) into 40001, add_retention_policy a concurrent
-- duplicate policy into 42710.
CREATE OR REPLACE FUNCTION apivalue.propose_event(name text, owner text, description text, properties jsonb DEFAULT '{}')
RETURNS apivalue.event_definitions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v integer;
  created apivalue.event_definitions;
BEGIN
  IF name IS NULL OR btrim(name) = '' THEN
    RAISE EXCEPTION 'event name must not be NULL or empty' USING ERRCODE = '22023';
  END IF;
  -- Serialize proposals of one event so versions are consecutive.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.event_definitions'), pg_catalog.hashtext(name));
  SELECT coalesce(max(d.version), 0) + 1 INTO v FROM apivalue.event_definitions d WHERE d.name = propose_event.name;
  BEGIN
    INSERT INTO apivalue.event_definitions AS d (name, version, status, owner, description, properties)
    VALUES (name, v, 'proposed', owner, description, coalesce(properties, '{}'))
    RETURNING d.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- A REPEATABLE READ or SERIALIZABLE snapshot that predates a concurrent
    -- proposal (or a version inserted without this function): the next
    -- version is not visible to us, so retrying is the only right answer.
    RAISE EXCEPTION 'event "%" was proposed concurrently (version % exists)', name, v
      USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
  END;
  RETURN created;
END $$;

CREATE OR REPLACE FUNCTION apivalue.add_retention_policy(relation regclass, time_column text, keep interval,
    tenant_column text DEFAULT NULL, tenant_value text DEFAULT NULL,
    batch_size integer DEFAULT 10000, partitions text DEFAULT 'drop')
RETURNS apivalue.retention_policies
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  created apivalue.retention_policies;
BEGIN
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = relation) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', relation
      USING ERRCODE = '42809', HINT = 'Retention applies to tables and partitioned tables.';
  END IF;
  PERFORM apivalue._column(relation, time_column, 'time_column', ARRAY['timestamptz', 'timestamp', 'date']::regtype[]);
  IF keep IS NULL OR keep <= interval '0' OR NOT isfinite(keep) THEN
    RAISE EXCEPTION 'keep must be a positive interval, got %', coalesce(keep::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF (tenant_column IS NULL) <> (tenant_value IS NULL) THEN
    RAISE EXCEPTION 'tenant_column and tenant_value go together'
      USING ERRCODE = '22023', HINT = 'Give both for a per-tenant policy, neither for the whole relation.';
  END IF;
  IF tenant_column IS NOT NULL THEN
    PERFORM apivalue._column(relation, tenant_column, 'tenant_column');
    -- The value must be one of the column's type.
    EXECUTE format('SELECT CAST($1 AS %s)',
                   (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = relation AND a.attname = tenant_column))
      USING tenant_value;
  END IF;
  IF batch_size IS NULL OR batch_size < 1 THEN
    RAISE EXCEPTION 'batch_size must be positive, got %', coalesce(batch_size::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF partitions IS NULL OR partitions NOT IN ('drop', 'detach') THEN
    RAISE EXCEPTION 'partitions must be "drop" or "detach", got "%"', partitions USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM apivalue.retention_policies p
             WHERE p.relation = add_retention_policy.relation
               AND p.tenant_column IS NOT DISTINCT FROM add_retention_policy.tenant_column
               AND p.tenant_value IS NOT DISTINCT FROM add_retention_policy.tenant_value) THEN
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END IF;
  BEGIN
    INSERT INTO apivalue.retention_policies AS p (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    VALUES (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    RETURNING p.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- Added by a concurrent transaction after the check above.
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', DETAIL = 'It was added by a concurrent transaction.',
            HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END;
  RETURN created;
END $$;

-- branch isolation: deprecate_event locks the event's versions in version
-- order before updating them, as approve_event does (a deadlock otherwise).
CREATE OR REPLACE FUNCTION apivalue.deprecate_event(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'event name must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name) THEN
    RAISE EXCEPTION 'event "%" is not in the tracking plan', name USING ERRCODE = '42704';
  END IF;
  -- Lock the event's versions in version order first, as approve_event
  -- does: the UPDATE alone locks them in scan order (heap order under a
  -- sequential scan), which deadlocked against a concurrent approval.
  PERFORM 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name ORDER BY e.version FOR UPDATE;
  UPDATE apivalue.event_definitions e SET status = 'deprecated'
  WHERE e.name = deprecate_event.name AND e.status <> 'deprecated';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- branch drivers2: value_drivers reads the per-user fields straight from the
-- aggregate (one materialized CTE instead of two).
CREATE OR REPLACE FUNCTION apivalue.value_drivers(
    events regclass,
    user_column text,
    time_column text,
    behavior_column text,
    outcome_condition text,
    observation interval DEFAULT '7 days',
    min_times integer DEFAULT 1,
    min_users integer DEFAULT 30,
    normalize_behaviors boolean DEFAULT false,
    status_column text DEFAULT NULL,
    latency_column text DEFAULT NULL,
    error_threshold integer DEFAULT 1,
    latency_threshold_ms double precision DEFAULT NULL,
    outcome_window interval DEFAULT NULL,
    exclude_early_outcome boolean DEFAULT false,
    as_of timestamptz DEFAULT NULL,
    confidence double precision DEFAULT 0.95)
RETURNS TABLE (behavior text, kind text,
               users_with bigint, users_without bigint,
               outcomes_with bigint, outcomes_without bigint,
               outcome_rate_with double precision, outcome_rate_without double precision,
               lift_diff double precision, lift_ratio double precision,
               p_value double precision, test text, phi double precision,
               q_value double precision,
               diff_ci_low double precision, diff_ci_high double precision,
               flagged_low_count boolean, rank integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $fn$
#variable_conflict use_column
DECLARE
  u text;
  t text;
  b text;
  st text;
  lat text;
  cond text;
  ttype regtype;
  sttype regtype;
  lattype regtype;
  err_expr text := 'NULL::boolean';
  lat_expr text := 'NULL::double precision';
  err_label text;
  lat_label text;
  q text;
BEGIN
  IF observation IS NULL THEN
    RAISE EXCEPTION 'observation must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF observation <= interval '0' THEN
    RAISE EXCEPTION 'observation must be positive: "%"', observation
      USING ERRCODE = '22023', HINT = 'Give a positive interval such as ''7 days''.';
  END IF;
  IF outcome_window IS NOT NULL AND outcome_window <= interval '0' THEN
    RAISE EXCEPTION 'outcome_window must be positive: "%"', outcome_window
      USING ERRCODE = '22023', HINT = 'Give a positive interval, or NULL for any time after the observation window.';
  END IF;
  IF min_times IS NULL OR min_times < 1 THEN
    RAISE EXCEPTION 'min_times must be at least 1: %', coalesce(min_times::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF min_users IS NULL OR min_users < 1 THEN
    RAISE EXCEPTION 'min_users must be at least 1: %', coalesce(min_users::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF normalize_behaviors IS NULL OR exclude_early_outcome IS NULL THEN
    RAISE EXCEPTION 'normalize_behaviors and exclude_early_outcome must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF confidence IS NULL OR NOT (confidence > 0 AND confidence < 1) THEN
    RAISE EXCEPTION 'confidence must be between 0 and 1 (exclusive): %', coalesce(confidence::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Use 0.95 for 95 % intervals.';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite: %', as_of USING ERRCODE = '22008';
  END IF;
  IF status_column IS NOT NULL AND (error_threshold IS NULL OR error_threshold < 1) THEN
    RAISE EXCEPTION 'error_threshold must be at least 1 when status_column is given: %',
      coalesce(error_threshold::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF latency_column IS NOT NULL AND latency_threshold_ms IS NULL THEN
    RAISE EXCEPTION 'latency_threshold_ms must be given with latency_column' USING ERRCODE = '22004',
      HINT = 'The latency signal is "p95 latency in the observation window above latency_threshold_ms".';
  END IF;
  IF latency_column IS NULL AND latency_threshold_ms IS NOT NULL THEN
    RAISE EXCEPTION 'latency_threshold_ms needs latency_column' USING ERRCODE = '22023';
  END IF;
  IF latency_threshold_ms IS NOT NULL AND latency_threshold_ms IN ('NaN', 'Infinity', '-Infinity') THEN
    RAISE EXCEPTION 'latency_threshold_ms must be a finite number: %', latency_threshold_ms
      USING ERRCODE = '22023';
  END IF;
  IF normalize_behaviors AND to_regprocedure('apivalue.normalize_step(text)') IS NULL THEN
    RAISE EXCEPTION 'normalize_behaviors => true needs apivalue.normalize_step(text), which this installation lacks'
      USING ERRCODE = '42883', HINT = 'Normalize the behaviour column yourself, or call with normalize_behaviors => false.';
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  b := apivalue._column(events, behavior_column, 'behavior column');
  SELECT a.atttypid::regtype INTO ttype
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF status_column IS NOT NULL THEN
    st := apivalue._column(events, status_column, 'status column',
                           '{smallint,integer,bigint,numeric,text,character varying}');
    SELECT a.atttypid::regtype INTO sttype
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = status_column AND a.attnum > 0 AND NOT a.attisdropped;
    err_expr := CASE WHEN sttype IN ('text'::regtype, 'character varying'::regtype)
                     THEN format($e$(pg_catalog.btrim(%s::text) ~ '^5[0-9][0-9]$')$e$, st)
                     ELSE format('(%s BETWEEN 500 AND 599)', st) END;
    err_label := format('saw >= %s 5xx', error_threshold);
  END IF;
  IF latency_column IS NOT NULL THEN
    lat := apivalue._column(events, latency_column, 'latency column',
                            '{smallint,integer,bigint,numeric,real,double precision,interval}');
    SELECT a.atttypid::regtype INTO lattype
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = latency_column AND a.attnum > 0 AND NOT a.attisdropped;
    lat_expr := CASE WHEN lattype = 'interval'::regtype
                     THEN format('(pg_catalog.date_part(''epoch'', %s) * 1000)::double precision', lat)
                     ELSE format('%s::double precision', lat) END;
    lat_label := format('p95 latency > %s ms', latency_threshold_ms);
  END IF;
  cond := apivalue._condition(events, outcome_condition, 'outcome condition');

  q := format($q$
    WITH g AS MATERIALIZED (
      SELECT (f.s).behaviors AS behaviors, (f.s).server_errors AS server_errors,
             (f.s).slow AS slow, (f.s).outcome AS outcome
        FROM (SELECT apivalue.driver_features(%1$s, %2$s, %3$s, %4$s, %5$s,
                                              $1, $2, $3, $4, $5, $6, $7::%6$s) AS s
                FROM %7$s
               WHERE %8$s IS NOT NULL
               GROUP BY %8$s) AS f
       WHERE (f.s).outcome IS NOT NULL
    ), tot AS (
      SELECT count(*) AS n, count(*) FILTER (WHERE g.outcome) AS k FROM g
    ), c AS (
      SELECT 'behavior'::text AS kind, x.b AS behavior,
             count(*) AS n_with, count(*) FILTER (WHERE g.outcome) AS k_with
        FROM g CROSS JOIN LATERAL pg_catalog.unnest(g.behaviors) AS x(b)
       GROUP BY x.b
      UNION ALL
      SELECT 'errors', $8, count(*) FILTER (WHERE g.server_errors),
             count(*) FILTER (WHERE g.server_errors AND g.outcome)
        FROM g HAVING $8 IS NOT NULL
      UNION ALL
      SELECT 'latency', $9, count(*) FILTER (WHERE g.slow),
             count(*) FILTER (WHERE g.slow AND g.outcome)
        FROM g HAVING $9 IS NOT NULL
    ), s AS (
      SELECT c.kind, c.behavior, c.n_with, tot.n - c.n_with AS n_without,
             c.k_with, tot.k - c.k_with AS k_without, tot.n AS n_all, tot.k AS k_all
        FROM c CROSS JOIN tot
    ), tt AS (
      SELECT s.*, tp.rate1, tp.rate2, tp.diff, tp.p_value AS z_p, tp.ci_low, tp.ci_high, tp.phi,
             CASE WHEN s.n_with = 0 OR s.n_without = 0 THEN NULL
                  WHEN LEAST(s.n_with, s.n_without)::double precision
                       * LEAST(s.k_all, s.n_all - s.k_all) / s.n_all < 5 THEN 'fisher'
                  ELSE 'z' END AS test,
             (s.n_with < $10 OR s.n_without < $10) AS flagged
        FROM s CROSS JOIN LATERAL
             apivalue.two_proportion_test(s.k_with, s.n_with, s.k_without, s.n_without, $11) AS tp
    ), v AS (
      SELECT tt.*,
             CASE tt.test
               WHEN 'z' THEN tt.z_p
               WHEN 'fisher' THEN apivalue.fisher_exact_p(tt.k_with, tt.n_with - tt.k_with,
                                                          tt.k_without, tt.n_without - tt.k_without)
             END AS p,
             row_number() OVER (ORDER BY tt.kind, tt.behavior) AS ord
        FROM tt
    ), qv AS (
      SELECT apivalue.bh_qvalues(COALESCE(array_agg(v.p ORDER BY v.ord), '{}')) AS q FROM v
    ), r AS (
      SELECT v.*, qv.q[v.ord] AS q_value,
             CASE WHEN NOT v.flagged AND v.p IS NOT NULL THEN
               row_number() OVER (PARTITION BY (NOT v.flagged AND v.p IS NOT NULL)
                                  ORDER BY abs(v.phi) DESC NULLS LAST, v.p, v.kind, v.behavior)
             END AS rnk
        FROM v CROSS JOIN qv
    )
    SELECT r.behavior, r.kind, r.n_with, r.n_without, r.k_with, r.k_without,
           r.rate1, r.rate2, r.diff,
           CASE WHEN r.rate2 > 0 THEN r.rate1 / r.rate2 END,
           r.p, r.test, r.phi, r.q_value, r.ci_low, r.ci_high, r.flagged, r.rnk::integer
      FROM r
     ORDER BY r.rnk NULLS LAST, abs(r.phi) DESC NULLS LAST, r.p NULLS LAST, r.kind, r.behavior
  $q$,
    t,
    CASE WHEN normalize_behaviors THEN format('apivalue.normalize_step(%s::text)', b) ELSE format('%s::text', b) END,
    cond, err_expr, lat_expr, ttype, events, u);

  RETURN QUERY EXECUTE q
    USING observation, outcome_window, min_times,
          CASE WHEN status_column IS NOT NULL THEN error_threshold END,
          latency_threshold_ms, exclude_early_outcome, as_of,
          err_label, lat_label, min_users::bigint, confidence;
END
$fn$;
