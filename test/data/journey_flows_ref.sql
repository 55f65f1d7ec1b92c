-- Plain-SQL reference of journey_flows, loaded by the journey_flows tests
-- with \i test/data/journey_flows_ref.sql.  No apivalue aggregate: labels
-- normalized first (norm), sessions with lag() and a running sum, the path
-- collapsed with window functions, rare edges folded with one UPDATE per
-- depth on a temporary table, edges counted with GROUP BY and
-- percentile_cont.  src has columns u, ts, step; rows with a NULL are left
-- out.  Returns (k, v) rows in the form avtest.diff compares.
CREATE FUNCTION pg_temp.journey_flows_ref(src regclass, start text, depth int, gap interval,
                                          min_users int, norm boolean DEFAULT false)
RETURNS TABLE (k text, v text) LANGUAGE plpgsql AS $$
DECLARE dd int;
BEGIN
  IF norm AND start IS NOT NULL THEN start := apivalue.normalize_step(start); END IF;
  EXECUTE format($q$
  CREATE TEMP TABLE jfr_paths AS
  WITH l AS (
    SELECT u, ts, CASE WHEN $3 THEN apivalue.normalize_step(step::text) ELSE step::text END AS step
    FROM %s WHERE u IS NOT NULL AND ts IS NOT NULL AND step IS NOT NULL),
  o AS (
    SELECT u, ts, step,
           CASE WHEN $2 IS NULL THEN 0 ELSE
             sum(CASE WHEN prev IS NULL OR ts - prev > $2 THEN 1 ELSE 0 END)
               OVER (PARTITION BY u ORDER BY ts, step) END AS sess
    FROM (SELECT u, ts, step, lag(ts) OVER (PARTITION BY u ORDER BY ts, step) AS prev FROM l) x),
  d AS (SELECT DISTINCT u, sess, ts, step FROM o),
  n AS (SELECT *, row_number() OVER (PARTITION BY u, sess ORDER BY ts, step) AS rn FROM d),
  f AS (SELECT n.*, min(rn) FILTER (WHERE step = $1) OVER (PARTITION BY u, sess) AS first_rn FROM n),
  a AS (SELECT * FROM f WHERE $1 IS NULL OR rn >= first_rn),
  r AS (SELECT *, step IS DISTINCT FROM lag(step) OVER (PARTITION BY u, sess ORDER BY rn) AS new FROM a)
  SELECT u, sess, array_agg(step ORDER BY rn) AS steps, array_agg(ts ORDER BY rn) AS times,
         array_agg(step ORDER BY rn) AS labs
  FROM r WHERE new GROUP BY u, sess$q$, src) USING start, gap, norm;
  UPDATE jfr_paths SET steps = steps[1:depth + 1], times = times[1:depth + 1], labs = labs[1:depth + 1];
  FOR dd IN 1 .. depth LOOP
    UPDATE jfr_paths p SET labs[dd + 1] = 'other'
    FROM (SELECT labs[dd] AS f, steps[dd + 1] AS t FROM jfr_paths WHERE cardinality(steps) > dd
          GROUP BY 1, 2 HAVING count(*) < min_users) rare
    WHERE rare.f = p.labs[dd] AND rare.t = p.steps[dd + 1];
  END LOOP;
  RETURN QUERY
  WITH e AS (
    SELECT i AS d, labs[i] AS f, labs[i + 1] AS t, times[i + 1] - times[i] AS dt
    FROM jfr_paths, generate_series(1, least(cardinality(steps), depth)) i),
  g AS (SELECT d, f, t, count(*) AS users, percentile_cont(0.5) WITHIN GROUP (ORDER BY dt) AS med
        FROM e GROUP BY d, f, t),
  nodes AS (SELECT d, f, sum(users) AS through, sum(users) FILTER (WHERE t IS NULL) AS dropped
            FROM g GROUP BY d, f)
  SELECT concat_ws('|', g.d, g.f, coalesce(g.t, '<drop>')),
         concat_ws('|', g.users, g.med, nodes.through, coalesce(nodes.dropped, 0),
                   round((coalesce(nodes.dropped, 0)::numeric / nodes.through), 12))
  FROM g JOIN nodes USING (d, f);
  DROP TABLE jfr_paths;
END $$;
