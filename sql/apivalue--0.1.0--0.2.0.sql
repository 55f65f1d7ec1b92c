-- apivalue 0.1.0 -> 0.2.0
--
-- Every change to an object of the extension between the frozen 0.1.0
-- install script (sql/apivalue--0.1.0.sql) and the families of 0.2.0 is
-- repeated here, so that ALTER EXTENSION apivalue UPDATE yields exactly the
-- objects of a fresh 0.2.0 install; test/layers/upgrade.sh checks that.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.2.0'" to load this file. \quit

-- branch isolation: run_quality_checks and drop_quality_check(keep_results =>
-- false) share one advisory lock (runs shared, drops exclusive), so such a
-- drop waits for runs in progress and a run for such an uncommitted drop
-- (test/isolation/specs/quality_run_vs_drop.spec).
CREATE OR REPLACE FUNCTION apivalue.drop_quality_check(name text, keep_results boolean DEFAULT true)
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM apivalue.quality_checks c WHERE c.name = drop_quality_check.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- With keep_results => false: exclusive against runs (see
  -- run_quality_checks), until commit.  Wait for the runs in progress, so
  -- that their rows are removed too (in READ COMMITTED the DELETE below sees
  -- them).  Under REPEATABLE READ or SERIALIZABLE the snapshot predates the
  -- results of a run we waited for, and deleting around them would leave
  -- rows of a dropped check behind: that is a serialization failure.  When
  -- the results are kept, a run's result is history like any other, and the
  -- drop waits for nothing.
  IF NOT keep_results THEN
    IF NOT pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
      PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.quality_checks'), 0);
      IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'quality check "%" was run by a concurrent transaction', name
          USING ERRCODE = '40001',
                DETAIL = 'Its results are not visible to this transaction''s snapshot, so they could not be removed.',
                HINT = 'Retry the transaction.';
      END IF;
    END IF;
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
BEGIN
  IF name IS NOT NULL AND NOT EXISTS (SELECT 1 FROM apivalue.quality_checks q WHERE q.name = run_quality_checks.name) THEN
    RAISE EXCEPTION 'quality check "%" does not exist', name USING ERRCODE = '42704';
  END IF;
  -- Runs share one lock that drop_quality_check(keep_results => false)
  -- takes exclusively, until the end of the transaction: such a drop waits
  -- for the runs in progress (so that it removes their rows as well, and no
  -- result row of the dropped check appears afterwards), and a run waits for
  -- such an uncommitted drop, then no longer sees the dropped check (the loop
  -- below reads the checks with a new snapshot).  One lock for all checks
  -- and no row locks (a role that may only read quality_checks can run
  -- them): nothing to take in an order that could deadlock.  Under
  -- REPEATABLE READ or SERIALIZABLE the snapshot predates the drop we waited
  -- for: a serialization failure.
  IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0) THEN
    PERFORM pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('apivalue.quality_checks'), 0);
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'quality checks were dropped by a concurrent transaction'
        USING ERRCODE = '40001',
              DETAIL = 'This transaction''s snapshot predates the drop and would still run the dropped checks.',
              HINT = 'Retry the transaction.';
    END IF;
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
  END LOOP;
  IF name IS NOT NULL AND NOT FOUND THEN
    -- The loop ran nothing: the check was dropped while we waited.
    RAISE EXCEPTION 'quality check "%" does not exist', name
      USING ERRCODE = '42704', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;
  RETURN QUERY SELECT * FROM apivalue.quality_results q WHERE q.run_id = rid ORDER BY q.check_name;
END $$;

