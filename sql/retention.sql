-- apivalue install script: retention (src/activity.c, src/arrays.c).

-- ---------------------------------------------------------------------------
-- sum_arrays: element-wise sum; ragged arrays count as zeros past their end.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._sum_arrays_accum(bigint[], integer[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_sum_arrays_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._sum_arrays_accum(bigint[], bigint[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_sum_arrays_accum'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._sum_arrays_accum(bigint[], integer[]) IS 'internal: sum_arrays transition';
COMMENT ON FUNCTION apivalue._sum_arrays_accum(bigint[], bigint[]) IS 'internal: sum_arrays transition and combine';

CREATE AGGREGATE apivalue.sum_arrays(integer[]) (
  SFUNC = apivalue._sum_arrays_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._sum_arrays_accum,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.sum_arrays(bigint[]) (
  SFUNC = apivalue._sum_arrays_accum, STYPE = bigint[],
  COMBINEFUNC = apivalue._sum_arrays_accum,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.sum_arrays(integer[]) IS
  'element-wise sum of int[] as bigint[]; shorter arrays count as zeros past their end; NULL arrays and elements skipped';
COMMENT ON AGGREGATE apivalue.sum_arrays(bigint[]) IS
  'element-wise sum of bigint[]; shorter arrays count as zeros past their end; NULL arrays and elements skipped';

-- ---------------------------------------------------------------------------
-- retention_activity: per user, activity in each period after the cohort's.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_activity_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_activity_final(bytea)
RETURNS integer[] AS 'MODULE_PATHNAME', 'apivalue_retention_activity_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text) IS 'internal: retention_activity transition';
COMMENT ON FUNCTION apivalue._retention_activity_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text) IS 'internal: retention_activity transition';
COMMENT ON FUNCTION apivalue._retention_activity_combine(bytea, bytea) IS 'internal: retention_activity combine';
COMMENT ON FUNCTION apivalue._retention_activity_final(bytea) IS 'internal: retention_activity final';

CREATE AGGREGATE apivalue.retention_activity(ts timestamptz, is_cohort boolean, is_active boolean,
                                             periods integer, period text, time_zone text) (
  SFUNC = apivalue._retention_activity_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_activity_final,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.retention_activity(ts timestamptz, is_cohort boolean, is_active boolean,
                                             periods integer, period text, time_zone text, locale text) (
  SFUNC = apivalue._retention_activity_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_activity_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.retention_activity(timestamptz, boolean, boolean, integer, text, text) IS
  'int[] of periods+1 flags: element k+1 = 1 when an active event fell k periods after the period of the first cohort event (ISO weeks)';
COMMENT ON AGGREGATE apivalue.retention_activity(timestamptz, boolean, boolean, integer, text, text, text) IS
  'int[] of periods+1 flags: element k+1 = 1 when an active event fell k periods after the period of the first cohort event (weeks of the locale)';

CREATE FUNCTION apivalue.retention_by_mode(activity integer[], mode text, brackets int4range[] DEFAULT NULL)
RETURNS integer[] AS 'MODULE_PATHNAME', 'apivalue_retention_by_mode'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.retention_by_mode(integer[], text, int4range[]) IS
  'turns a retention_activity array into what a mode counts: classic (as is), unbounded/rolling (active then or later), bracket (active in any period of each bracket)';

CREATE FUNCTION apivalue._retention_counts(ru bigint[], mode text, brackets int4range[])
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_retention_counts'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_counts(bigint[], text, int4range[]) IS
  'internal: one user''s row of the retention matrix from _retention_user: {1, then 1 or 0 per period 1..periods (classic) or per bracket}; NULL without a cohort event';

-- _retention_user: retention_activity plus the cohort's and the latest
-- period numbers, for cohort_retention (one aggregate pass per user).
CREATE FUNCTION apivalue._retention_user_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_retention_user_accum'
LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION apivalue._retention_user_final(bytea)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'apivalue_retention_user_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._retention_user_accum(bytea, timestamptz, boolean, boolean, integer, text, text, text) IS 'internal: _retention_user transition';
COMMENT ON FUNCTION apivalue._retention_user_final(bytea) IS 'internal: _retention_user final';
CREATE AGGREGATE apivalue._retention_user(ts timestamptz, is_cohort boolean, is_active boolean,
                                          periods integer, period text, time_zone text, locale text) (
  SFUNC = apivalue._retention_user_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._retention_activity_combine,
  FINALFUNC = apivalue._retention_user_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue._retention_user(timestamptz, boolean, boolean, integer, text, text, text) IS
  'internal: {cohort period number, latest period number, activity flags for periods 0..periods} of one user';

-- ---------------------------------------------------------------------------
-- cohort_retention
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.cohort_retention(
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
  gsel text := 'NULL::text';
  ggrp text := '2';
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
    gsel := 'g';
    ggrp := '1, 2';
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
  -- (sum_arrays handles the ragged lengths).  Without a segment column the
  -- per-cohort grouping is on the cohort period alone (a NULL text key
  -- would make the sort of one row per user compare two keys per row).
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
        SELECT %8$s AS g, ci, count(*) AS size,
               apivalue.sum_arrays(CASE WHEN last_n >= 0 THEN array_fill(1, ARRAY[least(last_n, $1)::int + 1])
                                        ELSE '{}'::int[] END) AS sums
        FROM u GROUP BY %9$s
      ) $q$, u, t, s, r, g, events, w, gsel, ggrp);
  ELSE
    -- No row filter but since/until: a NULL user is one group, dropped after
    -- grouping (OFFSET 0 keeps that test out of the scan), and rows without
    -- a time are skipped by the aggregate.  lim comes from the cohort groups
    -- (users without a cohort event form the group ci = NULL).
    q := format($q$
      WITH mu AS (
        SELECT %8$s AS g, ru[1] AS ci, max(ru[2]) AS last_idx,
               apivalue.sum_arrays(apivalue._retention_counts(ru, $7, $8)) AS sums
        FROM (SELECT %1$s AS uid,
                     apivalue._retention_user(%2$s, %3$s, %4$s, $1, $2, $3, $4) AS ru,
                     %5$s AS g
              FROM %6$s %7$s
              GROUP BY %1$s
              OFFSET 0) pu
        WHERE uid IS NOT NULL
        GROUP BY %9$s
      ), lim AS (
        SELECT max(last_idx) AS last_idx FROM mu
      ), m AS (
        SELECT g, ci, sums[1] AS size, sums FROM mu WHERE ci IS NOT NULL
      ) $q$, u, t, s, r, g, events,
      CASE WHEN w = '' THEN '' ELSE 'WHERE' || substr(w, 5) END, gsel, ggrp);
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

COMMENT ON FUNCTION apivalue.cohort_retention(regclass, text, text, text, integer, text, text, text, text, text, text, timestamptz, timestamptz, int4range[]) IS
  'retention matrix: per segment and cohort period (first start event), users active in each later period (classic), in it or later (unbounded, alias rolling), or in each bracket of periods (bracket); only periods begun by the last event are reported';

-- ---------------------------------------------------------------------------
-- lifecycle (PostHog): new, returning, resurrecting, dormant users per period
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.lifecycle(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  condition text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, status text, users bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  c text := 'true';
  w text := '';
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  IF condition IS NOT NULL THEN
    c := apivalue._condition(events, condition, 'condition');
  END IF;
  IF until IS NOT NULL THEN w := format(' AND %s < $5', t); END IF;
  q := format($q$
    WITH a AS (
      SELECT DISTINCT %1$s AS u, apivalue.period_index(%2$s, $1, $2, $3) AS p
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS TRUE %5$s
    ), b AS (
      SELECT u, p,
             lag(p) OVER w AS prev, lead(p) OVER w AS next,
             min(p) OVER (PARTITION BY u) AS first
      FROM a
      WINDOW w AS (PARTITION BY u ORDER BY p)
    ), lim AS (
      SELECT max(p) AS last_p,
             CASE WHEN $4::timestamptz IS NULL THEN min(p)
                  ELSE apivalue.period_index($4, $1, $2, $3) END AS first_p
      FROM a
    ), s AS (
      SELECT p, CASE WHEN p = first THEN 'new'
                     WHEN prev = p - 1 THEN 'returning'
                     ELSE 'resurrecting' END AS status
      FROM b
      UNION ALL
      SELECT p + 1, 'dormant' FROM b, lim
      WHERE next IS DISTINCT FROM p + 1 AND p + 1 <= lim.last_p
    )
    SELECT apivalue.period_index_start(s.p, $1, $2, $3), s.status, count(*)
    FROM s, lim
    WHERE s.p >= lim.first_p
    GROUP BY s.p, s.status
    ORDER BY 1, array_position('{new,returning,resurrecting,dormant}'::text[], s.status) $q$,
    u, t, c, events, w);
  RETURN QUERY EXECUTE q USING period, time_zone, locale, since, until;
END
$fn$;

COMMENT ON FUNCTION apivalue.lifecycle(regclass, text, text, text, text, text, text, timestamptz, timestamptz) IS
  'per period: new (first period ever), returning (also active the period before), resurrecting (inactive the period before, active earlier) and dormant (active the period before, not now) users, as PostHog defines them; dormant counts are positive';

-- ---------------------------------------------------------------------------
-- stickiness: how many days (units) of each week (period) users were active
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.stickiness(
  events regclass, user_column text, time_column text,
  period text DEFAULT 'week',
  unit text DEFAULT 'day',
  condition text DEFAULT NULL,
  time_zone text DEFAULT 'UTC',
  locale text DEFAULT NULL,
  since timestamptz DEFAULT NULL,
  until timestamptz DEFAULT NULL)
RETURNS TABLE (period_start timestamptz, active_units integer, users bigint, share float8)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  u text := apivalue._column(events, user_column, 'user column');
  t text := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  c text := 'true';
  w text := '';
  ranks text[] := '{hour,day,week,month,quarter,year}';
  q text;
BEGIN
  IF period IS NULL OR unit IS NULL OR time_zone IS NULL THEN
    RAISE EXCEPTION 'period, unit and time_zone must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue.period_start(now(), period, time_zone, locale);
  PERFORM apivalue.period_start(now(), unit, time_zone, locale);
  IF array_position(ranks, unit) >= array_position(ranks, period) THEN
    RAISE EXCEPTION 'unit "%" must be shorter than period "%"', unit, period
      USING ERRCODE = '22023', HINT = 'For example period => ''week'', unit => ''day''.';
  END IF;
  IF condition IS NOT NULL THEN
    c := apivalue._condition(events, condition, 'condition');
  END IF;
  IF since IS NOT NULL THEN w := w || format(' AND %s >= $5', t); END IF;
  IF until IS NOT NULL THEN w := w || format(' AND %s < $6', t); END IF;
  q := format($q$
    WITH pu AS (
      SELECT apivalue.period_start(%2$s, $1, $3, $4) AS ps,
             count(DISTINCT apivalue.period_index(%2$s, $2, $3, $4))::integer AS k
      FROM %4$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS TRUE %5$s
      GROUP BY %1$s, 1
    )
    SELECT ps, k, count(*), count(*)::float8 / sum(count(*)) OVER (PARTITION BY ps)
    FROM pu
    GROUP BY ps, k
    ORDER BY ps, k $q$, u, t, c, events, w);
  RETURN QUERY EXECUTE q USING period, unit, time_zone, locale, since, until;
END
$fn$;

COMMENT ON FUNCTION apivalue.stickiness(regclass, text, text, text, text, text, text, text, timestamptz, timestamptz) IS
  'per period: how many users were active on exactly k distinct units (days of a week, by default), and their share of the period''s active users';
