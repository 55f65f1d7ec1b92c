-- apivalue install script: product funnels, time to value as a survival
-- curve, feature adoption (SPEC sections 2b, 4c, 8b).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
-- C code: src/funnel_report.c (chains, on funnel.h's search), src/km.c.

-- ---------------------------------------------------------------------------
-- _funnel_report_chains: per-user chains for funnel_report.
-- ---------------------------------------------------------------------------
CREATE TYPE apivalue.funnel_chain_step AS (
  breakdown_value text,
  step int,
  from_previous interval,
  last boolean,
  excluded boolean);
COMMENT ON TYPE apivalue.funnel_chain_step IS
  'one step of one funnel chain (or one excluded chain: step NULL, excluded true), as _funnel_report_chains returns them';

CREATE FUNCTION apivalue._funnel_report_accum(internal, bigint[], timestamptz, text, VARIADIC "any")
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_accum(internal, bigint[], timestamptz, text, VARIADIC "any") IS
  'internal: _funnel_report_chains transition function';
CREATE FUNCTION apivalue._funnel_report_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_combine(internal, internal) IS
  'internal: _funnel_report_chains combine function';
CREATE FUNCTION apivalue._funnel_report_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_funnel_report_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_serialize(internal) IS
  'internal: _funnel_report_chains serialization (version byte, configuration, events, breakdown values)';
CREATE FUNCTION apivalue._funnel_report_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_funnel_report_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_deserialize(bytea, internal) IS
  'internal: _funnel_report_chains deserialization (checked against its size)';
CREATE FUNCTION apivalue._funnel_report_final(internal)
RETURNS apivalue.funnel_chain_step[] AS 'MODULE_PATHNAME', 'apivalue_funnel_report_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._funnel_report_final(internal) IS
  'internal: _funnel_report_chains final function (sort once, chain search, exclusions, attribution)';

CREATE AGGREGATE apivalue._funnel_report_chains(config bigint[], ts timestamptz, breakdown text,
                                                VARIADIC conditions "any") (
  SFUNC = apivalue._funnel_report_accum, STYPE = internal, SSPACE = 400,
  FINALFUNC = apivalue._funnel_report_final,
  COMBINEFUNC = apivalue._funnel_report_combine,
  SERIALFUNC = apivalue._funnel_report_serialize,
  DESERIALFUNC = apivalue._funnel_report_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue._funnel_report_chains(bigint[], timestamptz, text, VARIADIC "any") IS
  'internal: one user''s funnel chains (steps reached, times between them, breakdown, exclusion) for funnel_report; configuration built by funnel_report';

-- ---------------------------------------------------------------------------
-- funnel_report
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.funnel_report(
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

COMMENT ON FUNCTION apivalue.funnel_report(regclass, text, text, text[], interval, text, text[], text[], int4range[], int[], text, text, text, text) IS
  'product funnel over every event: ordered (window_funnel modes) or any-order steps, exclusions between steps, optional steps, unique or total counting, breakdown with first_touch/last_touch/step:N attribution; per step users, conversion, drop-off, avg/median/p90 time from the previous step, excluded users';

-- ---------------------------------------------------------------------------
-- Kaplan-Meier (src/km.c): km_summary aggregate -> bigint[] histogram,
-- read by km_curve (one row per t) and km_median.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._km_summary_accum(bigint[], int, boolean, int)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_km_summary_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_summary_accum(bigint[], int, boolean, int) IS
  'internal: km_summary transition function';
CREATE FUNCTION apivalue._km_summary_combine(bigint[], bigint[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_km_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_summary_combine(bigint[], bigint[]) IS
  'internal: km_summary combine function (element-wise sum)';

CREATE AGGREGATE apivalue.km_summary(t int, reached boolean, horizon int) (
  SFUNC = apivalue._km_summary_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._km_summary_combine,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.km_summary(int, boolean, int) IS
  'Kaplan-Meier input histogram of whole time units t (reached = event happened at t, false = censored at t; t > horizon: at risk throughout): bigint[] [horizon, beyond, reached_0..H, censored_0..H]; read it with km_curve or km_median; summaries of one horizon add up';

CREATE FUNCTION apivalue.km_curve(summary bigint[])
RETURNS TABLE (t int, at_risk bigint, reached bigint, censored bigint,
               survival float8, ci_low float8, ci_high float8)
AS 'MODULE_PATHNAME', 'apivalue_km_curve'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 91;
COMMENT ON FUNCTION apivalue.km_curve(bigint[]) IS
  'Kaplan-Meier curve of a km_summary, one row per t = 0..horizon: at risk, reached, censored, survival, 95 % Greenwood interval on the log(-log) scale';

CREATE FUNCTION apivalue.km_median(summary bigint[])
RETURNS int
AS 'MODULE_PATHNAME', 'apivalue_km_median'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.km_median(bigint[]) IS
  'first t where the Kaplan-Meier survival of a km_summary is <= 0.5; NULL when it stays above 0.5 up to the horizon';

-- ---------------------------------------------------------------------------
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

-- ---------------------------------------------------------------------------
-- ttfv_survival: time to value as a Kaplan-Meier curve per cohort.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._km_units(d interval, resolution interval)
RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT div(extract(epoch FROM d), extract(epoch FROM resolution))::int $$;
COMMENT ON FUNCTION apivalue._km_units(interval, interval) IS
  'internal: whole resolution units in a non-negative interval, floor(d / resolution), exact (numeric epochs)';
CREATE FUNCTION apivalue._km_units_between(start timestamptz, stop timestamptz, resolution_usec bigint)
RETURNS int AS 'MODULE_PATHNAME', 'apivalue_km_units_between'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._km_units_between(timestamptz, timestamptz, bigint) IS
  'internal: whole resolution units from start to stop, truncated toward zero (= _km_units(stop - start, resolution) with the resolution in microseconds), in integer arithmetic';

CREATE FUNCTION apivalue.ttfv_survival(
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

COMMENT ON FUNCTION apivalue.ttfv_survival(regclass, text, text, text, text, interval, interval, timestamptz, text, text) IS
  'time to value as a Kaplan-Meier curve per cohort (period of the first start event): users who have not reached value by as_of are censored, not dropped; one row per time unit t = 0..horizon/resolution with at risk, reached, censored, survival and its 95 % Greenwood log(-log) interval';

-- ---------------------------------------------------------------------------
-- feature_adoption / adoption_velocity (SPEC 8b)
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.feature_adoption(
  events regclass, user_column text, time_column text, feature_column text,
  period text DEFAULT 'week', time_zone text DEFAULT 'UTC')
RETURNS TABLE (period_start timestamptz, feature text, active_users bigint,
               feature_users bigint, adoption_rate float8, new_adopters bigint,
               cumulative_adopters bigint, cumulative_adoption_rate float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  f text := apivalue._column(events, feature_column, 'feature column');
BEGIN
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone);
  RETURN QUERY EXECUTE format($q$
    WITH e AS MATERIALIZED (
      SELECT %1$s AS u, apivalue.period_start(%2$s, $1, $2) AS p, %3$s::text AS f
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL
    ), act AS (
      SELECT e.p, count(DISTINCT e.u) AS active FROM e GROUP BY e.p
    ), seen AS (
      SELECT e.u, min(e.p) AS p FROM e GROUP BY e.u
    ), cum_users AS (
      SELECT act.p, act.active,
             sum(coalesce((SELECT count(*) FROM seen WHERE seen.p = act.p), 0))
               OVER (ORDER BY act.p) AS seen_users
      FROM act
    ), fu AS (
      SELECT e.p, e.f, count(DISTINCT e.u) AS n FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), fa AS (
      SELECT e.u, e.f, min(e.p) AS p FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), na AS (
      SELECT fa.p, fa.f, count(*) AS n FROM fa GROUP BY 1, 2
    ), f0 AS (
      SELECT na.f, min(na.p) AS p0 FROM na GROUP BY 1
    ), grid AS (
      SELECT c.p, f0.f, c.active, c.seen_users,
             coalesce(fu.n, 0) AS fusers, coalesce(na.n, 0) AS newa
      FROM cum_users c JOIN f0 ON c.p >= f0.p0
      LEFT JOIN fu ON fu.p = c.p AND fu.f = f0.f
      LEFT JOIN na ON na.p = c.p AND na.f = f0.f
    )
    SELECT g.p, g.f, g.active, g.fusers, g.fusers::float8 / g.active, g.newa,
           (sum(g.newa) OVER w)::bigint,
           (sum(g.newa) OVER w)::float8 / g.seen_users
    FROM grid g
    WINDOW w AS (PARTITION BY g.f ORDER BY g.p)
    ORDER BY 2, 1 $q$, u, ts, f, events)
  USING period, time_zone;
END
$fn$;

COMMENT ON FUNCTION apivalue.feature_adoption(regclass, text, text, text, text, text) IS
  'per period (ICU calendar) and feature, from the feature''s first adoption on: active users, users of the feature, adoption rate, new adopters (first use in the period), cumulative adopters and their share of all users seen so far';

CREATE FUNCTION apivalue.adoption_velocity(
  events regclass, user_column text, time_column text, feature_column text,
  as_of timestamptz DEFAULT NULL, horizon interval DEFAULT '90 days')
RETURNS TABLE (feature text, users bigint, adopters bigint, km_median interval,
               adopted_by_30d float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  ts text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  f text := apivalue._column(events, feature_column, 'feature column');
  h int;
  w text := '';
BEGIN
  IF horizon IS NULL THEN
    RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF extract(epoch FROM horizon) < 0 THEN
    RAISE EXCEPTION 'horizon must not be negative, got %', horizon USING ERRCODE = '22023';
  END IF;
  IF extract(epoch FROM horizon) > 86400000000::numeric THEN
    RAISE EXCEPTION 'horizon % is more than 1000000 days', horizon USING ERRCODE = '22023';
  END IF;
  IF as_of IS NOT NULL AND NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be finite, got %', as_of USING ERRCODE = '22008';
  END IF;
  -- whole days; at least 30 so that adopted_by_30d can be read
  h := greatest(apivalue._km_units(horizon, interval '1 day'), 30);
  IF as_of IS NOT NULL THEN
    w := format(' AND %s <= $1', ts);
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH e AS MATERIALIZED (
      SELECT %1$s AS u, %2$s AS ts, %3$s::text AS f
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL %5$s
    ), usr AS MATERIALIZED (
      SELECT e.u, min(e.ts) AS first_ts, max(e.ts) AS last_ts FROM e GROUP BY e.u
    ), ao AS (
      SELECT coalesce($1, max(usr.last_ts)) AS as_of FROM usr
    ), fa AS (
      SELECT e.u, e.f, min(e.ts) AS adopted FROM e WHERE e.f IS NOT NULL GROUP BY 1, 2
    ), feats AS (
      SELECT DISTINCT fa.f FROM fa
    ), s AS (
      SELECT feats.f, count(*) AS users, count(fa.adopted) AS adopters,
             apivalue.km_summary(
               apivalue._km_units(coalesce(fa.adopted, ao.as_of) - usr.first_ts, interval '1 day'),
               fa.adopted IS NOT NULL, $2) AS km
      FROM feats CROSS JOIN usr CROSS JOIN ao
      LEFT JOIN fa ON fa.f = feats.f AND fa.u = usr.u
      GROUP BY feats.f
    )
    SELECT s.f, s.users, s.adopters,
           apivalue.km_median(s.km) * interval '1 day',
           (SELECT 1 - k.survival FROM apivalue.km_curve(s.km) k WHERE k.t = 29)
    FROM s
    ORDER BY 1 $q$, u, ts, f, events, w)
  USING as_of, h;
END
$fn$;

COMMENT ON FUNCTION apivalue.adoption_velocity(regclass, text, text, text, timestamptz, interval) IS
  'per feature, time from a user''s first event to their first use of it as a Kaplan-Meier curve (users who have not adopted by as_of are censored, not dropped): users, adopters, KM median in whole days (NULL when fewer than half adopt within the horizon), share adopted within the first 30 days (1 - S(29))';
