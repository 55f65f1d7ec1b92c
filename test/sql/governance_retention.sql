-- Retention windows: policies (privileges, validation), dry runs, batched
-- deletes on a plain table, per-tenant policies, native range partitions
-- dropped or detached, a run interrupted by statement_timeout, the log.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- SQLSTATE (and message) of a statement, or ok.
CREATE FUNCTION gov_ret_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Events at known ages: 60 rows 25.5 h .. 84.5 h old, 40 rows 0.5 h .. 23.5 h
-- old (with keep = 24 hours, exactly the first 60 go), tenants a/b/c.
CREATE TABLE gov_ret_plain (id int PRIMARY KEY, tenant text NOT NULL, ts timestamptz NOT NULL, payload text);
INSERT INTO gov_ret_plain
SELECT g, (ARRAY['a', 'b', 'c'])[1 + g % 3],
       now() - CASE WHEN g <= 60 THEN (24 + g) * interval '1 hour' + interval '30 minutes'
                    ELSE (g - 60) * interval '35 minutes' END,
       'row ' || g
FROM generate_series(1, 100) g;
CREATE INDEX ON gov_ret_plain (ts);
-- The independent reference: which rows are old.
CREATE TABLE gov_ret_ref AS SELECT id, tenant, ts, ts < now() - interval '24 hours' AS old FROM gov_ret_plain;
SELECT old, count(*) FROM gov_ret_ref GROUP BY old ORDER BY old;

-- Privileges: policy changes need EXECUTE on add/drop_retention_policy.
CREATE ROLE regress_gov_ret_user;
CREATE ROLE regress_gov_ret_steward;
GRANT SELECT, DELETE ON gov_ret_plain TO regress_gov_ret_user, regress_gov_ret_steward;
GRANT EXECUTE ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text),
                          apivalue.drop_retention_policy(regclass, text) TO regress_gov_ret_steward;
SELECT has_function_privilege('public', 'apivalue.add_retention_policy(regclass,text,interval,text,text,integer,text)', 'EXECUTE') AS public_may_add,
       has_function_privilege('public', 'apivalue.drop_retention_policy(regclass,text)', 'EXECUTE') AS public_may_drop,
       has_function_privilege('public', 'apivalue.apply_retention_policies(boolean)', 'EXECUTE') AS public_may_apply;
SET ROLE regress_gov_ret_user;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '24 hours')$$) AS user_add;
-- going around the function does not help
SELECT gov_ret_try($$INSERT INTO apivalue.retention_policies (relation, time_column, keep) VALUES ('gov_ret_plain', 'ts', '1 hour')$$) AS user_insert;
RESET ROLE;
SET ROLE regress_gov_ret_steward;
SELECT policy_id > 0 AS added, relation, time_column, keep, tenant_column, tenant_value, batch_size, partitions,
       created_by = current_user AS stamped
FROM apivalue.add_retention_policy('gov_ret_plain', 'ts', '24 hours', batch_size => 7);
RESET ROLE;
SET ROLE regress_gov_ret_user;
SELECT gov_ret_try($$SELECT apivalue.drop_retention_policy('gov_ret_plain')$$) AS user_drop;
SELECT gov_ret_try($$DELETE FROM apivalue.retention_policies$$) AS user_delete;
SELECT gov_ret_try($$UPDATE apivalue.retention_policies SET keep = '1 hour'$$) AS user_update;
RESET ROLE;
SELECT keep FROM apivalue.retention_policies;

-- A steward cannot set up deletion of a table it may not delete from.
CREATE TABLE gov_ret_private (ts timestamptz);
SET ROLE regress_gov_ret_steward;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_private', 'ts', '1 day')$$) AS steward_private;
RESET ROLE;

-- Validation.
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'nope', '1 day')$$) AS unknown_column;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'payload', '1 day')$$) AS text_time_column;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '0 days')$$) AS zero_keep;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '-1 day')$$) AS negative_keep;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', NULL)$$) AS null_keep;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day', 'tenant')$$) AS tenant_without_value;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day', 'nope', 'a')$$) AS unknown_tenant_column;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day', 'id', 'x')$$) AS tenant_value_of_wrong_type;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day', batch_size => 0)$$) AS zero_batch;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day', partitions => 'archive')$$) AS bad_partitions;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_plain', 'ts', '1 day')$$) AS duplicate;
CREATE VIEW gov_ret_view AS SELECT * FROM gov_ret_plain;
SELECT gov_ret_try($$SELECT apivalue.add_retention_policy('gov_ret_view', 'ts', '1 day')$$) AS a_view;
SELECT gov_ret_try($$SELECT apivalue.drop_retention_policy('gov_ret_plain', 'zzz')$$) AS drop_missing;

