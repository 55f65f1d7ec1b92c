-- apivalue install script: shared statistics, value drivers (SPEC 4b) and,
-- later, API usage and experiments (SPEC 8b).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
-- C code: src/stats.c (statistics), src/drivers.c (per-user features).

-- ---------------------------------------------------------------------------
-- Statistics.  All IMMUTABLE, STRICT and PARALLEL SAFE; none returns NaN:
-- an undefined result is NULL (or a documented value), bad arguments are
-- errors with SQLSTATE 22023.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.normal_cdf(z double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_normal_cdf'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.normal_cdf(double precision) IS
  'P(Z <= z) for a standard normal Z (computed with erfc, accurate far into the tails)';

CREATE FUNCTION apivalue.normal_quantile(p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_normal_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.normal_quantile(double precision) IS
  'Inverse of normal_cdf: the z with P(Z <= z) = p (-Infinity at 0, Infinity at 1)';

CREATE FUNCTION apivalue.chisq_p(x double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_chisq_p'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.chisq_p(double precision, double precision) IS
  'Upper tail P(X > x) of the chi-square distribution with df degrees of freedom (regularized incomplete gamma Q(df/2, x/2))';

CREATE FUNCTION apivalue.chisq_gof_p(observed bigint[], expected_share double precision[] DEFAULT NULL)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_chisq_gof_p'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.chisq_gof_p(bigint[], double precision[]) IS
  'Pearson chi-square goodness-of-fit p-value of observed counts against expected shares (normalized; NULL = equal shares), df = categories with a positive share - 1; NULL when there is nothing to test; 0 when a category with share 0 was observed (sample ratio mismatch)';

CREATE FUNCTION apivalue.fisher_exact_p(a bigint, b bigint, c bigint, d bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_fisher_exact_p'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.fisher_exact_p(bigint, bigint, bigint, bigint) IS
  'Two-sided p-value of Fisher''s exact test for the 2x2 table [[a, b], [c, d]] (tables no more likely than the observed one, relative tolerance 1e-7 as in R); 1 when a margin is zero';

CREATE FUNCTION apivalue.phi_coefficient(a bigint, b bigint, c bigint, d bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'apivalue_phi_coefficient'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.phi_coefficient(bigint, bigint, bigint, bigint) IS
  'Phi coefficient (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d)) of the 2x2 table [[a, b], [c, d]]; NULL when a row or column sums to zero';

CREATE FUNCTION apivalue.wilson_interval(x bigint, n bigint, confidence double precision DEFAULT 0.95,
                                         OUT low double precision, OUT high double precision)
AS 'MODULE_PATHNAME', 'apivalue_wilson_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.wilson_interval(bigint, bigint, double precision) IS
  'Wilson score interval of the proportion x/n; NULL bounds when n = 0';

CREATE FUNCTION apivalue.newcombe_interval(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                           confidence double precision DEFAULT 0.95,
                                           OUT low double precision, OUT high double precision)
AS 'MODULE_PATHNAME', 'apivalue_newcombe_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.newcombe_interval(bigint, bigint, bigint, bigint, double precision) IS
  'Newcombe''s hybrid score interval (1998, method 10) of x1/n1 - x2/n2, from the two Wilson intervals; NULL bounds when n1 or n2 is 0';

CREATE FUNCTION apivalue.two_proportion_test(x1 bigint, n1 bigint, x2 bigint, n2 bigint,
                                             confidence double precision DEFAULT 0.95,
                                             OUT rate1 double precision, OUT rate2 double precision,
                                             OUT diff double precision, OUT z double precision,
                                             OUT p_value double precision,
                                             OUT ci_low double precision, OUT ci_high double precision,
                                             OUT phi double precision)
AS 'MODULE_PATHNAME', 'apivalue_two_proportion_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.two_proportion_test(bigint, bigint, bigint, bigint, double precision) IS
  'x1/n1 against x2/n2: rates, difference, pooled two-proportion z and two-sided p-value, Newcombe interval of the difference, phi; comparisons NULL when a group is empty; z and phi NULL and p_value 1 when both rates are 0 or both 1';

CREATE FUNCTION apivalue.bh_qvalues(p double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'apivalue_bh_qvalues'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.bh_qvalues(double precision[]) IS
  'Benjamini-Hochberg q-values (false discovery rate adjusted p-values) in the order of the input; NULL elements stay NULL and are not counted as tests';

-- ---------------------------------------------------------------------------
-- Per-user features: behavior_counts (for BI tools) and driver_features
-- (what value_drivers is built on).  One C state, src/drivers.c.  SSPACE is
-- the state's typical size (a few hundred bytes to ~1.5 kB per user with a
-- few dozen behaviours; behavior_counts keeps every timestamp of the
-- window): without it the planner assumes 8 kB per group and, over many
-- users, plans a sort or a spilling hash aggregate that the real states
-- would not need.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.driver_features_result AS (
  behaviors     text[],
  server_errors boolean,
  slow          boolean,
  outcome       boolean
);

COMMENT ON TYPE apivalue.driver_features_result IS
  'One user''s features for value drivers: behaviours done at least min_times times in the observation window, experience signals, and whether the outcome followed';

CREATE FUNCTION apivalue.driver_features_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_combine(internal, internal) IS
  'internal: combine function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.driver_features_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_driver_features_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_serialize(internal) IS
  'internal: serialize function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.driver_features_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_deserialize(bytea, internal) IS
  'internal: deserialize function of behavior_counts and driver_features';

CREATE FUNCTION apivalue.behavior_counts_accum(internal, timestamptz, text, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_accum(internal, timestamptz, text, interval) IS
  'internal: behavior_counts transition function';

CREATE FUNCTION apivalue.behavior_counts_accum(internal, timestamp, text, interval)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_accum(internal, timestamp, text, interval) IS
  'internal: behavior_counts transition function';

CREATE FUNCTION apivalue.behavior_counts_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME', 'apivalue_behavior_counts_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.behavior_counts_final(internal) IS
  'internal: behavior_counts final function';

CREATE AGGREGATE apivalue.behavior_counts(ts timestamptz, behavior text, observation interval) (
  SFUNC = apivalue.behavior_counts_accum,
  STYPE = internal,
  SSPACE = 1536,
  FINALFUNC = apivalue.behavior_counts_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.behavior_counts(timestamptz, text, interval) IS
  'Per group (user): {behavior: events} over [first event, first event + observation); the first event is the earliest row of the group, whatever its behaviour; windows are fixed lengths (1 day = 24 h, 1 month = 30 days)';

CREATE AGGREGATE apivalue.behavior_counts(ts timestamp, behavior text, observation interval) (
  SFUNC = apivalue.behavior_counts_accum,
  STYPE = internal,
  SSPACE = 1536,
  FINALFUNC = apivalue.behavior_counts_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.behavior_counts(timestamp, text, interval) IS
  'Per group (user): {behavior: events} over [first event, first event + observation); the first event is the earliest row of the group, whatever its behaviour; windows are fixed lengths (1 day = 24 h, 1 month = 30 days)';

CREATE FUNCTION apivalue.driver_features_accum(internal, timestamptz, text, boolean, boolean,
                                               double precision, interval, interval, integer,
                                               integer, double precision, boolean, timestamptz)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_accum(internal, timestamptz, text, boolean, boolean,
                                                   double precision, interval, interval, integer,
                                                   integer, double precision, boolean, timestamptz) IS
  'internal: driver_features transition function';

CREATE FUNCTION apivalue.driver_features_accum(internal, timestamp, text, boolean, boolean,
                                               double precision, interval, interval, integer,
                                               integer, double precision, boolean, timestamp)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_driver_features_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_accum(internal, timestamp, text, boolean, boolean,
                                                   double precision, interval, interval, integer,
                                                   integer, double precision, boolean, timestamp) IS
  'internal: driver_features transition function';

CREATE FUNCTION apivalue.driver_features_final(internal)
RETURNS apivalue.driver_features_result AS 'MODULE_PATHNAME', 'apivalue_driver_features_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.driver_features_final(internal) IS
  'internal: driver_features final function';

CREATE AGGREGATE apivalue.driver_features(
    ts timestamptz, behavior text, outcome boolean, server_error boolean,
    latency_ms double precision, observation interval, outcome_window interval,
    min_times integer, error_threshold integer, latency_threshold_ms double precision,
    exclude_early_outcome boolean, as_of timestamptz) (
  SFUNC = apivalue.driver_features_accum,
  STYPE = internal,
  SSPACE = 1024,
  FINALFUNC = apivalue.driver_features_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.driver_features(timestamptz, text, boolean, boolean, double precision,
                                              interval, interval, integer, integer,
                                              double precision, boolean, timestamptz) IS
  'Per user: behaviours done >= min_times times in [first event, first event + observation), >= error_threshold server errors there, p95 (percentile_disc) latency there above latency_threshold_ms, and an outcome event at or after the window end (before end + outcome_window when given); NULL for users cut off by as_of or, with exclude_early_outcome, whose outcome held inside the window';

CREATE AGGREGATE apivalue.driver_features(
    ts timestamp, behavior text, outcome boolean, server_error boolean,
    latency_ms double precision, observation interval, outcome_window interval,
    min_times integer, error_threshold integer, latency_threshold_ms double precision,
    exclude_early_outcome boolean, as_of timestamp) (
  SFUNC = apivalue.driver_features_accum,
  STYPE = internal,
  SSPACE = 1024,
  FINALFUNC = apivalue.driver_features_final,
  COMBINEFUNC = apivalue.driver_features_combine,
  SERIALFUNC = apivalue.driver_features_serialize,
  DESERIALFUNC = apivalue.driver_features_deserialize,
  PARALLEL = SAFE
);

COMMENT ON AGGREGATE apivalue.driver_features(timestamp, text, boolean, boolean, double precision,
                                              interval, interval, integer, integer,
                                              double precision, boolean, timestamp) IS
  'Per user: behaviours done >= min_times times in [first event, first event + observation), >= error_threshold server errors there, p95 (percentile_disc) latency there above latency_threshold_ms, and an outcome event at or after the window end (before end + outcome_window when given); NULL for users cut off by as_of or, with exclude_early_outcome, whose outcome held inside the window';

-- ---------------------------------------------------------------------------
-- behavior_tally: the 2x2 tables value_drivers needs, from one row per user
-- (driver_features' fields), in one small C state: per behaviour the users
-- with it and how many of them had the outcome, plus totals and the two
-- experience signals.  Replaces unnesting the per-user arrays and grouping
-- (user, behaviour) pairs by text.  C code: src/drivers.c.
-- ---------------------------------------------------------------------------

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

-- ---------------------------------------------------------------------------
-- value_drivers: which early behaviours go with a better or worse outcome.
--
-- One scan: driver_features per user (GROUP BY user), then behavior_tally
-- over the per-user rows (the 2x2 table of every behaviour and signal, in
-- one C state, no unnest of the per-user arrays), then the statistics.  The caller's privileges apply (no SECURITY DEFINER); every
-- identifier is checked and quoted, the outcome condition validated as one
-- boolean expression.  No pinned search_path: the condition resolves as the
-- caller wrote it, and everything of ours is schema-qualified.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.value_drivers(
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

COMMENT ON FUNCTION apivalue.value_drivers(regclass, text, text, text, text, interval, integer, integer,
                                           boolean, text, text, integer, double precision, interval,
                                           boolean, timestamptz, double precision) IS
  'Which behaviours in a user''s first days (behaviour column values, >= error_threshold 5xx responses, p95 latency above a threshold) go with the outcome after that window: users and outcome rates with and without, lift, p-value (z or Fisher), phi, Benjamini-Hochberg q-value, Newcombe 95 % interval; ranked by |phi|, small groups flagged';

-- ---------------------------------------------------------------------------
-- API usage (SPEC 8b): api_usage (exact, a table function) and the mergeable
-- latency_summary aggregate (approximate percentiles, exact counts) for BI
-- tools and rollups.  C code: src/usage_latency.c.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.latency_summary;

CREATE FUNCTION apivalue.latency_summary_in(cstring) RETURNS apivalue.latency_summary
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_out(apivalue.latency_summary) RETURNS cstring
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_recv(internal) RETURNS apivalue.latency_summary
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION apivalue.latency_summary_send(apivalue.latency_summary) RETURNS bytea
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE apivalue.latency_summary (
  INPUT = apivalue.latency_summary_in, OUTPUT = apivalue.latency_summary_out,
  RECEIVE = apivalue.latency_summary_recv, SEND = apivalue.latency_summary_send,
  INTERNALLENGTH = VARIABLE, ALIGNMENT = double, STORAGE = extended
);

COMMENT ON TYPE apivalue.latency_summary IS
  'mergeable summary of API calls: exact calls per status class (1xx-5xx, other, unknown), exact min and max latency, and a latency histogram on fixed log-scale buckets (each read within 1 % of its values); text form is JSON';
COMMENT ON FUNCTION apivalue.latency_summary_in(cstring) IS 'input function of apivalue.latency_summary (validates every field)';
COMMENT ON FUNCTION apivalue.latency_summary_out(apivalue.latency_summary) IS 'output function of apivalue.latency_summary (JSON, empty end buckets trimmed)';
COMMENT ON FUNCTION apivalue.latency_summary_recv(internal) IS 'binary input function of apivalue.latency_summary (validates every field)';
COMMENT ON FUNCTION apivalue.latency_summary_send(apivalue.latency_summary) IS 'binary output function of apivalue.latency_summary';

CREATE FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, double precision, integer)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_accum'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, double precision, integer) IS
  'internal: latency_summary transition function (latency in milliseconds)';

CREATE FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, interval, integer)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_accum_interval'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_accum(apivalue.latency_summary, interval, integer) IS
  'internal: latency_summary transition function (latency as an interval)';

CREATE FUNCTION apivalue.latency_summary_combine(apivalue.latency_summary, apivalue.latency_summary)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_combine(apivalue.latency_summary, apivalue.latency_summary) IS
  'internal: merges two latency summaries exactly (combine function of latency_summary and rollup)';

CREATE FUNCTION apivalue.latency_summary_final(apivalue.latency_summary)
RETURNS apivalue.latency_summary AS 'MODULE_PATHNAME', 'apivalue_latency_summary_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_summary_final(apivalue.latency_summary) IS
  'internal: final function of latency_summary and rollup (the canonical, trimmed summary)';

CREATE AGGREGATE apivalue.latency_summary(latency_ms double precision, status integer) (
  SFUNC = apivalue.latency_summary_accum,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.latency_summary(double precision, integer) IS
  'summary of the group''s calls: latency in milliseconds (NULL: a call without latency) and HTTP status (NULL: unknown); read it with calls, status_count, server_error_rate, client_error_rate, approx_percentile; merge with rollup';

CREATE AGGREGATE apivalue.latency_summary(latency interval, status integer) (
  SFUNC = apivalue.latency_summary_accum,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.latency_summary(interval, integer) IS
  'summary of the group''s calls with latency as an interval (read as EXTRACT(EPOCH) * 1000 ms) and HTTP status';

CREATE AGGREGATE apivalue.rollup(apivalue.latency_summary) (
  SFUNC = apivalue.latency_summary_combine,
  STYPE = apivalue.latency_summary,
  FINALFUNC = apivalue.latency_summary_final,
  COMBINEFUNC = apivalue.latency_summary_combine,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE apivalue.rollup(apivalue.latency_summary) IS
  'merges latency summaries (of periods, partitions, shards) into the summary of all their calls, exactly';

CREATE FUNCTION apivalue.calls(apivalue.latency_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_calls' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.calls(apivalue.latency_summary) IS 'number of calls (rows) summarized';

CREATE FUNCTION apivalue.latency_count(apivalue.latency_summary) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_latency_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_count(apivalue.latency_summary) IS 'number of calls with a (non-NULL) latency';

CREATE FUNCTION apivalue.status_count(apivalue.latency_summary, status_class text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_status_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.status_count(apivalue.latency_summary, text) IS
  'calls in a status class: 1xx, 2xx, 3xx, 4xx, 5xx, other (status outside 100-599) or unknown (NULL status)';

CREATE FUNCTION apivalue.server_error_rate(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_server_error_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.server_error_rate(apivalue.latency_summary) IS
  'share of the calls with a known status that have status 500-599 (exact); NULL without known statuses';

CREATE FUNCTION apivalue.client_error_rate(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_client_error_rate' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.client_error_rate(apivalue.latency_summary) IS
  'share of the calls with a known status that have status 400-499 (exact); NULL without known statuses';

CREATE FUNCTION apivalue.latency_min(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_min' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_min(apivalue.latency_summary) IS 'smallest latency in ms (exact); NULL without latencies';

CREATE FUNCTION apivalue.latency_max(apivalue.latency_summary) RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_max' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_max(apivalue.latency_summary) IS 'largest latency in ms (exact); NULL without latencies';

CREATE FUNCTION apivalue.approx_percentile(apivalue.latency_summary, fraction double precision)
RETURNS double precision
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_percentile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.approx_percentile(apivalue.latency_summary, double precision) IS
  'approximate percentile_cont of the latencies (ms): within 1 % of the exact value for latencies of 1 ns or more (below that within 1e-6 ms); NULL without latencies';

CREATE FUNCTION apivalue.approx_percentiles(apivalue.latency_summary, fractions double precision[])
RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_percentiles' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.approx_percentiles(apivalue.latency_summary, double precision[]) IS
  'approx_percentile for each fraction of an array (NULL fractions give NULL)';

CREATE FUNCTION apivalue.latency_buckets(apivalue.latency_summary) RETURNS double precision[]
  AS 'MODULE_PATHNAME', 'apivalue_latency_summary_buckets' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue.latency_buckets(apivalue.latency_summary) IS
  'the latency histogram as a [n][3] array of (low ms exclusive, high ms inclusive, calls) per non-empty bucket; the zero bucket (below 1e-6 ms) first as (0, 1e-6)';

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

-- ---------------------------------------------------------------------------
-- api_usage: per period, segment and endpoint, exact numbers.
--
-- This is the query an analyst would write — FILTER counts, count(DISTINCT),
-- percentile_cont, lag — with the parts that are easy to get wrong done
-- once: calendar periods in a time zone (period_start, ICU), endpoint
-- normalization (normalize_step), status and latency columns of several
-- types, and calls_change only against the immediately preceding period.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.api_usage(
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

-- ---------------------------------------------------------------------------
-- experiment_report: conversion per variant, the difference to control with
-- Newcombe's interval and a two-proportion z-test (the statistics shared
-- with value_drivers), and the sample-ratio-mismatch test.
--
-- A user's variant is that of their first exposure; users exposed to more
-- than one variant are excluded (and counted).  Conversion = an outcome
-- event in [first exposure, first exposure + conversion_window].  One scan
-- of exposures and outcomes, sorted by user (no join); the per-variant
-- table is small, so the checks and statistics run on it in PL/pgSQL.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue.experiment_report(
    events regclass,
    user_column text,
    time_column text,
    variant_column text,
    exposure_condition text,
    outcome_condition text,
    control text DEFAULT NULL,
    expected_split double precision[] DEFAULT NULL,
    conversion_window interval DEFAULT '14 days')
RETURNS TABLE (variant text, users bigint, converted bigint, conversion_rate double precision,
               diff_vs_control double precision, diff_ci_low double precision,
               diff_ci_high double precision, p_value double precision,
               excluded_users bigint, srm_p_value double precision, srm_flagged boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $fn$
#variable_conflict use_column
DECLARE
  u text;
  t text;
  v text;
  xc text;
  oc text;
  q text;
  vs text[];
  ns bigint[];
  ks bigint[];
  excluded bigint;
  ci integer;
  srm double precision;
  flagged boolean;
  bad double precision;
BEGIN
  IF conversion_window IS NULL THEN
    RAISE EXCEPTION 'conversion_window must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF conversion_window <= interval '0' THEN
    RAISE EXCEPTION 'conversion_window must be positive: "%"', conversion_window
      USING ERRCODE = '22023', HINT = 'Give a positive interval such as ''14 days''.';
  END IF;
  IF expected_split IS NOT NULL THEN
    IF pg_catalog.array_ndims(expected_split) IS DISTINCT FROM 1 THEN
      RAISE EXCEPTION 'expected_split must be a one-dimensional array of shares, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
    SELECT s INTO bad FROM pg_catalog.unnest(expected_split) s
     WHERE s IS NULL OR s < 0 OR s IN ('NaN', 'Infinity') LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'expected_split shares must be finite and non-negative, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
    IF (SELECT sum(s) FROM pg_catalog.unnest(expected_split) s) <= 0 THEN
      RAISE EXCEPTION 'expected_split must have a positive share, got %', expected_split
        USING ERRCODE = '22023';
    END IF;
  END IF;

  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz,timestamp}');
  IF variant_column IS NULL THEN
    RAISE EXCEPTION 'variant column must not be NULL' USING ERRCODE = '22004';
  END IF;
  -- a column of the relation, or else one expression over its columns
  IF EXISTS (SELECT FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = events AND a.attname = variant_column
                AND a.attnum > 0 AND NOT a.attisdropped) THEN
    v := pg_catalog.quote_ident(variant_column);
  ELSE
    v := apivalue._expression(events, variant_column, 'variant');
  END IF;
  xc := apivalue._condition(events, exposure_condition, 'exposure condition');
  oc := apivalue._condition(events, outcome_condition, 'outcome condition');

  -- One pass over exposures and outcomes together: a window gives every
  -- row its user's first exposure, and one GROUP BY per user yields the
  -- variant, the mix flag and the conversion.  No join between exposures and
  -- outcomes, so the plan cannot turn quadratic when row estimates are off
  -- (a table not yet analyzed).
  q := format($q$
    WITH e AS (
      SELECT %1$s AS u, %2$s AS t,
             CASE WHEN %5$s IS TRUE THEN (%3$s)::text COLLATE "C" END AS v,
             %6$s IS TRUE AS o
        FROM %4$s
       WHERE (%5$s IS TRUE OR %6$s IS TRUE) AND %1$s IS NOT NULL AND %2$s IS NOT NULL
    ), w AS (
      SELECT e.u, e.t, e.v, e.o, min(e.t) FILTER (WHERE e.v IS NOT NULL) OVER (PARTITION BY e.u) AS t0
        FROM e
    ), pu AS (
      SELECT w.u, min(w.v) AS v, min(w.v) <> max(w.v) AS mixed,
             bool_or(w.o AND w.t >= w.t0 AND w.t <= w.t0 + $1) AS conv
        FROM w WHERE w.t0 IS NOT NULL
       GROUP BY w.u
    ), pv AS (
      SELECT pu.v, count(*) AS n, count(*) FILTER (WHERE pu.conv) AS k
        FROM pu
       WHERE NOT pu.mixed
       GROUP BY pu.v
    )
    SELECT (SELECT array_agg(pv.v ORDER BY pv.v) FROM pv),
           (SELECT array_agg(pv.n ORDER BY pv.v) FROM pv),
           (SELECT array_agg(pv.k ORDER BY pv.v) FROM pv),
           (SELECT count(*) FILTER (WHERE pu.mixed) FROM pu)
  $q$, u, t, v, events, xc, oc);
  EXECUTE q INTO vs, ns, ks, excluded USING conversion_window;

  IF vs IS NULL THEN
    RETURN;   -- nobody exposed
  END IF;
  IF control IS NULL THEN
    ci := 1;
  ELSE
    ci := pg_catalog.array_position(vs, control);
    IF ci IS NULL THEN
      RAISE EXCEPTION 'control variant "%" has no exposed users', control
        USING ERRCODE = '22023',
              DETAIL = format('Variants with exposed users: %s.', pg_catalog.array_to_string(vs, ', ')),
              HINT = 'Name one of them, or pass control => NULL for the first in sort order.';
    END IF;
  END IF;
  IF expected_split IS NOT NULL AND cardinality(expected_split) <> cardinality(vs) THEN
    RAISE EXCEPTION 'expected_split has % shares but % variants have exposed users', cardinality(expected_split), cardinality(vs)
      USING ERRCODE = '22023',
            DETAIL = format('Variants in sort order: %s.', pg_catalog.array_to_string(vs, ', ')),
            HINT = 'Give one share per variant, in the byte order of the variant names.';
  END IF;
  srm := apivalue.chisq_gof_p(ns, expected_split);
  flagged := coalesce(srm < 0.001, false);

  RETURN QUERY
  SELECT vs[i], ns[i], ks[i], ks[i]::double precision / ns[i],
         CASE WHEN i <> ci AND NOT flagged THEN tp.diff END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.ci_low END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.ci_high END,
         CASE WHEN i <> ci AND NOT flagged THEN tp.p_value END,
         excluded, srm, flagged
    FROM pg_catalog.generate_subscripts(vs, 1) AS i
         CROSS JOIN LATERAL apivalue.two_proportion_test(ks[i], ns[i], ks[ci], ns[ci]) AS tp
   ORDER BY i;
END
$fn$;

COMMENT ON FUNCTION apivalue.experiment_report(regclass, text, text, text, text, text, text, double precision[], interval) IS
  'A/B test report: per variant (from each user''s first exposure; users exposed to two variants excluded and counted) users, conversions within conversion_window, difference to control with Newcombe 95 % interval and z-test p-value, and the sample-ratio-mismatch chi-square p-value against expected_split; when the split is broken (p < 0.001) the comparison columns are NULL';

-- ---------------------------------------------------------------------------
-- Quality check kind experiment_srm: watch a running experiment's split.
-- observed = -log10 of the SRM p-value (3 means p = 0.001), so the usual
-- "observed > threshold" reads "the split is less likely than 10^-threshold".
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_run_experiment_srm(rel regclass, params jsonb,
                                                     OUT observed double precision,
                                                     OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
  r record;
  p double precision;
  split double precision[] := (params ->> 'expected_split')::double precision[];
BEGIN
  SELECT jsonb_agg(jsonb_build_object('variant', e.variant, 'users', e.users) ORDER BY e.variant COLLATE "C") AS per_variant,
         min(e.srm_p_value) AS srm, min(e.excluded_users) AS excluded, sum(e.users) AS exposed
    INTO r
    FROM apivalue.experiment_report(rel, params ->> 'user_column', params ->> 'time_column',
                                    params ->> 'variant', params ->> 'exposure_condition', 'false',
                                    expected_split => split) e;
  p := r.srm;
  observed := CASE WHEN p IS NULL THEN 0
                   WHEN p <= 0 THEN 324   -- beyond the smallest double: certainly broken
                   ELSE least(-log(p), 324) END;
  details := jsonb_build_object('srm_p_value', p, 'flagged', coalesce(p < 0.001, false),
                                'exposed_users', r.exposed, 'excluded_users', r.excluded,
                                'expected_split', to_jsonb(split));
  sample := coalesce(r.per_variant, '[]'::jsonb);
END
$fn$;
COMMENT ON FUNCTION apivalue._quality_run_experiment_srm(regclass, jsonb) IS
  'internal: runner of the experiment_srm quality check (users per variant from experiment_report, -log10 of the SRM p-value)';

CREATE FUNCTION apivalue._quality_validate_experiment_srm(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  split double precision[];
BEGIN
  IF params ? 'expected_split' THEN
    BEGIN
      split := (params ->> 'expected_split')::double precision[];
    EXCEPTION WHEN invalid_text_representation OR invalid_parameter_value THEN
      RAISE EXCEPTION 'parameter "expected_split" must be an array of shares such as "{0.5,0.5}", got %',
        params -> 'expected_split' USING ERRCODE = '22023';
    END;
    IF array_ndims(split) IS DISTINCT FROM 1
       OR EXISTS (SELECT FROM unnest(split) s WHERE s IS NULL OR s < 0 OR s IN ('NaN', 'Infinity'))
       OR (SELECT sum(s) FROM unnest(split) s) <= 0 THEN
      RAISE EXCEPTION 'parameter "expected_split" must list finite non-negative shares, not all 0, got %',
        params -> 'expected_split' USING ERRCODE = '22023';
    END IF;
  END IF;
  -- the variant: a column, or one expression over the columns
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = rel AND a.attname = params ->> 'variant'
                    AND a.attnum > 0 AND NOT a.attisdropped) THEN
    PERFORM apivalue._expression(rel, params ->> 'variant', 'variant');
  END IF;
END
$fn$;
COMMENT ON FUNCTION apivalue._quality_validate_experiment_srm(regclass, jsonb) IS
  'internal: validator of the experiment_srm quality check (expected_split parses as shares, the variant is a column or an expression)';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, builtin)
VALUES ('experiment_srm', 'apivalue._quality_run_experiment_srm(regclass,jsonb)',
 '{"user_column": {"type": "column", "required": true},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]},
   "variant": {"type": "text", "required": true, "description": "the variant: a column name, or an expression such as payload->>''variant''"},
   "exposure_condition": {"type": "condition", "required": true, "description": "which events are exposures to this experiment"},
   "expected_split": {"type": "text", "description": "shares per variant in the byte order of variant names, e.g. {0.5,0.5} (default: equal)"}}',
 '-log10 of the sample-ratio-mismatch p-value (3 = p 0.001)',
 'experiment split differs from the expected shares (chi-square goodness of fit of users per variant, experiment_report)',
 'apivalue._quality_validate_experiment_srm(regclass,jsonb)', true);
