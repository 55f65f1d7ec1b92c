-- apivalue install script: metric catalog and lineage (SPEC section 7).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
--
-- A metric is a view or materialized view plus metadata.  Everything about
-- where its numbers come from (definition SQL, source tables and columns) is
-- read from PostgreSQL's own catalogs when queried, so it cannot drift.
-- Writes go only through the SECURITY DEFINER functions below; reads go
-- through row-level security that shows a metric only to roles that can
-- SELECT its definition.


------------------------------------------------------------------------------
-- Who is calling
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.session_role()
RETURNS regrole
AS 'MODULE_PATHNAME', 'apivalue_outer_role'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.session_role() IS
  'The role the session acts as (SET ROLE or session user); unlike current_user it is unchanged inside SECURITY DEFINER functions';

-- pg_get_viewdef qualifies names only when they are not visible on the
-- search_path; pinning it makes the text the same for every caller, so it can
-- be compared with the text saved at definition time.
CREATE FUNCTION apivalue.view_sql(rel regclass)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.pg_get_viewdef(rel::oid, true) $$;

COMMENT ON FUNCTION apivalue.view_sql(regclass) IS
  'Definition SQL of a view or materialized view with schema-qualified names, independent of the caller''s search_path';

------------------------------------------------------------------------------
-- Catalog tables
------------------------------------------------------------------------------

CREATE TABLE apivalue.metrics (
  name           text PRIMARY KEY
                 CHECK (name = btrim(name) AND name <> ''),
  version        integer NOT NULL CHECK (version >= 1),
  definition     regclass NOT NULL,
  description    text NOT NULL,
  owner          text NOT NULL,
  unit           text,
  grain          text,
  tags           text[] NOT NULL DEFAULT '{}',
  counts_events  text,
  definition_sql text NOT NULL,
  defined_by     text NOT NULL,
  session_user_name text NOT NULL,
  defined_at     timestamptz NOT NULL
);

COMMENT ON TABLE apivalue.metrics IS
  'Current version of every metric: a view or materialized view plus metadata. Write through apivalue.define_metric / apivalue.drop_metric';
COMMENT ON COLUMN apivalue.metrics.definition IS
  'The view or materialized view that computes the metric';
COMMENT ON COLUMN apivalue.metrics.definition_sql IS
  'pg_get_viewdef of the definition when this version was defined (the live SQL is in apivalue.metric_catalog)';
COMMENT ON COLUMN apivalue.metrics.defined_by IS
  'Role that defined this version (the session''s role, not the function owner)';
COMMENT ON COLUMN apivalue.metrics.session_user_name IS
  'session_user when this version was defined';

CREATE TABLE apivalue.metric_history (
  name           text NOT NULL,
  version        integer NOT NULL,
  action         text NOT NULL CHECK (action IN ('define', 'redefine', 'drop', 'source_dropped')),
  definition_name text NOT NULL,
  definition_sql text,
  description    text,
  owner          text,
  unit           text,
  grain          text,
  tags           text[],
  counts_events  text,
  changed_by     text NOT NULL,
  session_user_name text NOT NULL,
  changed_at     timestamptz NOT NULL,
  PRIMARY KEY (name, version, action)
);

COMMENT ON TABLE apivalue.metric_history IS
  'Every version of every metric, append-only: define/redefine rows carry the definition as it was, drop rows say who removed it and when';
COMMENT ON COLUMN apivalue.metric_history.definition_name IS
  'Schema-qualified name of the definition relation at the time of the change';
COMMENT ON COLUMN apivalue.metric_history.action IS
  'define (first version, or first after a drop), redefine (a later version), drop (apivalue.drop_metric), source_dropped (the definition was dropped by DDL)';

