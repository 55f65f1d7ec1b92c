-- apivalue install script: time to first value (src/ttfv.c, src/activity.c).

CREATE FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_serialize'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue._ttfv_final(internal)
RETURNS interval AS 'MODULE_PATHNAME', 'apivalue_time_to_first_value_final'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean) IS 'internal: time_to_first_value transition';
COMMENT ON FUNCTION apivalue._ttfv_accum(internal, timestamptz, boolean, boolean, interval) IS 'internal: time_to_first_value transition';
COMMENT ON FUNCTION apivalue._ttfv_combine(internal, internal) IS 'internal: time_to_first_value combine';
COMMENT ON FUNCTION apivalue._ttfv_serialize(internal) IS 'internal: time_to_first_value serialize';
COMMENT ON FUNCTION apivalue._ttfv_deserialize(bytea, internal) IS 'internal: time_to_first_value deserialize';
COMMENT ON FUNCTION apivalue._ttfv_final(internal) IS 'internal: time_to_first_value final';

CREATE AGGREGATE apivalue.time_to_first_value(ts timestamptz, is_start boolean, is_value boolean) (
  SFUNC = apivalue._ttfv_accum, STYPE = internal, SSPACE = 80,
  COMBINEFUNC = apivalue._ttfv_combine,
  SERIALFUNC = apivalue._ttfv_serialize, DESERIALFUNC = apivalue._ttfv_deserialize,
  FINALFUNC = apivalue._ttfv_final,
  PARALLEL = SAFE
);
CREATE AGGREGATE apivalue.time_to_first_value(ts timestamptz, is_start boolean, is_value boolean,
                                              within interval) (
  SFUNC = apivalue._ttfv_accum, STYPE = internal, SSPACE = 80,
  COMBINEFUNC = apivalue._ttfv_combine,
  SERIALFUNC = apivalue._ttfv_serialize, DESERIALFUNC = apivalue._ttfv_deserialize,
  FINALFUNC = apivalue._ttfv_final,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.time_to_first_value(timestamptz, boolean, boolean) IS
  'time from the first start event to the first value event at or after it; NULL when value never came';
COMMENT ON AGGREGATE apivalue.time_to_first_value(timestamptz, boolean, boolean, interval) IS
  'time from the first start event to the first value event at or after it; NULL when value never came or came later than within';

-- value_at_first: the value on the earliest row where cond holds.
CREATE FUNCTION apivalue._value_at_first_accum(bytea, timestamptz, boolean, text)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_value_at_first_accum'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._value_at_first_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_value_at_first_combine'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION apivalue._value_at_first_final(bytea)
RETURNS text AS 'MODULE_PATHNAME', 'apivalue_value_at_first_final'
LANGUAGE C PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._value_at_first_accum(bytea, timestamptz, boolean, text) IS 'internal: value_at_first transition';
COMMENT ON FUNCTION apivalue._value_at_first_combine(bytea, bytea) IS 'internal: value_at_first combine';
COMMENT ON FUNCTION apivalue._value_at_first_final(bytea) IS 'internal: value_at_first final';

CREATE AGGREGATE apivalue.value_at_first(ts timestamptz, cond boolean, value text) (
  SFUNC = apivalue._value_at_first_accum, STYPE = bytea,
  COMBINEFUNC = apivalue._value_at_first_combine,
  FINALFUNC = apivalue._value_at_first_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.value_at_first(timestamptz, boolean, text) IS
  'value on the earliest row where cond holds (ties: smallest value in byte order, NULL last), e.g. a user''s segment at their first event';

-- ---------------------------------------------------------------------------
-- ttfv_report: per cohort period and segment, activation and time to value.
-- ---------------------------------------------------------------------------
CREATE FUNCTION apivalue.ttfv_report(
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

COMMENT ON FUNCTION apivalue.ttfv_report(regclass, text, text, text, text, interval, text, text, text, text, timestamptz, timestamptz, text) IS
  'per cohort period (of the first start event) and segment: users started, users reaching value, activation rate, p50/p75/p90 time to value (over users who reached it), users left out by timestamp_check, and km_median: the Kaplan-Meier median in whole days, users without value censored at the latest event (SPEC 4c)';