-- Dry run: counts, changes nothing, is logged.
SELECT relation, tenant, cutoff = now() - interval '24 hours' AS cutoff_ok, rows_affected
FROM apivalue.apply_retention_policies();
SELECT count(*) AS rows_after_dry_run FROM gov_ret_plain;
SELECT run_id IS NOT NULL AS has_run, dry_run, mode, status, rows_affected, rows_deleted, batches, run_by = current_user AS by_me
FROM apivalue.retention_log ORDER BY run_id;

-- Function form: exactly the old rows go, in batches of 7 (60 = 8*7 + 4).
SELECT relation, tenant, rows_affected FROM apivalue.apply_retention_policies(false);
SELECT (SELECT count(*) FROM gov_ret_plain) AS remaining,
       (SELECT count(*) FROM gov_ret_ref r WHERE r.old AND EXISTS (SELECT 1 FROM gov_ret_plain p WHERE p.id = r.id)) AS old_left,
       (SELECT count(*) FROM gov_ret_ref r WHERE NOT r.old AND NOT EXISTS (SELECT 1 FROM gov_ret_plain p WHERE p.id = r.id)) AS new_removed;
-- a second run removes nothing
SELECT relation, rows_affected FROM apivalue.apply_retention_policies(false);
SELECT dry_run, mode, status, rows_affected, rows_deleted, batches, partitions
FROM apivalue.retention_log ORDER BY run_id;

-- Per-tenant policies touch only their tenant.
SELECT apivalue.drop_retention_policy('gov_ret_plain');
SELECT tenant_value, keep FROM apivalue.add_retention_policy('gov_ret_plain', 'ts', '2 hours', 'tenant', 'b', 5);
SELECT relation, tenant, rows_affected FROM apivalue.apply_retention_policies(true);
SELECT relation, tenant, rows_affected FROM apivalue.apply_retention_policies(false);
SELECT tenant,
       count(*) FILTER (WHERE ts < now() - interval '2 hours') AS older_than_2h,
       count(*) AS rows
FROM gov_ret_plain GROUP BY tenant ORDER BY tenant;
-- against the reference: tenant b lost exactly its rows older than the
-- logged cutoff, the other tenants nothing more
SELECT count(*) FILTER (WHERE r.tenant = 'b' AND r.ts < l.cutoff AND p.id IS NOT NULL) AS b_old_left,
       count(*) FILTER (WHERE r.tenant = 'b' AND r.ts >= l.cutoff AND p.id IS NULL) AS b_new_removed,
       count(*) FILTER (WHERE r.tenant <> 'b' AND NOT r.old AND p.id IS NULL) AS others_removed
FROM gov_ret_ref r LEFT JOIN gov_ret_plain p ON p.id = r.id,
     (SELECT cutoff FROM apivalue.retention_log WHERE tenant = 'b' AND NOT dry_run) l;
SELECT apivalue.drop_retention_policy('gov_ret_plain', 'b');

-- ---------------------------------------------------------------------------
-- The procedure: a commit after every batch.  A trigger sleeps in the third
-- batch (a sequence counts batches outside transactions), statement_timeout
-- cancels it: the two finished batches stay, the third rolls back whole, the
-- log shows the run; the next run marks it interrupted and completes.
-- ---------------------------------------------------------------------------
CREATE TABLE gov_ret_slow (id int, ts timestamptz);
INSERT INTO gov_ret_slow
SELECT g, now() - CASE WHEN g <= 50 THEN interval '10 days' + g * interval '1 minute' ELSE g * interval '1 minute' END
FROM generate_series(1, 70) g;
CREATE SEQUENCE gov_ret_batches;
CREATE FUNCTION gov_ret_slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('gov_ret_batches') = 3 THEN
    PERFORM pg_sleep(120);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER gov_ret_slow_batch AFTER DELETE ON gov_ret_slow FOR EACH STATEMENT EXECUTE FUNCTION gov_ret_slow_batch();
SELECT batch_size FROM apivalue.add_retention_policy('gov_ret_slow', 'ts', '1 day', batch_size => 10);
SELECT count(*) FILTER (WHERE ts < now() - interval '1 day') AS old, count(*) AS rows FROM gov_ret_slow;
\set VERBOSITY terse
-- generous, so the first two batches finish even under valgrind
SET statement_timeout = '8s';
CALL apivalue.apply_retention_policies_batched();
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) FILTER (WHERE ts < now() - interval '1 day') AS old_left, count(*) FILTER (WHERE ts >= now() - interval '1 day') AS new_left
FROM gov_ret_slow;
SELECT mode, status, rows_deleted, batches, finished_at IS NULL AS unfinished
FROM apivalue.retention_log WHERE relation = 'gov_ret_slow' ORDER BY run_id;
CALL apivalue.apply_retention_policies_batched();
SELECT count(*) FILTER (WHERE ts < now() - interval '1 day') AS old_left, count(*) FILTER (WHERE ts >= now() - interval '1 day') AS new_left
FROM gov_ret_slow;
SELECT mode, status, rows_affected, rows_deleted, batches, finished_at IS NOT NULL AS finished
FROM apivalue.retention_log WHERE relation = 'gov_ret_slow' ORDER BY run_id;
-- the cutoff was taken once, at the start of the run
SELECT count(DISTINCT cutoff) = count(*) AS one_cutoff_per_run FROM apivalue.retention_log WHERE relation = 'gov_ret_slow';