SELECT pg_catalog.pg_extension_config_dump('apivalue.metrics', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.metric_history', '');

-- Reads: everyone may query, but rows are filtered to metrics whose
-- definition the reader can SELECT.  Writes: only the definer functions.
ALTER TABLE apivalue.metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE apivalue.metric_history ENABLE ROW LEVEL SECURITY;

CREATE POLICY metrics_readable_definition ON apivalue.metrics
  FOR SELECT
  USING (pg_catalog.has_table_privilege(definition::oid, 'SELECT') IS TRUE);

CREATE POLICY metric_history_readable_metric ON apivalue.metric_history
  FOR SELECT
  USING (EXISTS (SELECT 1 FROM apivalue.metrics m WHERE m.name = metric_history.name));

REVOKE ALL ON apivalue.metrics, apivalue.metric_history FROM PUBLIC;
GRANT SELECT ON apivalue.metrics, apivalue.metric_history TO PUBLIC;

------------------------------------------------------------------------------
-- Defining and dropping metrics
------------------------------------------------------------------------------

-- Raises 42501 unless the calling role owns (is a member of the owner of)
-- the relation: defining a metric annotates a view, like COMMENT ON VIEW.
CREATE FUNCTION apivalue.metric_check_owner(rel regclass, caller regrole, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  relowner oid;
BEGIN
  SELECT c.relowner INTO relowner FROM pg_catalog.pg_class c WHERE c.oid = rel;
  IF relowner IS NOT NULL AND NOT pg_catalog.pg_has_role(caller, relowner, 'USAGE') THEN
    RAISE EXCEPTION 'permission denied to % metric on "%"', what, rel::text
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Role %s is not a member of %s, the owner of the definition.',
                            caller::text, relowner::regrole::text),
            HINT = 'Metrics can be defined, redefined or dropped only by the owner of their view.';
  END IF;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_check_owner(regclass, regrole, text) IS
  'Internal: raise insufficient_privilege unless caller is a member of the owner of rel';
REVOKE ALL ON FUNCTION apivalue.metric_check_owner(regclass, regrole, text) FROM PUBLIC;

CREATE FUNCTION apivalue.define_metric(
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

COMMENT ON FUNCTION apivalue.define_metric(text, regclass, text, text, text, text, text[], text) IS
  'Define or redefine a metric backed by a view or materialized view you own; returns its version (unchanged when nothing changed); every version is kept in apivalue.metric_history';

CREATE FUNCTION apivalue.drop_metric(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := apivalue.session_role();
  cur    apivalue.metrics%ROWTYPE;
BEGIN
  SELECT * INTO cur FROM apivalue.metrics m WHERE m.name = drop_metric.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'metric "%" does not exist', name
      USING ERRCODE = 'undefined_object',
            HINT = 'See SELECT name FROM apivalue.metric_catalog.';
  END IF;
  PERFORM apivalue.metric_check_owner(cur.definition, caller, 'drop');
  DELETE FROM apivalue.metrics m WHERE m.name = drop_metric.name;
  INSERT INTO apivalue.metric_history (name, version, action, definition_name,
                                       changed_by, session_user_name, changed_at)
    VALUES (cur.name, cur.version, 'drop', cur.definition::text,
            caller::text, session_user, now());
END;
$$;

COMMENT ON FUNCTION apivalue.drop_metric(text) IS
  'Remove a metric from the catalog (its view is left alone); the drop is recorded in apivalue.metric_history';

-- When DDL drops a metric's definition (DROP VIEW, DROP TABLE ... CASCADE,
-- ALTER TABLE ... DROP COLUMN ... CASCADE), the metric goes with it, so no
-- catalog row ever points at a dropped or reused OID.
CREATE FUNCTION apivalue.metric_on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  who regrole := apivalue.session_role();
BEGIN
  WITH gone AS (
    DELETE FROM apivalue.metrics m
     USING pg_catalog.pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::regclass
       AND d.objsubid = 0
       AND d.objid = m.definition::oid
    RETURNING m.name, m.version, d.object_identity
  )
  INSERT INTO apivalue.metric_history (name, version, action, definition_name,
                                       changed_by, session_user_name, changed_at)
  SELECT g.name, g.version, 'source_dropped', g.object_identity,
         who::text, session_user, now()
    FROM gone g;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_on_sql_drop() IS
  'Event trigger: remove metrics whose definition was dropped, recording it in apivalue.metric_history';
REVOKE ALL ON FUNCTION apivalue.metric_on_sql_drop() FROM PUBLIC;

CREATE EVENT TRIGGER apivalue_metric_sql_drop ON sql_drop
  EXECUTE FUNCTION apivalue.metric_on_sql_drop();

COMMENT ON EVENT TRIGGER apivalue_metric_sql_drop IS
  'Keeps apivalue.metrics free of definitions that DDL dropped';

------------------------------------------------------------------------------
-- Lineage, from pg_depend and pg_rewrite
------------------------------------------------------------------------------

-- A view's (or materialized view's) dependencies are recorded on its _RETURN
-- rule: pg_depend rows with classid pg_rewrite, refclassid pg_class and
-- refobjsubid the column (0 for the relation as a whole).  The rule also
-- depends internally on its own view; that row is excluded.  Walking these
-- rows view by view reaches every base relation through any depth.
CREATE VIEW apivalue.metric_lineage WITH (security_invoker = true) AS
WITH RECURSIVE
rule_deps AS (
  SELECT r.ev_class AS viewid, d.refobjid AS relid, d.refobjsubid AS attnum
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass
     AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass
     AND d.deptype = 'n'
   WHERE d.refobjid <> r.ev_class
),
walk (metric_name, relid, depth, via) AS (
  SELECT DISTINCT m.name, rd.relid, 1, ARRAY[m.definition::oid]
    FROM apivalue.metrics m
    JOIN rule_deps rd ON rd.viewid = m.definition::oid
   WHERE pg_catalog.has_table_privilege(m.definition::oid, 'SELECT') IS TRUE
  UNION
  SELECT w.metric_name, rd.relid, w.depth + 1, w.via || w.relid
    FROM walk w
    JOIN pg_catalog.pg_class c ON c.oid = w.relid AND c.relkind IN ('v', 'm')
    JOIN rule_deps rd ON rd.viewid = w.relid
   WHERE w.relid <> ALL (w.via)          -- never loop
)
SELECT w.metric_name,
       w.relid::regclass AS source_table,
       a.attname AS source_column,
       w.depth,
       w.via::regclass[] AS via
  FROM walk w
  JOIN pg_catalog.pg_class c ON c.oid = w.relid AND c.relkind IN ('r', 'p', 'f')
  JOIN rule_deps rd ON rd.viewid = w.via[w.depth] AND rd.relid = w.relid
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = rd.relid AND a.attnum = rd.attnum
 WHERE rd.attnum <> 0
    -- a relation read without any column (count(*), EXISTS) still is a source
    OR NOT EXISTS (SELECT 1 FROM rule_deps x
                    WHERE x.viewid = rd.viewid AND x.relid = rd.relid AND x.attnum <> 0);

GRANT SELECT ON apivalue.metric_lineage TO PUBLIC;

COMMENT ON VIEW apivalue.metric_lineage IS
  'Every base table (ordinary, partitioned parent, foreign) and column each metric reads, through any depth of views and materialized views, from pg_depend/pg_rewrite; source_column NULL when a table is read without naming a column; via = the views from the metric down to the table';

------------------------------------------------------------------------------
-- Quality status of sources (optional: apivalue.quality_* may not exist)
------------------------------------------------------------------------------

-- The quality family's tables are looked up by name at call time, so the
-- catalog works whether or not they are installed, and a role that cannot
-- read them gets NULL instead of an error.  Of the latest result of each
-- check on the given relations, the most severe wins:
-- fail > error > warn > pass.
CREATE FUNCTION apivalue.metric_quality_status(
  relations regclass[],
  checks    regclass DEFAULT pg_catalog.to_regclass('apivalue.quality_checks'),
  results   regclass DEFAULT pg_catalog.to_regclass('apivalue.quality_results'))
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  status text;
BEGIN
  IF relations IS NULL OR checks IS NULL OR results IS NULL
     OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = checks)
     OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = results)
     OR NOT has_table_privilege(checks::oid, 'SELECT')
     OR NOT has_table_privilege(results::oid, 'SELECT') THEN
    RETURN NULL;
  END IF;
  BEGIN
    EXECUTE format($q$
      SELECT s.status
        FROM (SELECT DISTINCT ON (r.check_name) r.status
                FROM %s r
                JOIN %s c ON c.name = r.check_name
               WHERE c.relation = ANY ($1)
               ORDER BY r.check_name, r.run_at DESC,
                        CASE r.status WHEN 'fail' THEN 4 WHEN 'error' THEN 3
                                      WHEN 'warn' THEN 2 WHEN 'pass' THEN 1 ELSE 0 END DESC) s
       ORDER BY CASE s.status WHEN 'fail' THEN 4 WHEN 'error' THEN 3
                              WHEN 'warn' THEN 2 WHEN 'pass' THEN 1 ELSE 0 END DESC
       LIMIT 1$q$, results, checks)
      INTO status
      USING relations;
  EXCEPTION WHEN undefined_column OR undefined_table OR datatype_mismatch
                 OR undefined_function THEN
    -- Tables of that name but another shape: no quality status to report.
    RETURN NULL;
  END;
  RETURN status;
