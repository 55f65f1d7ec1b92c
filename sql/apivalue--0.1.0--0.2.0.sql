-- apivalue 0.1.0 -> 0.2.0
--
-- Every change to an object of the extension between the frozen 0.1.0
-- install script (sql/apivalue--0.1.0.sql) and the families of 0.2.0 is
-- repeated here, so that ALTER EXTENSION apivalue UPDATE yields exactly the
-- objects of a fresh 0.2.0 install; test/layers/upgrade.sh checks that.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.2.0'" to load this file. \quit

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
