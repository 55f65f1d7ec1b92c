-- Plan-mode equality: the verdict over pm.result and pm.plan_check
-- (test/layers/plan_modes.sh runs it after every mode).  Prints problems and
-- a summary; the last line is "failures: N".
SET search_path = pm, public;
\pset footer off
\pset tuples_only on

CREATE TEMP TABLE problem (what text, detail text);

-- An aggregate of the extension without a call template.
INSERT INTO problem
SELECT 'no call template', sig FROM pm.aggregate a
WHERE NOT EXISTS (SELECT FROM pm.template t WHERE t.sig = a.sig);

-- Without a combine function there is no partial aggregation at all.
INSERT INTO problem
SELECT 'no combine function', sig FROM pm.aggregate WHERE NOT has_combine;

-- A template whose call fails is a broken template (the same error in every
-- mode would otherwise compare equal).
INSERT INTO problem
SELECT DISTINCT 'template fails', r.sig || ' ' || r.query || ': ' || r.val
FROM pm.result r JOIN pm.template t USING (sig)
WHERE r.mode = 'serial' AND r.val LIKE 'ERROR %'
  AND (t.expect_error IS NULL OR r.val NOT LIKE 'ERROR ' || t.expect_error || ':%');
INSERT INTO problem
SELECT 'expected error not raised', t.sig || ' (' || t.expect_error || ')'
FROM pm.template t JOIN pm.aggregate USING (sig)
WHERE t.expect_error IS NOT NULL
  AND NOT EXISTS (SELECT FROM pm.result r WHERE r.sig = t.sig AND r.mode = 'serial'
                  AND r.val LIKE 'ERROR ' || t.expect_error || ':%');

-- A template that returns nothing but NULL everywhere exercises nothing.
INSERT INTO problem
SELECT 'template only returns NULL', sig FROM pm.result
WHERE mode = 'serial' AND query = 'per_set'
  AND sig NOT IN (SELECT sig FROM pm.template WHERE expect_error IS NOT NULL)
GROUP BY sig HAVING bool_and(val IN ('<null>', '<no rows>'));

-- Every mode must have answered every (aggregate, query, data set).
INSERT INTO problem
SELECT 'missing result', format('%s %s ds %s: %s of %s modes', sig, query, ds, count(*),
                                (SELECT count(DISTINCT mode) FROM pm.result))
FROM pm.result GROUP BY sig, query, ds
HAVING count(*) <> (SELECT count(DISTINCT mode) FROM pm.result);

-- The answers.
INSERT INTO problem
SELECT 'answers differ',
       format('%s %s data set %s (%s): %s', r.sig, r.query, r.ds, d.name,
              (SELECT string_agg(format('%s=%s', mode, left(val, 160)), '; ' ORDER BY mode)
               FROM pm.result r2 WHERE (r2.sig, r2.query, r2.ds) = (r.sig, r.query, r.ds)))
FROM pm.result r JOIN pm.dataset d USING (ds)
GROUP BY r.sig, r.query, r.ds, d.name
HAVING count(DISTINCT r.val) > 1;

-- The parallel modes must really have run partial aggregation on workers.
INSERT INTO problem
SELECT 'no partial aggregate on workers',
       format('%s %s in %s: partial aggregate ran %s, workers launched %s%s', sig, query, mode,
              partial_ran, workers_launched, coalesce(', explain failed: ' || err, ''))
FROM pm.plan_check
WHERE mode IN ('parallel', 'pw_parallel')
  AND (NOT partial_ran OR workers_launched = 0 OR err IS NOT NULL)
  -- grouped by the partition key, partition-wise aggregation is complete per
  -- partition (Parallel Append of whole aggregates on the workers): accepted
  -- when it ran on workers
  AND NOT (mode = 'pw_parallel' AND query = 'per_group' AND partitionwise AND workers_launched > 0 AND err IS NULL)
  -- chart aggregates read a few rows per group here (one mark per row), too
  -- few for the workers to be given any; their partial path is proven by the
  -- pg_regress test charts_parallel, and their answers are still compared
  -- in every mode above
  AND sig NOT LIKE 'apivalue.%\_svg(%'
  AND NOT EXISTS (SELECT FROM pm.template t WHERE t.sig = pm.plan_check.sig AND t.expect_error IS NOT NULL
                  AND pm.plan_check.err LIKE t.expect_error || ':%');

\echo
\echo 'plan-mode equality: problems'
SELECT what || ': ' || detail FROM problem ORDER BY what, detail LIMIT 60;

\echo
\echo 'plan facts (queries per mode: partial aggregate ran / workers launched / partition-wise)'
SELECT format('  %-12s queries %4s   partial aggregate %4s   with workers %4s   partition-wise %4s',
              mode, count(*), count(*) FILTER (WHERE partial_ran),
              count(*) FILTER (WHERE workers_launched > 0), count(*) FILTER (WHERE partitionwise))
FROM pm.plan_check GROUP BY mode ORDER BY mode;

\echo
SELECT format('compared: %s modes x %s data sets x %s aggregates = %s (mode, data set, aggregate) answers; %s queries run',
              (SELECT count(DISTINCT mode) FROM pm.result),
              (SELECT count(*) FROM pm.dataset),
              (SELECT count(DISTINCT sig) FROM pm.result),
              (SELECT count(*) FROM (SELECT DISTINCT mode, ds, sig FROM pm.result) x),
              (SELECT count(*) FROM (SELECT DISTINCT mode, sig, query FROM pm.result) x));
SELECT 'failures: ' || count(*) FROM problem;
