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
-- (what value_drivers is built on).  One C state, src/drivers.c.
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
-- value_drivers: which early behaviours go with a better or worse outcome.
--
-- One scan: driver_features per user (GROUP BY user), then one 2x2 table per
-- behaviour from the per-user rows (unnest + GROUP BY behaviour), then the
-- statistics.  The caller's privileges apply (no SECURITY DEFINER); every
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
    WITH f AS MATERIALIZED (
      SELECT apivalue.driver_features(%1$s, %2$s, %3$s, %4$s, %5$s,
                                      $1, $2, $3, $4, $5, $6, $7::%6$s) AS s
        FROM %7$s
       WHERE %8$s IS NOT NULL
       GROUP BY %8$s
    ), g AS (
      SELECT (f.s).behaviors AS behaviors, (f.s).server_errors AS server_errors,
             (f.s).slow AS slow, (f.s).outcome AS outcome
        FROM f
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

COMMENT ON FUNCTION apivalue.value_drivers(regclass, text, text, text, text, interval, integer, integer,
                                           boolean, text, text, integer, double precision, interval,
                                           boolean, timestamptz, double precision) IS
  'Which behaviours in a user''s first days (behaviour column values, >= error_threshold 5xx responses, p95 latency above a threshold) go with the outcome after that window: users and outcome rates with and without, lift, p-value (z or Fisher), phi, Benjamini-Hochberg q-value, Newcombe 95 % interval; ranked by |phi|, small groups flagged';
