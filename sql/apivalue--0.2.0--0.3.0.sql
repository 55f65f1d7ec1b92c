-- apivalue 0.2.0 -> 0.3.0
--
-- Every change to an object of the extension since the frozen 0.2.0
-- install script is repeated here (append only, under a comment line
-- naming the branch); test/layers/upgrade.sh checks that ALTER EXTENSION
-- apivalue UPDATE yields exactly the objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.3.0'" to load this file. \quit

-- branch retention3: time_to_first_value declares its state size (a
-- TtfvState chunk, 80 bytes) so the planner hashes many users instead of
-- sorting for lack of (assumed 8 kB per group) hash memory.
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 80
WHERE aggfnoid = 'apivalue.time_to_first_value(timestamptz, boolean, boolean)'::regprocedure;
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 80
WHERE aggfnoid = 'apivalue.time_to_first_value(timestamptz, boolean, boolean, interval)'::regprocedure;

-- branch retention3: cohort_retention groups per cohort on the cohort period
-- alone when there is no segment column.
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


-- quality3: _quality_run_duplicates groups the keys once (was twice, through duplicate_rate and duplicate_keys)
CREATE OR REPLACE FUNCTION apivalue._quality_run_duplicates(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tol interval := (params->>'tolerance')::interval;
  k text := apivalue._expression(rel, params->>'key', 'key');
  t text := apivalue._column(rel, params->>'time_column', 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  n bigint;
  dups bigint;
  offending bigint;
  keys jsonb;
  ids text[];
BEGIN
  -- What duplicate_rate and duplicate_keys report, with the keys grouped
  -- once (the rate is the sum over the offending keys).
  EXECUTE format('SELECT count(*) FROM %s WHERE %s IS NOT NULL%s', rel, k,
                 CASE WHEN tol IS NULL THEN '' ELSE format(' AND %s IS NOT NULL', t) END)
    INTO n;
  SELECT coalesce(sum(d.duplicates), 0)::bigint, count(*),
         jsonb_agg(to_jsonb(d.r) ORDER BY d.key_value) FILTER (WHERE d.rn <= 20),
         array_agg(d.key_value ORDER BY d.key_value) FILTER (WHERE d.rn <= 20)
  INTO dups, offending, keys, ids
  FROM (SELECT dk AS r, dk.key_value, dk.duplicates,
               row_number() OVER (ORDER BY dk.key_value) AS rn
        FROM apivalue.duplicate_keys(rel, params->>'key', params->>'time_column', tol) dk) d;
  observed := dups;
  details := jsonb_build_object('rows', n, 'duplicates', dups,
                                'duplicate_rate', CASE WHEN n > 0 THEN dups::float8 / n END,
                                'offending_keys', offending, 'keys', coalesce(keys, '[]'))
             || CASE WHEN tol IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('tolerance', tol::text) END;
  IF dups > 0 THEN
    sample := apivalue._quality_sample(rel, format('%s::text = ANY ($1)', k),
                                       format('%s::text, %s', k, t), ids);
  END IF;
END $$;


-- branch drivers3: realistic state sizes (SSPACE) for the per-user feature
-- aggregates, so the planner no longer assumes 8 kB per user and keeps the
-- in-memory hash aggregate over many users (CREATE AGGREGATE's SSPACE, which
-- ALTER AGGREGATE cannot change).
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 1536
 WHERE aggfnoid IN ('apivalue.behavior_counts(timestamptz, text, interval)'::regprocedure,
                    'apivalue.behavior_counts(timestamp, text, interval)'::regprocedure);
UPDATE pg_catalog.pg_aggregate SET aggtransspace = 1024
 WHERE aggfnoid IN ('apivalue.driver_features(timestamptz, text, boolean, boolean, double precision, interval, interval, integer, integer, double precision, boolean, timestamptz)'::regprocedure,
                    'apivalue.driver_features(timestamp, text, boolean, boolean, double precision, interval, interval, integer, integer, double precision, boolean, timestamp)'::regprocedure);


-- branch usage4: api_usage without a sort per group -- the aggregate
-- distinct_percentiles (count(DISTINCT) and exact percentile_cont in one
-- hash-aggregated state) and api_usage using it under hash aggregation.
-- ---------------------------------------------------------------------------
-- distinct_percentiles: count(DISTINCT value) and exact percentile_cont of
-- the latencies of a group in one aggregate, so GROUP BY can hash (no sort
-- per group).  api_usage's engine; see src/usage_group.c.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.distinct_percentiles_accum(internal, anyelement, double precision, double precision[])
RETURNS internal
  AS 'MODULE_PATHNAME', 'apivalue_distinct_percentiles_accum' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.distinct_percentiles_accum(internal, anyelement, double precision, double precision[]) IS
  'transition function of distinct_percentiles';

CREATE FUNCTION apivalue.distinct_percentiles_combine(internal, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'apivalue_distinct_percentiles_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.distinct_percentiles_combine(internal, internal) IS
  'combine function of distinct_percentiles';

CREATE FUNCTION apivalue.distinct_percentiles_serialize(internal) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_distinct_percentiles_serialize' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.distinct_percentiles_serialize(internal) IS
  'serialization function of distinct_percentiles';

CREATE FUNCTION apivalue.distinct_percentiles_deserialize(bytea, internal) RETURNS internal
  AS 'MODULE_PATHNAME', 'apivalue_distinct_percentiles_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.distinct_percentiles_deserialize(bytea, internal) IS
  'deserialization function of distinct_percentiles';

CREATE FUNCTION apivalue.distinct_percentiles_final(internal, anyelement, double precision, double precision[])
RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'apivalue_distinct_percentiles_final' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.distinct_percentiles_final(internal, anyelement, double precision, double precision[]) IS
  'final function of distinct_percentiles';

CREATE AGGREGATE apivalue.distinct_percentiles(value anyelement, latency double precision,
                                               fractions double precision[]) (
  SFUNC = apivalue.distinct_percentiles_accum, STYPE = internal, SSPACE = 1024,
  FINALFUNC = apivalue.distinct_percentiles_final, FINALFUNC_EXTRA,
  COMBINEFUNC = apivalue.distinct_percentiles_combine,
  SERIALFUNC = apivalue.distinct_percentiles_serialize,
  DESERIALFUNC = apivalue.distinct_percentiles_deserialize,
  PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.distinct_percentiles(anyelement, double precision, double precision[]) IS
  'one array per group: {count(DISTINCT value), percentile_cont(f) of latency for each fraction f of the first row}; exact (a hash set compared with the type''s equality, sorted latencies interpolated as percentile_cont); a percentile is NULL for a NULL fraction or when the group has no latency; hashes, so GROUP BY need not sort';

CREATE OR REPLACE FUNCTION apivalue.api_usage(
    events regclass,
    time_column text,
    endpoint_column text,
    user_column text,
    status_column text,
    latency_column text,
    period text DEFAULT 'day',
    segment_column text DEFAULT NULL,
    time_zone text DEFAULT 'UTC',
    normalize_endpoints boolean DEFAULT true)
RETURNS TABLE (period_start timestamptz, segment text, endpoint text,
               calls bigint, users bigint,
               server_error_rate double precision, client_error_rate double precision,
               p50_ms double precision, p95_ms double precision, p99_ms double precision,
               calls_change double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- The groups are few (periods x segments x endpoints) but the planner
-- cannot know it (it estimates them from the raw columns) and would sort
-- every row; distinct_percentiles is made for hash aggregation.  With sorts
-- "disabled" the plan's cost is huge and would be JIT-compiled, which costs
-- seconds and gains nothing here (the work is in C functions): no JIT.
SET enable_sort = off
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
  t text;
  e text;
  u text;
  ts_expr text;
  ep_expr text;
  seg_expr text := 'NULL::text';
  st_expr text := 'NULL::integer';
  err5 text := 'false';
  err4 text := 'false';
  lat_expr text := 'NULL::double precision';
  typ regtype;
  q text;
BEGIN
  IF period IS NULL OR time_zone IS NULL OR normalize_endpoints IS NULL THEN
    RAISE EXCEPTION 'period, time_zone and normalize_endpoints must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- unknown period names and time zones fail here, before any row is read
  PERFORM apivalue.period_start(now(), period, time_zone);

  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  e := apivalue._column(events, endpoint_column, 'endpoint column');
  u := apivalue._column(events, user_column, 'user column');
  SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = time_column AND a.attnum > 0 AND NOT a.attisdropped;
  -- a timestamp without time zone holds wall-clock times of time_zone
  ts_expr := CASE WHEN typ = 'timestamptz'::regtype THEN t
                  ELSE format('pg_catalog.timezone($2, %s)', t) END;
  ep_expr := format(CASE WHEN normalize_endpoints THEN 'apivalue.normalize_step(%s::text)' ELSE '%s::text' END, e);
  IF segment_column IS NOT NULL THEN
    seg_expr := format('%s::text', apivalue._column(events, segment_column, 'segment column'));
  END IF;
  IF status_column IS NOT NULL THEN
    st_expr := apivalue._column(events, status_column, 'status column',
                                '{smallint,integer,bigint,numeric,text,character varying}');
    SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = status_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IN ('text'::regtype, 'character varying'::regtype) THEN
      -- a text status is a three-character code: '503', or a class such as '5xx'
      err5 := format($x$(pg_catalog.btrim(%s::text) ~* '^5[0-9x][0-9x]$')$x$, st_expr);
      err4 := format($x$(pg_catalog.btrim(%s::text) ~* '^4[0-9x][0-9x]$')$x$, st_expr);
    ELSE
      err5 := format('(%s BETWEEN 500 AND 599)', st_expr);
      err4 := format('(%s BETWEEN 400 AND 499)', st_expr);
    END IF;
  END IF;
  IF latency_column IS NOT NULL THEN
    lat_expr := apivalue._column(events, latency_column, 'latency column',
                                 '{smallint,integer,bigint,numeric,real,double precision,interval}');
    SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = events AND a.attname = latency_column AND a.attnum > 0 AND NOT a.attisdropped;
    lat_expr := CASE WHEN typ = 'interval'::regtype
                     THEN format('(pg_catalog.date_part(''epoch'', %s) * 1000)', lat_expr)
                     ELSE format('%s::double precision', lat_expr) END;
  END IF;

  q := format($q$
    WITH g AS (
      SELECT apivalue.period_start(%1$s, $1, $2) AS p, %2$s AS s, %3$s AS e,
             count(*) AS calls,
             count(*) FILTER (WHERE %5$s) AS n5, count(*) FILTER (WHERE %6$s) AS n4,
             count(%7$s) AS nst,
             apivalue.distinct_percentiles(%4$s, %8$s, '{0.5,0.95,0.99}'::double precision[]) AS dp
        FROM %9$s
       WHERE %10$s IS NOT NULL AND %11$s IS NOT NULL
       GROUP BY 1, 2, 3
    )
    SELECT g.p, g.s, g.e, g.calls, g.dp[1]::bigint,
           g.n5::double precision / NULLIF(g.nst, 0),
           g.n4::double precision / NULLIF(g.nst, 0),
           g.dp[2], g.dp[3], g.dp[4],
           CASE WHEN lag(g.p) OVER w = apivalue.period_start(g.p - interval '1 microsecond', $1, $2)
                THEN g.calls::double precision / lag(g.calls) OVER w - 1 END
      FROM g
    WINDOW w AS (PARTITION BY g.s, g.e ORDER BY g.p)
     ORDER BY g.p, g.s NULLS FIRST, g.e
  $q$, ts_expr, seg_expr, ep_expr, u, err5, err4, st_expr, lat_expr, events, t, e);
  RETURN QUERY EXECUTE q USING period, time_zone;
END
$fn$;

COMMENT ON FUNCTION apivalue.api_usage(regclass, text, text, text, text, text, text, text, text, boolean) IS
  'per period (period_start in time_zone), segment and endpoint (normalized with normalize_step unless normalize_endpoints => false): calls, distinct users, shares of known statuses 500-599 and 400-499, exact p50/p95/p99 latency in ms (percentile_cont), calls_change against the immediately preceding period of the same endpoint and segment';


-- branch drivers4: behavior_tally (the 2x2 counts of every behaviour in one
-- C aggregate over the per-user rows) and value_drivers built on it instead
-- of unnesting the per-user arrays and grouping the pairs by text.
CREATE TYPE apivalue.behavior_tally_result AS (
  behaviors      text[],
  users_with     bigint[],
  outcomes_with  bigint[],
  users          bigint,
  outcomes       bigint,
  error_users    bigint,
  error_outcomes bigint,
  slow_users     bigint,
  slow_outcomes  bigint
);

COMMENT ON TYPE apivalue.behavior_tally_result IS
  'Counts for value drivers across users: behaviours in byte order with the users who have each and how many of them had the outcome (element-wise), all users and outcomes, and the users (and outcomes) with the server-error and latency signals';

CREATE FUNCTION apivalue.behavior_tally_accum(internal, text[], boolean, boolean, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_tally_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_tally_accum(internal, text[], boolean, boolean, boolean) IS
  'internal: behavior_tally transition function';

CREATE FUNCTION apivalue.behavior_tally_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_tally_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_tally_combine(internal, internal) IS
  'internal: behavior_tally combine function';

CREATE FUNCTION apivalue.behavior_tally_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_behavior_tally_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_tally_serialize(internal) IS
  'internal: behavior_tally serialize function';

CREATE FUNCTION apivalue.behavior_tally_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_tally_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_tally_deserialize(bytea, internal) IS
  'internal: behavior_tally deserialize function';

CREATE FUNCTION apivalue.behavior_tally_final(internal)
RETURNS apivalue.behavior_tally_result AS 'MODULE_PATHNAME', 'apivalue_behavior_tally_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_tally_final(internal) IS
  'internal: behavior_tally final function';

CREATE AGGREGATE apivalue.behavior_tally(behaviors text[], outcome boolean,
                                         server_errors boolean, slow boolean) (
  SFUNC = apivalue.behavior_tally_accum,
  STYPE = internal,
  SSPACE = 4096,
  FINALFUNC = apivalue.behavior_tally_final,
  COMBINEFUNC = apivalue.behavior_tally_combine,
  SERIALFUNC = apivalue.behavior_tally_serialize,
  DESERIALFUNC = apivalue.behavior_tally_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.behavior_tally(text[], boolean, boolean, boolean) IS
  'Across users (one row each, e.g. driver_features'' fields): per behaviour the users whose array holds it (once per row) and how many of them had the outcome, all users and outcomes, users with server_errors or slow true and their outcomes; rows with a NULL outcome are skipped, a NULL array is no behaviour, NULL signals count as false';

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
    WITH t AS MATERIALIZED (
      SELECT apivalue.behavior_tally((f.s).behaviors, (f.s).outcome,
                                     (f.s).server_errors, (f.s).slow) AS r
        FROM (SELECT apivalue.driver_features(%1$s, %2$s, %3$s, %4$s, %5$s,
                                              $1, $2, $3, $4, $5, $6, $7::%6$s) AS s
                FROM %7$s
               WHERE %8$s IS NOT NULL
               GROUP BY %8$s) AS f
    ), tot AS (
      SELECT (t.r).users AS n, (t.r).outcomes AS k FROM t
    ), c AS (
      SELECT 'behavior'::text AS kind, x.b AS behavior, x.n AS n_with, x.k AS k_with
        FROM t CROSS JOIN LATERAL
             ROWS FROM (pg_catalog.unnest((t.r).behaviors), pg_catalog.unnest((t.r).users_with),
                        pg_catalog.unnest((t.r).outcomes_with)) AS x(b, n, k)
      UNION ALL
      SELECT 'errors', $8, (t.r).error_users, (t.r).error_outcomes
        FROM t WHERE $8 IS NOT NULL
      UNION ALL
      SELECT 'latency', $9, (t.r).slow_users, (t.r).slow_outcomes
        FROM t WHERE $9 IS NOT NULL
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

-- dupkeys: duplicate_keys groups the keys in a MATERIALIZED CTE (hash aggregation) and sorts only the offending keys
-- duplicate_keys groups the keys in a MATERIALIZED CTE and sorts only the
-- few offending ones: with the ORDER BY on the grouping itself the planner,
-- expecting a third of the keys to pass HAVING, sorts every row to group
-- them (10M events: 32 s against 18 s for hashing).
CREATE OR REPLACE FUNCTION apivalue.duplicate_keys(events regclass, key text, time_column text,
    tolerance interval DEFAULT NULL)
RETURNS TABLE (key_value text, occurrences bigint, duplicates bigint,
               first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  k text := apivalue._expression(events, key, 'key');
  t text := apivalue._column(events, time_column, 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
BEGIN
  IF tolerance IS NULL THEN
    -- Exact duplicates: every row after the first of a key.
    RETURN QUERY EXECUTE format($q$
      WITH g AS MATERIALIZED (
        SELECT %1$s::text AS k, count(*) AS n, min(%2$s)::timestamptz AS f, max(%2$s)::timestamptz AS l
        FROM %3$s WHERE %1$s IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1)
      SELECT k, n, n - 1, f, l FROM g ORDER BY 1 $q$, k, t, events);
  ELSE
    PERFORM apivalue._quality_positive(tolerance, 'tolerance', true);
    -- Near duplicates: rows within tolerance after an earlier row of the key.
    RETURN QUERY EXECUTE format($q$
      WITH g AS MATERIALIZED (
        SELECT %1$s::text AS k, count(*) AS n,
               apivalue.near_duplicate_count(%1$s::text, %2$s::timestamptz, $1) AS d,
               min(%2$s)::timestamptz AS f, max(%2$s)::timestamptz AS l
        FROM %3$s WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL
        GROUP BY 1 HAVING apivalue.near_duplicate_count(%1$s::text, %2$s::timestamptz, $1) > 0)
      SELECT k, n, d, f, l FROM g ORDER BY 1 $q$, k, t, events) USING tolerance;
  END IF;
END $$;

-- delivery_hash (lead): _delivery_by_segment hashes its (segment, device) groups
CREATE OR REPLACE FUNCTION apivalue._delivery_by_segment(events regclass, device_column text, seq_column text,
    segment_column text, time_column text, since timestamptz)
RETURNS TABLE (segment text, devices bigint, received bigint, expected bigint, loss_rate float8,
               p_value float8, flagged boolean)
LANGUAGE plpgsql STABLE
-- One sequence summary per (segment, device), hashed: the summary is a plain
-- varlena with no memory context of its own, so hash aggregation's memory
-- accounting stays linear (an earlier state had one context per group, and
-- this function forced a sort of every row instead: 3.5x the scan floor).
AS $$
DECLARE
  d text := apivalue._column(events, device_column, 'device_column');
  s text := apivalue._column(events, seq_column, 'seq_column',
                             ARRAY['bigint'::regtype, 'integer'::regtype, 'smallint'::regtype]);
  g text := apivalue._column(events, segment_column, 'segment_column');
  w text := '';
BEGIN
  IF since IS NOT NULL THEN
    IF NOT isfinite(since) THEN
      RAISE EXCEPTION 'since must be finite, got "%"', since USING ERRCODE = '22008';
    END IF;
    w := format(' AND %s >= $1', apivalue._column(events, time_column, 'time_column',
                                                  ARRAY['timestamptz'::regtype, 'timestamp'::regtype]));
  END IF;
  -- Per (segment, device): the sequence summary of the quality module gives
  -- expected = max - min + 1 and received = distinct numbers.  Per segment,
  -- a one-sided two-proportion z-test of its loss rate against all the
  -- other segments' with device-clustered (sandwich) standard errors: the
  -- events of one device are not independent trials, so a single device
  -- that lost a burst is one incident, not hundreds of losses.  For a ratio
  -- p = sum(lost) / sum(expected) over m devices,
  --   var(p) = m / (m - 1) * sum((lost_d - p * expected_d)^2) / sum(expected)^2,
  -- expanded into sums so that "all the others" is the total minus the
  -- segment.  Either side with fewer than 2 devices cannot be tested.
  RETURN QUERY EXECUTE format($q$
    WITH d AS (
      SELECT %1$s::text AS seg, apivalue.sequence_summary(%2$s::bigint) AS sm
      FROM %4$s
      WHERE %3$s IS NOT NULL AND %2$s IS NOT NULL%5$s
      GROUP BY %1$s, %3$s),
    c AS (
      SELECT d.seg, apivalue.received_count(d.sm) AS r, apivalue.expected_count(d.sm) AS e
      FROM d),
    g AS (
      SELECT c.seg, count(*) AS m, sum(c.r)::bigint AS received, sum(c.e)::bigint AS expected,
             sum(c.e - c.r)::numeric AS l, sum((c.e - c.r)::numeric * (c.e - c.r)) AS l2,
             sum((c.e - c.r)::numeric * c.e) AS le, sum(c.e::numeric * c.e) AS e2
      FROM c GROUP BY c.seg),
    t AS (
      SELECT g.*,
             sum(g.m) OVER () - g.m AS m_r, sum(g.expected) OVER () - g.expected AS e_r,
             sum(g.l) OVER () - g.l AS l_r, sum(g.l2) OVER () - g.l2 AS l2_r,
             sum(g.le) OVER () - g.le AS le_r, sum(g.e2) OVER () - g.e2 AS e2_r
      FROM g),
    v AS (
      SELECT t.*, t.l::float8 / t.expected AS p_i,
             CASE WHEN t.e_r > 0 THEN t.l_r::float8 / t.e_r END AS p_r
      FROM t),
    w AS (
      SELECT v.*,
             CASE WHEN v.m >= 2 AND v.m_r >= 2 THEN
               v.m::float8 / (v.m - 1)
                 * greatest(v.l2::float8 - 2 * v.p_i * v.le::float8 + v.p_i * v.p_i * v.e2::float8, 0)
                 / (v.expected::float8 * v.expected)
               + v.m_r::float8 / (v.m_r - 1)
                 * greatest(v.l2_r::float8 - 2 * v.p_r * v.le_r::float8 + v.p_r * v.p_r * v.e2_r::float8, 0)
                 / (v.e_r::float8 * v.e_r)
             END AS var
      FROM v)
    SELECT w.seg, w.m, w.received, w.expected, w.p_i,
           pv.p, coalesce(pv.p < 0.01, false)
    FROM w, LATERAL (
      SELECT CASE WHEN w.var IS NULL THEN NULL
                  WHEN w.var = 0 THEN CASE WHEN w.p_i > w.p_r THEN 0.0::float8 ELSE 1.0::float8 END
                  ELSE apivalue._normal_upper_tail((w.p_i - w.p_r) / sqrt(w.var)) END AS p) pv
    ORDER BY w.seg COLLATE "C" NULLS FIRST $q$, g, s, d, events, w)
    USING since;
END $$;

-- journey3
-- journey_flows: the edges are counted by one C aggregate, _journey_flow_edges
-- (the per-depth self-join chain and the percentile_cont sort are gone).

CREATE TYPE apivalue.journey_flow_edge_list AS (
  depth integer[],
  from_step text[],
  to_step text[],
  users bigint[],
  median_time interval[]
);

COMMENT ON TYPE apivalue.journey_flow_edge_list IS
  'result of _journey_flow_edges: the edges of journey_flows as parallel arrays (to_step NULL = dropped off; median_time NULL for those)';

CREATE FUNCTION apivalue._journey_flow_edges_accum(internal, text[], anyarray, integer, integer)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_accum'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_accum(internal, text[], anyarray, integer, integer) IS
  'transition function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_combine'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_combine(internal, internal) IS
  'combine function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_serialize'
LANGUAGE C STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_serialize(internal) IS
  'serialize function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_deserialize(bytea, internal) IS
  'deserialize function of _journey_flow_edges';

CREATE FUNCTION apivalue._journey_flow_edges_final(internal, text[], anyarray, integer, integer)
RETURNS apivalue.journey_flow_edge_list
AS 'MODULE_PATHNAME', 'apivalue_journey_flow_edges_final'
LANGUAGE C PARALLEL SAFE;

COMMENT ON FUNCTION apivalue._journey_flow_edges_final(internal, text[], anyarray, integer, integer) IS
  'final function of _journey_flow_edges';

CREATE AGGREGATE apivalue._journey_flow_edges(steps text[], times anyarray, max_depth integer, min_users integer) (
  SFUNC = apivalue._journey_flow_edges_accum,
  STYPE = internal,
  FINALFUNC = apivalue._journey_flow_edges_final,
  FINALFUNC_EXTRA,
  COMBINEFUNC = apivalue._journey_flow_edges_combine,
  SERIALFUNC = apivalue._journey_flow_edges_serialize,
  DESERIALFUNC = apivalue._journey_flow_edges_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue._journey_flow_edges(text[], anyarray, integer, integer) IS
  'journey_flows'' edges from one path per row (steps, and their start times as timestamp[] or timestamptz[], e.g. journey_path and journey_path_times): paths cut to max_depth + 1 steps, edges taken by fewer than min_users paths folded into ''other'' depth by depth; per edge (depth, from_step, to_step or NULL when the path ends) the paths taking it and percentile_cont(0.5) of the time between the two steps';

CREATE OR REPLACE FUNCTION apivalue.journey_flows(
    events regclass,
    user_column text,
    time_column text,
    step_column text,
    start_step text DEFAULT NULL,
    max_depth integer DEFAULT 5,
    session_gap interval DEFAULT NULL,
    min_users integer DEFAULT 1,
    normalize_steps boolean DEFAULT false)
RETURNS TABLE (depth integer, from_step text, to_step text, users bigint,
               median_time interval, from_users bigint, dropped_after bigint,
               dropped_share double precision)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  u text;
  t text;
  s text;
  step_expr text;
  anchor text := start_step;
  agg text;
  coll text := '';
  q text;
BEGIN
  IF max_depth IS NULL OR max_depth < 1 OR max_depth > 50 THEN
    RAISE EXCEPTION 'max_depth must be between 1 and 50, not %', coalesce(max_depth::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF min_users IS NULL OR min_users < 1 THEN
    RAISE EXCEPTION 'min_users must be at least 1, not %', coalesce(min_users::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF session_gap < interval '0' THEN
    RAISE EXCEPTION 'session_gap must not be negative, not "%"', session_gap
      USING ERRCODE = '22023';
  END IF;
  IF normalize_steps IS NULL THEN
    RAISE EXCEPTION 'normalize_steps must not be NULL' USING ERRCODE = '22004';
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  s := apivalue._column(events, step_column, 'step column', '{text,character varying}');
  step_expr := format(CASE WHEN normalize_steps THEN 'apivalue.normalize_step(%s::text)' ELSE '%s::text' END, s);
  IF normalize_steps AND anchor IS NOT NULL THEN
    anchor := apivalue.normalize_step(anchor);
  END IF;
  agg := CASE WHEN anchor IS NULL THEN 'apivalue.journey_path%1$s(t, s, $2 + 1)'
              ELSE 'apivalue.journey_path_from%1$s(t, s, $1, $2 + 1)' END;
  -- labels are ordered under the step column's collation, as its paths are
  SELECT CASE WHEN a.attcollation <> 0 AND a.attcollation <> 'pg_catalog.default'::regcollation
              THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
    INTO coll
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = events AND a.attname = step_column AND NOT a.attisdropped;

  q := format($q$
    WITH ev AS (
      SELECT %1$s AS u, %2$s AS t, %3$s AS s%4$s
      FROM %5$s
      WHERE %1$s IS NOT NULL AND %2$s IS NOT NULL AND %3$s IS NOT NULL),
    p AS (
      SELECT %6$s AS steps, %7$s AS times FROM ev GROUP BY u%8$s),
    r AS (
      SELECT apivalue._journey_flow_edges(p.steps, p.times, $2, $4) AS r FROM p),
    g AS (
      SELECT x.d, x.f%9$s AS f, x.tt%9$s AS tt, x.n, x.med
      FROM r, unnest((r.r).depth, (r.r).from_step, (r.r).to_step, (r.r).users, (r.r).median_time)
              AS x(d, f, tt, n, med))
    SELECT g.d, g.f, g.tt, g.n, g.med,
           (sum(g.n) OVER w)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::bigint,
           coalesce(sum(g.n) FILTER (WHERE g.tt IS NULL) OVER w, 0)::double precision
             / (sum(g.n) OVER w)::double precision
    FROM g
    WINDOW w AS (PARTITION BY g.d, g.f)
    ORDER BY g.d, g.n DESC, g.f, g.tt NULLS LAST$q$,
    u, t, step_expr,
    CASE WHEN session_gap IS NULL THEN ''
         ELSE format(', apivalue.session_number(%s, $3) OVER (PARTITION BY %s ORDER BY %s) AS sess', t, u, t) END,
    events,
    format(agg, ''), format(agg, '_times'),
    CASE WHEN session_gap IS NULL THEN '' ELSE ', sess' END,
    coll);

  RETURN QUERY EXECUTE q USING anchor, max_depth, session_gap, min_users;
END
$fn$;

COMMENT ON FUNCTION apivalue.journey_flows(regclass, text, text, text, text, integer, interval, integer, boolean) IS
  'Sankey edges of users'' paths: per depth, from_step -> to_step (NULL = dropped off), paths taking it, median time between the two steps, paths through from_step and how many of them stopped there; rare edges folded into ''other''';