END;
$$;

COMMENT ON FUNCTION apivalue.metric_quality_status(regclass[], regclass, regclass) IS
  'Most severe latest status (fail > error > warn > pass) of the quality checks on the given relations; NULL when there are none or the quality tables are absent or unreadable';

------------------------------------------------------------------------------
-- The catalog view
------------------------------------------------------------------------------

CREATE VIEW apivalue.metric_catalog WITH (security_invoker = true) AS
SELECT m.name,
       m.version,
       m.description,
       m.owner,
       m.unit,
       m.grain,
       m.tags,
       m.counts_events,
       m.definition,
       apivalue.view_sql(m.definition) AS definition_sql,
       apivalue.view_sql(m.definition) IS DISTINCT FROM m.definition_sql
         AS definition_changed,
       coalesce(src.sources, '{}') AS sources,
       apivalue.metric_quality_status(src.sources || src.views) AS latest_quality_status,
       m.defined_by,
       m.defined_at
  FROM apivalue.metrics m
  JOIN pg_catalog.pg_class c ON c.oid = m.definition::oid
  LEFT JOIN LATERAL (
    SELECT ARRAY(SELECT s.rel FROM (SELECT DISTINCT l.source_table AS rel
                                      FROM apivalue.metric_lineage l
                                     WHERE l.metric_name = m.name) s
                  ORDER BY s.rel::text) AS sources,
           ARRAY(SELECT v FROM apivalue.metric_lineage l, unnest(l.via) v
                  WHERE l.metric_name = m.name
                 UNION SELECT m.definition) AS views
  ) src ON true
 WHERE pg_catalog.has_table_privilege(m.definition::oid, 'SELECT');