-- The function form interrupted: one transaction, so nothing at all changes
-- and no log entry survives.
INSERT INTO gov_ret_slow SELECT g, now() - interval '5 days' FROM generate_series(101, 130) g;
ALTER SEQUENCE gov_ret_batches RESTART;
\set VERBOSITY terse
SET statement_timeout = '2s';
SELECT * FROM apivalue.apply_retention_policies(false);
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) FILTER (WHERE ts < now() - interval '1 day') AS old_left FROM gov_ret_slow;
SELECT count(*) AS log_entries FROM apivalue.retention_log WHERE relation = 'gov_ret_slow';
SELECT relation, rows_affected FROM apivalue.apply_retention_policies(false);
SELECT count(*) FILTER (WHERE ts < now() - interval '1 day') AS old_left, count(*) AS rows FROM gov_ret_slow;
SELECT apivalue.drop_retention_policy('gov_ret_slow');

-- ---------------------------------------------------------------------------
-- Native range partitions by day: the partitions wholly older than the
-- cutoff are dropped (or detached), the boundary partition and the default
-- partition are thinned by batches, never a newer row.
-- ---------------------------------------------------------------------------
CREATE TABLE gov_ret_part (id int, ts timestamptz NOT NULL, tenant text) PARTITION BY RANGE (ts);
DO $$
DECLARE
  d date;
BEGIN
  FOR d IN SELECT generate_series(current_date - 9, current_date + 1, interval '1 day')::date LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF gov_ret_part FOR VALUES FROM (%L) TO (%L)',
                   'gov_ret_part_' || to_char(d, 'YYYYMMDD'), d::timestamptz, (d + 1)::timestamptz);
  END LOOP;
END $$;
CREATE TABLE gov_ret_part_default PARTITION OF gov_ret_part DEFAULT;
-- one row every 20 minutes over 9 days, plus 5 very old rows in the default partition
INSERT INTO gov_ret_part
SELECT g, current_date - 9 + g * interval '20 minutes', 't' || g % 2
FROM generate_series(0, 9 * 72 - 1) g
WHERE current_date - 9 + g * interval '20 minutes' < now();
INSERT INTO gov_ret_part SELECT 10000 + g, current_date - 400 + g * interval '1 day', 't0' FROM generate_series(1, 5) g;
CREATE TABLE gov_ret_part_ref AS SELECT id, ts FROM gov_ret_part;
SELECT (apivalue.add_retention_policy('gov_ret_part', 'ts', '3 days 5 hours', batch_size => 40)).policy_id IS NOT NULL AS added;
-- Partitions wholly older than the cutoff: day d ends at d + 1 <= cutoff.
SELECT relation, rows_affected > 0 AS some FROM apivalue.apply_retention_policies();
SELECT (SELECT count(*) FROM generate_series(current_date - 9, current_date + 1, interval '1 day') d
        WHERE d + interval '1 day' <= l.cutoff) = cardinality(l.partitions) AS would_drop_right,
       (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts < l.cutoff) = l.rows_affected AS dry_count_right,
       partition_rows + rows_deleted = rows_affected AS adds_up
FROM apivalue.retention_log l WHERE relation = 'gov_ret_part' AND dry_run;
SELECT count(*) AS partitions_before FROM pg_inherits WHERE inhparent = 'gov_ret_part'::regclass;
SELECT relation, rows_affected > 0 AS some FROM apivalue.apply_retention_policies(false);
SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'gov_ret_part'::regclass)
         = 12 - cardinality(l.partitions) AS partitions_gone,
       (SELECT count(*) FROM generate_series(current_date - 9, current_date + 1, interval '1 day') d
        WHERE d + interval '1 day' <= l.cutoff) = cardinality(l.partitions) AS dropped_right,
       (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts < l.cutoff) = l.rows_affected AS removed_count_right,
       (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts < l.cutoff
          AND EXISTS (SELECT 1 FROM gov_ret_part p WHERE p.id = r.id)) AS old_left,
       (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts >= l.cutoff
          AND NOT EXISTS (SELECT 1 FROM gov_ret_part p WHERE p.id = r.id)) AS new_removed,
       l.status, l.rows_deleted > 0 AS thinned_in_batches, l.partition_rows + l.rows_deleted = l.rows_affected AS adds_up,
       (SELECT count(*) FROM unnest(l.partitions) x WHERE to_regclass(x) IS NOT NULL) AS still_existing
