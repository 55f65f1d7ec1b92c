-- apivalue 0.1.0 -> 0.2.0
--
-- Every change to an object of the extension between the frozen 0.1.0
-- install script (sql/apivalue--0.1.0.sql) and the families of 0.2.0 is
-- repeated here, so that ALTER EXTENSION apivalue UPDATE yields exactly the
-- objects of a fresh 0.2.0 install; test/layers/upgrade.sh checks that.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.2.0'" to load this file. \quit

-- branch isolation: run_quality_checks and drop_quality_check share one
-- advisory lock (runs shared, drops exclusive), so a drop waits for runs in
-- progress and a run for an uncommitted drop (test/isolation/specs).
CREATE OR REPLACE FUNCTION apivalue.drop_quality_check(name text, keep_results boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- Exclusive against runs (see run_quality_checks): wait for the runs in
  -- progress, so that their results are removed too with keep_results =>
  -- false.  Under REPEATABLE READ or SERIALIZABLE the snapshot predates the
  -- results of a run we waited for, and deleting around them would leave
  -- rows of a dropped check behind: that is a serialization failure.
  IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0);
    IF NOT coalesce(keep_results, true)
       AND pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'quality check "%" was run by a concurrent transaction', name
        USING ERRCODE = '40001',
              DETAIL = 'Its results are not visible to this transaction''s snapshot, so they could not be removed.',
              HINT = 'Retry the transaction.';
    END IF;
  END IF;
  DELETE FROM apivalue.quality_checks c WHERE c.name = drop_quality_check.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  IF NOT keep_results THEN
    DELETE FROM apivalue.quality_results r WHERE r.check_name = drop_quality_check.name;
  END IF;
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION apivalue.run_quality_checks(name text DEFAULT NULL)
RETURNS SETOF apivalue.quality_results
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  rid bigint;
  c record;
  r record;
  st text;
  det jsonb;
  smp jsonb;
  obs float8;
  t0 timestamptz;
  e_msg text;
  e_state text;
  e_detail text;
  e_hint text;
  ran integer := 0;
BEGIN
  -- Runs share one lock that drop_quality_check takes exclusively, until the
  -- end of the transaction: a drop waits for the runs in progress (so that
  -- keep_results => false removes their rows as well, and no result row of a
  -- dropped check appears afterwards), and a run waits for an uncommitted
  -- drop, then no longer sees the dropped check.  One lock for all checks,
  -- taken before anything else: no order of row locks that could deadlock.
  -- Under REPEATABLE READ or SERIALIZABLE the snapshot predates the drop we
  -- waited for and would still show the check: a serialization failure.
  IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0);
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'quality checks were dropped by a concurrent transaction'
        USING ERRCODE = '40001',
              DETAIL = 'This transaction''s snapshot predates the drop and would still run the dropped checks.',
              HINT = 'Retry the transaction.';
    END IF;
  END IF;
  IF name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM apivalue.quality_checks q WHERE q.name = run_quality_checks.name) THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  rid := nextval('apivalue.quality_run_id_seq');
  FOR c IN
    SELECT q.*, k.runner
    FROM apivalue.quality_checks q JOIN apivalue.quality_check_kinds k ON k.kind = q.kind
    WHERE CASE WHEN run_quality_checks.name IS NULL THEN q.enabled ELSE q.name = run_quality_checks.name END
    ORDER BY q.name
  LOOP
    t0 := clock_timestamp();
    obs := NULL; det := NULL; smp := NULL;
    -- Each check in its own subtransaction: an error is recorded, never fatal.
    BEGIN
      EXECUTE format('SELECT observed, details, sample FROM %s($1, $2)', c.runner::oid::regproc)
        INTO r USING c.relation, c.parameters;
      obs := r.observed; det := r.details; smp := r.sample;
      st := CASE
              WHEN obs IS NULL OR obs = 'NaN'::float8 THEN 'error'
              WHEN obs > c.fail_threshold THEN 'fail'
              WHEN obs > c.warn_threshold THEN 'warn'
              ELSE 'pass' END;
      IF st = 'error' THEN
        det := coalesce(det, '{}') || jsonb_build_object('error', 'the check observed no value (no rows?)');
      END IF;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE,
                              e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
      st := 'error';
      det := jsonb_strip_nulls(jsonb_build_object('error', e_msg, 'sqlstate', e_state,
                                                  'detail', nullif(e_detail, ''), 'hint', nullif(e_hint, '')));
      obs := NULL; smp := NULL;
    END;
    INSERT INTO apivalue.quality_results
      (run_id, check_name, run_at, status, observed, warn_threshold, fail_threshold, details, sample, duration)
    VALUES (rid, c.name, now(), st, obs, c.warn_threshold, c.fail_threshold, det, smp, clock_timestamp() - t0);
    ran := ran + 1;
  END LOOP;
  IF name IS NOT NULL AND ran = 0 THEN
    -- Deleted behind drop_quality_check's back (a plain DELETE) meanwhile.
    RAISE EXCEPTION 'quality check "%" does not exist', name
      USING ERRCODE = '42704', DETAIL = 'It was deleted by a concurrent transaction.';
  END IF;
  RETURN QUERY SELECT * FROM apivalue.quality_results q WHERE q.run_id = rid ORDER BY q.check_name;
END $$;