GRANT SELECT ON apivalue.metric_catalog TO PUBLIC;

COMMENT ON VIEW apivalue.metric_catalog IS
  'Metrics you can read: metadata, live definition SQL (definition_changed = the view was replaced since this version), base sources from apivalue.metric_lineage, and the latest quality status of checks on the metric''s relations';

------------------------------------------------------------------------------
-- OpenLineage
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.metric_lineage_json(name text, namespace text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ns       text := coalesce(namespace, 'postgres://' || current_database());
  producer text := 'urn:apivalue:' || coalesce(
                     (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'apivalue'), 'unknown');
  m        apivalue.metric_catalog%ROWTYPE;
  inputs   jsonb;
  out_fields jsonb;
  col_lineage jsonb;
  relname_of_def text;
BEGIN
  SELECT * INTO m FROM apivalue.metric_catalog c WHERE c.name = metric_lineage_json.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'metric "%" does not exist', name
      USING ERRCODE = 'undefined_object',
            HINT = 'See SELECT name FROM apivalue.metric_catalog (only metrics whose view you can read are listed).';
  END IF;

  SELECT format('%s.%s', n.nspname, c.relname) INTO relname_of_def
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = m.definition::oid;

  -- One input dataset per base table, with its full schema.
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'namespace', ns,
           'name', format('%s.%s', n.nspname, c.relname),
           'facets', jsonb_build_object('schema', jsonb_build_object(
              '_producer', producer,
              '_schemaURL', 'https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
              'fields', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                   'name', a.attname,
                                   'type', format_type(a.atttypid, a.atttypmod))
                                 ORDER BY a.attnum), '[]')
                           FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))))
         ORDER BY n.nspname, c.relname), '[]')
    INTO inputs
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = ANY (m.sources::oid[]);

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
    INTO out_fields
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = m.definition::oid AND a.attnum > 0 AND NOT a.attisdropped;

  -- pg_depend records which columns a view's rule reads, not which output
  -- column each one feeds; so every output column maps to every base column
  -- the metric reads (an over-approximation, never a miss).
  SELECT coalesce(jsonb_object_agg(a.attname, jsonb_build_object('inputFields', src.fields)), '{}')
    INTO col_lineage
    FROM pg_catalog.pg_attribute a
    CROSS JOIN (
      SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_object(
               'namespace', ns,
               'name', format('%s.%s', n.nspname, c.relname),
               'field', l.source_column)), '[]') AS fields
        FROM apivalue.metric_lineage l
        JOIN pg_catalog.pg_class c ON c.oid = l.source_table::oid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE l.metric_name = m.name AND l.source_column IS NOT NULL) src
   WHERE a.attrelid = m.definition::oid AND a.attnum > 0 AND NOT a.attisdropped;

  RETURN jsonb_build_object(
    'eventType', 'COMPLETE',
    'eventTime', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'producer', producer,
    'schemaURL', 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    'run', jsonb_build_object('runId', gen_random_uuid()),
    'job', jsonb_build_object(
       'namespace', ns,
       'name', m.name,
       'facets', jsonb_build_object(
          'sql', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet',
             'query', m.definition_sql),
          'documentation', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet',
             'description', m.description),
          'ownership', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-0/OwnershipJobFacet.json#/$defs/OwnershipJobFacet',
             'owners', jsonb_build_array(jsonb_build_object('name', m.owner))))),
    'inputs', inputs,
    'outputs', jsonb_build_array(jsonb_build_object(
       'namespace', ns,
       'name', relname_of_def,
       'facets', jsonb_build_object(
          'schema', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
             'fields', out_fields),
          'columnLineage', jsonb_build_object(
             '_producer', producer,
             '_schemaURL', 'https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet',
             'fields', col_lineage)))));
END;
$$;

COMMENT ON FUNCTION apivalue.metric_lineage_json(text, text) IS
  'OpenLineage RunEvent (COMPLETE) for a metric: job = the metric, inputs = its base tables with schema facets, output = its view with schema and columnLineage facets; namespace defaults to postgres://<database>';
