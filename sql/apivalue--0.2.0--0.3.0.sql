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