FROM apivalue.retention_log l WHERE relation = 'gov_ret_part' AND NOT dry_run;
SELECT relation, rows_affected FROM apivalue.apply_retention_policies(false);

-- Detach instead of drop: the old partitions survive as tables of their own.
SELECT apivalue.drop_retention_policy('gov_ret_part');
SELECT partitions FROM apivalue.add_retention_policy('gov_ret_part', 'ts', '1 day 5 hours', partitions => 'detach');
SELECT relation, rows_affected > 0 AS some FROM apivalue.apply_retention_policies(false);
SELECT (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts < l.cutoff AND r.ts >= p.cutoff) = l.rows_affected AS removed_count_right,
       (SELECT count(*) FROM unnest(l.partitions) x WHERE to_regclass(x) IS NOT NULL) = cardinality(l.partitions) AS detached_tables_exist,
       (SELECT count(*) FROM unnest(l.partitions) x JOIN pg_inherits h ON h.inhrelid = to_regclass(x)) AS still_attached,
       (SELECT count(*) FROM generate_series(current_date - 9, current_date + 1, interval '1 day') d
        WHERE d + interval '1 day' <= l.cutoff AND d + interval '1 day' > p.cutoff) = cardinality(l.partitions) AS detached_right,
       (SELECT count(*) FROM gov_ret_part_ref r WHERE r.ts >= l.cutoff
          AND NOT EXISTS (SELECT 1 FROM gov_ret_part x WHERE x.id = r.id)) AS new_removed,
       (SELECT count(*) FROM gov_ret_part x WHERE x.ts < l.cutoff) AS old_left
FROM apivalue.retention_log l,
     (SELECT cutoff FROM apivalue.retention_log WHERE relation = 'gov_ret_part' AND NOT dry_run ORDER BY run_id LIMIT 1) p
WHERE l.relation = 'gov_ret_part' AND NOT l.dry_run
  AND l.policy_id = (SELECT policy_id FROM apivalue.retention_policies WHERE relation = 'gov_ret_part'::regclass);

-- A policy that fails (its time column was renamed) is logged as error;
-- the others still run.
CREATE TABLE gov_ret_gone (ts timestamptz);
SELECT (apivalue.add_retention_policy('gov_ret_gone', 'ts', '1 day')).policy_id IS NOT NULL AS added;
ALTER TABLE gov_ret_gone RENAME COLUMN ts TO ts_renamed;
SELECT relation, rows_affected FROM apivalue.apply_retention_policies(false) ORDER BY relation::text;
SELECT status, error ->> 'sqlstate' AS sqlstate FROM apivalue.retention_log
WHERE relation = 'gov_ret_gone' ORDER BY run_id;

-- Every run is in the log: one entry per policy per run.
SELECT mode, dry_run, status, count(*) FROM apivalue.retention_log GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT count(*) AS running_left FROM apivalue.retention_log WHERE status = 'running';
-- log entries cannot be rewritten, even by their author
SET ROLE regress_gov_ret_user;
SELECT left(gov_ret_try($$UPDATE apivalue.retention_log SET rows_affected = 0$$), 5) AS rewrite_log;
RESET ROLE;
SELECT left(gov_ret_try($$UPDATE apivalue.retention_log SET rows_affected = 0 WHERE status = 'done'$$), 5) AS rewrite_finished;

-- pg_cron is not installed here: scheduling says so.
SELECT gov_ret_try($$SELECT apivalue.schedule_retention_policies('0 3 * * *')$$) AS schedule_without_cron;

-- Clean up.
DELETE FROM apivalue.retention_policies;
DROP TABLE gov_ret_plain, gov_ret_ref, gov_ret_private, gov_ret_slow, gov_ret_part, gov_ret_part_ref, gov_ret_gone CASCADE;
DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT relname FROM pg_class WHERE relname LIKE 'gov\_ret\_part\_%' AND relkind = 'r' LOOP
    EXECUTE format('DROP TABLE %I', t);
  END LOOP;
END $$;
DROP SEQUENCE gov_ret_batches;
DROP FUNCTION gov_ret_slow_batch(), gov_ret_try(text);
REVOKE EXECUTE ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text),
                           apivalue.drop_retention_policy(regclass, text) FROM regress_gov_ret_steward;
DROP ROLE regress_gov_ret_user, regress_gov_ret_steward;