-- branch isolation: define_metric locks its definition (LOCK TABLE ... IN
-- ACCESS SHARE MODE) before reading it, so a concurrent DROP of the view ends
-- in 42P01 rather than an internal error from pg_get_viewdef.
CREATE OR REPLACE FUNCTION apivalue.define_metric(
  name          text,
  definition    regclass,
  description   text,
  owner         text,
  unit          text,
  grain         text DEFAULT NULL,
  tags          text[] DEFAULT '{}',
  counts_events text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller   regrole := apivalue.session_role();
  relkind  "char";
  cur      apivalue.metrics%ROWTYPE;
  new_sql  text;
  new_tags text[] := coalesce(tags, '{}');
  new_ver  integer;
BEGIN
  IF name IS NULL OR btrim(name) = '' OR name <> btrim(name) THEN
    RAISE EXCEPTION 'invalid metric name "%"', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A metric name must be non-empty without leading or trailing blanks.';
  END IF;
  IF definition IS NULL THEN
    RAISE EXCEPTION 'definition of metric "%" must not be null', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = definition;
  IF relkind IS NULL THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table';
  END IF;
  IF relkind NOT IN ('v', 'm') THEN
    RAISE EXCEPTION '"%" is not a view or materialized view', definition::text
      USING ERRCODE = 'wrong_object_type',
            HINT = 'A metric is defined by a view: CREATE VIEW ... AS SELECT ..., then define_metric(name, ''that_view'', ...).';
  END IF;
  IF description IS NULL OR btrim(description) = '' THEN
    RAISE EXCEPTION 'metric "%" needs a description', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Say what the number means, in a sentence.';
  END IF;
  IF owner IS NULL OR btrim(owner) = '' THEN
    RAISE EXCEPTION 'metric "%" needs an owner', name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Name the team or person answerable for the number.';
  END IF;
  IF array_position(new_tags, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'tags of metric "%" must not contain NULL', name
      USING ERRCODE = 'null_value_not_allowed';
  END IF;

  -- Lock the definition until commit, by name: a DROP of it in progress is
  -- waited for and then reported as a missing relation (42P01), instead of
  -- pg_get_viewdef failing on the vanished OID with an internal error; and a
  -- later DROP waits for this transaction, so its event trigger
  -- (metric_on_sql_drop) sees and removes the metric defined here.
  EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', definition);
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = definition) THEN
    RAISE EXCEPTION 'relation with OID % does not exist', definition::oid
      USING ERRCODE = 'undefined_table', DETAIL = 'It was dropped by a concurrent transaction.';
  END IF;

  PERFORM apivalue.metric_check_owner(definition, caller, 'define');
  new_sql := apivalue.view_sql(definition);

  -- One definer at a time per metric name (transaction-scoped advisory lock,
  -- then the row lock): concurrent (re)definitions of one name each get
  -- their own version, never the same one twice.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.metrics'),
                                           pg_catalog.hashtext(name));
  SELECT * INTO cur FROM apivalue.metrics m WHERE m.name = define_metric.name FOR UPDATE;

  IF NOT FOUND THEN
    -- Versions continue after a drop, so history never repeats a version.
    SELECT coalesce(max(h.version), 0) + 1 INTO new_ver
      FROM apivalue.metric_history h WHERE h.name = define_metric.name;
    BEGIN
      INSERT INTO apivalue.metrics
        VALUES (name, new_ver, definition, description, owner, unit, grain, new_tags,
                counts_events, new_sql, caller::text, session_user, now());
    EXCEPTION WHEN unique_violation THEN
      -- Only under REPEATABLE READ or SERIALIZABLE, whose snapshot predates
      -- a concurrent first definition that committed while we waited.
      RAISE EXCEPTION 'metric "%" was defined concurrently', name
        USING ERRCODE = 'serialization_failure',
              HINT = 'Retry the transaction.';
    END;
  ELSE
    -- Changing a metric that points at someone else's view needs their role.
    PERFORM apivalue.metric_check_owner(cur.definition, caller, 'redefine');
    IF cur.definition = definition
       AND cur.definition_sql = new_sql
       AND cur.description = description
       AND cur.owner = owner
       AND cur.unit IS NOT DISTINCT FROM unit
       AND cur.grain IS NOT DISTINCT FROM grain
       AND cur.tags = new_tags
       AND cur.counts_events IS NOT DISTINCT FROM counts_events THEN
      RETURN cur.version;  -- nothing changed: re-running a deploy is a no-op
    END IF;
    new_ver := cur.version + 1;
    UPDATE apivalue.metrics m
       SET version = new_ver, definition = define_metric.definition,
           description = define_metric.description, owner = define_metric.owner,
           unit = define_metric.unit, grain = define_metric.grain, tags = new_tags,
           counts_events = define_metric.counts_events, definition_sql = new_sql,
           defined_by = caller::text, session_user_name = session_user, defined_at = now()
     WHERE m.name = define_metric.name;
  END IF;

  INSERT INTO apivalue.metric_history
    VALUES (name, new_ver, CASE WHEN cur.name IS NULL THEN 'define' ELSE 'redefine' END,
            definition::text, new_sql, description, owner, unit, grain, new_tags,
            counts_events, caller::text, session_user, now());
  RETURN new_ver;
END;
$$;

-- branch isolation: propose_event turns a duplicate version (a stale
-- REPEATABLE READ snapshot) into 40001, add_retention_policy a concurrent
-- duplicate policy into 42710.
CREATE OR REPLACE FUNCTION apivalue.propose_event(name text, owner text, description text, properties jsonb DEFAULT '{}')
RETURNS apivalue.event_definitions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v integer;
  created apivalue.event_definitions;
BEGIN
  IF name IS NULL OR btrim(name) = '' THEN
    RAISE EXCEPTION 'event name must not be NULL or empty' USING ERRCODE = '22023';
  END IF;
  -- Serialize proposals of one event so versions are consecutive.
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('apivalue.event_definitions'), pg_catalog.hashtext(name));
  SELECT coalesce(max(d.version), 0) + 1 INTO v FROM apivalue.event_definitions d WHERE d.name = propose_event.name;
  BEGIN
    INSERT INTO apivalue.event_definitions AS d (name, version, status, owner, description, properties)
    VALUES (name, v, 'proposed', owner, description, coalesce(properties, '{}'))
    RETURNING d.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- A REPEATABLE READ or SERIALIZABLE snapshot that predates a concurrent
    -- proposal (or a version inserted without this function): the next
    -- version is not visible to us, so retrying is the only right answer.
    RAISE EXCEPTION 'event "%" was proposed concurrently (version % exists)', name, v
      USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
  END;
  RETURN created;
END $$;

CREATE OR REPLACE FUNCTION apivalue.add_retention_policy(relation regclass, time_column text, keep interval,
    tenant_column text DEFAULT NULL, tenant_value text DEFAULT NULL,
    batch_size integer DEFAULT 10000, partitions text DEFAULT 'drop')
RETURNS apivalue.retention_policies
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  created apivalue.retention_policies;
BEGIN
  IF relation IS NULL THEN
    RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = relation) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', relation
      USING ERRCODE = '42809', HINT = 'Retention applies to tables and partitioned tables.';
  END IF;
  PERFORM apivalue._column(relation, time_column, 'time_column', ARRAY['timestamptz', 'timestamp', 'date']::regtype[]);
  IF keep IS NULL OR keep <= interval '0' OR NOT isfinite(keep) THEN
    RAISE EXCEPTION 'keep must be a positive interval, got %', coalesce(keep::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF (tenant_column IS NULL) <> (tenant_value IS NULL) THEN
    RAISE EXCEPTION 'tenant_column and tenant_value go together'
      USING ERRCODE = '22023', HINT = 'Give both for a per-tenant policy, neither for the whole relation.';
  END IF;
  IF tenant_column IS NOT NULL THEN
    PERFORM apivalue._column(relation, tenant_column, 'tenant_column');
    -- The value must be one of the column's type.
    EXECUTE format('SELECT CAST($1 AS %s)',
                   (SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = relation AND a.attname = tenant_column))
      USING tenant_value;
  END IF;
  IF batch_size IS NULL OR batch_size < 1 THEN
    RAISE EXCEPTION 'batch_size must be positive, got %', coalesce(batch_size::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF partitions IS NULL OR partitions NOT IN ('drop', 'detach') THEN
    RAISE EXCEPTION 'partitions must be "drop" or "detach", got "%"', partitions USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM apivalue.retention_policies p
             WHERE p.relation = add_retention_policy.relation
               AND p.tenant_column IS NOT DISTINCT FROM add_retention_policy.tenant_column
               AND p.tenant_value IS NOT DISTINCT FROM add_retention_policy.tenant_value) THEN
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END IF;
  BEGIN
    INSERT INTO apivalue.retention_policies AS p (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    VALUES (relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions)
    RETURNING p.* INTO created;
  EXCEPTION WHEN unique_violation THEN
    -- Added by a concurrent transaction after the check above.
    RAISE EXCEPTION 'a retention policy for % % already exists', relation,
      CASE WHEN tenant_column IS NULL THEN '(all tenants)' ELSE format('and %s = %L', tenant_column, tenant_value) END
      USING ERRCODE = '42710', DETAIL = 'It was added by a concurrent transaction.',
            HINT = 'Drop it first with apivalue.drop_retention_policy.';
  END;
  RETURN created;
END $$;

-- branch isolation: deprecate_event locks the event's versions in version
-- order before updating them, as approve_event does (a deadlock otherwise).
CREATE OR REPLACE FUNCTION apivalue.deprecate_event(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'event name must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name) THEN
    RAISE EXCEPTION 'event "%" is not in the tracking plan', name USING ERRCODE = '42704';
  END IF;
  -- Lock the event's versions in version order first, as approve_event
  -- does: the UPDATE alone locks them in scan order (heap order under a
  -- sequential scan), which deadlocked against a concurrent approval.
  PERFORM 1 FROM apivalue.event_definitions e WHERE e.name = deprecate_event.name ORDER BY e.version FOR UPDATE;
  UPDATE apivalue.event_definitions e SET status = 'deprecated'
  WHERE e.name = deprecate_event.name AND e.status <> 'deprecated';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
