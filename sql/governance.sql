-- sql/governance.sql
--
-- Governance next to the events (SPEC section 7b): a tracking plan with
-- versioned, approved event definitions and a conformance report; retention
-- windows applied in bounded batches (or by dropping whole partitions); and
-- calibration with canary events.  Check kinds tracking_plan and calibration
-- join the quality catalog (sql/quality.sql), which already has freshness.
--
-- Privileges decide who governs.  The catalog tables are writable by PUBLIC
-- only through guard triggers that ask PostgreSQL whether the current role
-- may EXECUTE the steward functions (approve_event, deprecate_event,
-- add_retention_policy, drop_retention_policy), whose EXECUTE is revoked from
-- PUBLIC here.  So one GRANT EXECUTE makes a steward, nothing is SECURITY
-- DEFINER, and the triggers stamp who changed what with the real role.

-- ---------------------------------------------------------------------------
-- Tracking plan.
-- ---------------------------------------------------------------------------

CREATE TABLE apivalue.event_definitions (
  name          text NOT NULL CHECK (name <> ''),
  version       integer NOT NULL CHECK (version > 0),
  status        text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'approved', 'deprecated')),
  owner         text,
  description   text,
  properties    jsonb NOT NULL DEFAULT '{}',
  superseded_by integer,
  proposed_by   name,
  proposed_at   timestamptz,
  approved_by   name,
  approved_at   timestamptz,
  deprecated_by name,
  deprecated_at timestamptz,
  changed_by    name,
  changed_at    timestamptz,
  PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX event_definitions_one_approved ON apivalue.event_definitions (name) WHERE status = 'approved';
COMMENT ON TABLE apivalue.event_definitions IS
  'tracking plan: every version of every event definition (status proposed/approved/deprecated, owner, description, expected properties {"key.path": {"type": ..., "required": ...}}, who proposed, approved, deprecated it and when)';

-- The JSON types jsonb_shape reports, which a property may declare.
CREATE FUNCTION apivalue._json_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['string', 'number', 'boolean', 'null', 'object', 'array'] $$;
COMMENT ON FUNCTION apivalue._json_types() IS 'internal: the JSON type names of jsonb_typeof and jsonb_shape';

-- Key paths are written as jsonb_shape writes them: keys joined with '.',
-- a '.' inside a key written '\.', a '\' written '\\', and a top-level key
-- "_rows" written "\_rows".  These two convert between that text and the
-- array of keys.
CREATE FUNCTION apivalue._shape_path_keys(path text)
RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT array_agg(regexp_replace(m[1], '\\(.)', '\1', 'g') ORDER BY n)
  FROM regexp_matches(path, '((?:[^.\\]|\\.)+)', 'g') WITH ORDINALITY AS r(m, n)
$$;
COMMENT ON FUNCTION apivalue._shape_path_keys(text) IS
  'internal: the keys of a key path written as jsonb_shape writes it (dots separate keys, \. and \\ escape)';

CREATE FUNCTION apivalue._shape_path_text(keys text[])
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT string_agg(CASE WHEN n = 1 AND k = '_rows' THEN '\_rows'
                         ELSE replace(replace(k, '\', '\\'), '.', '\.') END, '.' ORDER BY n)
  FROM unnest(keys) WITH ORDINALITY AS u(k, n)
$$;
COMMENT ON FUNCTION apivalue._shape_path_text(text[]) IS
  'internal: a key path as jsonb_shape writes it, from its keys';

-- Validates an expected-properties document and returns it normalized:
-- every value {"type": [types...] or null, "required": bool, "description"}.
CREATE FUNCTION apivalue._event_properties(properties jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k text;
  spec jsonb;
  t jsonb;
  types jsonb;
  bad text;
  result jsonb := '{}';
BEGIN
  IF properties IS NULL OR properties = 'null'::jsonb THEN
    RETURN '{}';
  END IF;
  IF jsonb_typeof(properties) <> 'object' THEN
    RAISE EXCEPTION 'properties must be a JSON object, got %', properties
      USING ERRCODE = '22023', HINT = 'For example {"plan": {"type": "string", "required": true}}.';
  END IF;
  FOR k, spec IN SELECT * FROM jsonb_each(properties) ORDER BY 1 LOOP
    IF k !~ '^(?:[^.\\]|\\.)+(?:\.(?:[^.\\]|\\.)+)*$' THEN
      RAISE EXCEPTION 'property path "%" is invalid', k
        USING ERRCODE = '22023',
              HINT = 'A path is one or more non-empty keys separated by dots, such as "client.version"; write a dot inside a key as \. and a backslash as \\, as jsonb_shape does.';
    END IF;
    IF jsonb_typeof(spec) <> 'object' THEN
      RAISE EXCEPTION 'property "%" must be described by a JSON object, got %', k, spec
        USING ERRCODE = '22023', HINT = 'For example {"type": "string", "required": true}.';
    END IF;
    SELECT string_agg(a, ', ' ORDER BY a) INTO bad
    FROM jsonb_object_keys(spec) a WHERE a NOT IN ('type', 'required', 'description');
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'property "%" has unknown attribute(s): %', k, bad
        USING ERRCODE = '22023', HINT = 'Attributes are type, required and description.';
    END IF;
    t := spec -> 'type';
    IF t IS NULL OR t = 'null'::jsonb THEN
      types := NULL;
    ELSIF jsonb_typeof(t) = 'string' THEN
      types := jsonb_build_array(t);
    ELSIF jsonb_typeof(t) = 'array' AND jsonb_array_length(t) > 0 THEN
      types := t;
    ELSE
      RAISE EXCEPTION 'type of property "%" must be a JSON type name or a non-empty array of them, got %', k, t
        USING ERRCODE = '22023', HINT = 'JSON types: ' || array_to_string(apivalue._json_types(), ', ') || '.';
    END IF;
    IF types IS NOT NULL THEN
      SELECT string_agg(x::text, ', ') INTO bad
      FROM jsonb_array_elements(types) x
      WHERE jsonb_typeof(x) <> 'string' OR NOT (x #>> '{}') = ANY (apivalue._json_types());
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'property "%" has unknown type(s): %', k, bad
          USING ERRCODE = '22023', HINT = 'JSON types: ' || array_to_string(apivalue._json_types(), ', ') || '.';
      END IF;
      SELECT jsonb_agg(DISTINCT x) INTO types FROM jsonb_array_elements(types) x;
    END IF;
    IF spec ? 'required' AND jsonb_typeof(spec -> 'required') <> 'boolean' THEN
      RAISE EXCEPTION 'attribute "required" of property "%" must be true or false, got %', k, spec -> 'required'
        USING ERRCODE = '22023';
    END IF;
    IF spec ? 'description' AND jsonb_typeof(spec -> 'description') <> 'string' THEN
      RAISE EXCEPTION 'attribute "description" of property "%" must be a string, got %', k, spec -> 'description'
        USING ERRCODE = '22023';
    END IF;
    result := result || jsonb_build_object(k, jsonb_strip_nulls(jsonb_build_object(
                'type', types, 'required', coalesce((spec ->> 'required')::boolean, false),
                'description', spec -> 'description')));
  END LOOP;
  -- A declared path below another declared path needs that one to be an object.
  SELECT string_agg(format('"%s" below "%s"', c.key, p.key), ', ') INTO bad
  FROM jsonb_each(result) c JOIN jsonb_each(result) p
    ON cardinality(apivalue._shape_path_keys(c.key)) > cardinality(apivalue._shape_path_keys(p.key))
   AND (apivalue._shape_path_keys(c.key))[1:cardinality(apivalue._shape_path_keys(p.key))] = apivalue._shape_path_keys(p.key)
  WHERE p.value ? 'type' AND NOT p.value -> 'type' ? 'object';
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'nested properties need their parent to allow type object: %', bad USING ERRCODE = '22023';
  END IF;
  RETURN result;
END $$;
COMMENT ON FUNCTION apivalue._event_properties(jsonb) IS
  'internal: validates and normalizes expected event properties ({"key.path": {"type": "string" or [...], "required": bool, "description": text}})';

-- Guard of event_definitions: a definition is immutable once proposed, its
-- status moves only forward (proposed -> approved -> deprecated, or proposed
-- -> deprecated), approving needs EXECUTE on approve_event and deprecating
-- EXECUTE on approve_event or deprecate_event, and who/when are stamped with
-- the real role (so they cannot be forged by an ordinary role).
CREATE FUNCTION apivalue._event_definitions_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  may_approve boolean := has_function_privilege('apivalue.approve_event(text,integer)', 'EXECUTE');
  may_deprecate boolean := may_approve OR has_function_privilege('apivalue.deprecate_event(text)', 'EXECUTE');
BEGIN
  NEW.properties := apivalue._event_properties(NEW.properties);
  IF TG_OP = 'INSERT' THEN
    IF NOT may_approve THEN
      -- Ordinary roles only propose; stewards may also restore history (pg_dump).
      IF NEW.status <> 'proposed' OR NEW.superseded_by IS NOT NULL
         OR NEW.approved_by IS NOT NULL OR NEW.approved_at IS NOT NULL
         OR NEW.deprecated_by IS NOT NULL OR NEW.deprecated_at IS NOT NULL THEN
        RAISE EXCEPTION 'permission denied to add event "%" as %', NEW.name, NEW.status
          USING ERRCODE = '42501', HINT = 'New versions start as proposed (apivalue.propose_event); approving needs EXECUTE on apivalue.approve_event.';
      END IF;
      NEW.proposed_by := current_user;
      NEW.proposed_at := now();
      NEW.changed_by := current_user;
      NEW.changed_at := now();
    ELSE
      NEW.proposed_by := coalesce(NEW.proposed_by, current_user);
      NEW.proposed_at := coalesce(NEW.proposed_at, now());
      NEW.changed_by := coalesce(NEW.changed_by, current_user);
      NEW.changed_at := coalesce(NEW.changed_at, now());
    END IF;
    RETURN NEW;
  END IF;

  IF (NEW.name, NEW.version, NEW.owner, NEW.description, NEW.properties, NEW.proposed_by, NEW.proposed_at)
     IS DISTINCT FROM (OLD.name, OLD.version, OLD.owner, OLD.description, OLD.properties, OLD.proposed_by, OLD.proposed_at) THEN
    RAISE EXCEPTION 'version % of event "%" cannot be changed', OLD.version, OLD.name
      USING ERRCODE = '55000', HINT = 'Definitions are kept as they were proposed; propose a new version with apivalue.propose_event.';
  END IF;
  -- The stamps are the guard's to set.
  NEW.approved_by := OLD.approved_by;   NEW.approved_at := OLD.approved_at;
  NEW.deprecated_by := OLD.deprecated_by; NEW.deprecated_at := OLD.deprecated_at;
  NEW.changed_by := OLD.changed_by;     NEW.changed_at := OLD.changed_at;
  IF NEW.status = OLD.status THEN
    NEW.superseded_by := OLD.superseded_by;
    RETURN NEW;
  END IF;
  IF NOT (OLD.status = 'proposed' AND NEW.status IN ('approved', 'deprecated')
          OR OLD.status = 'approved' AND NEW.status = 'deprecated') THEN
    RAISE EXCEPTION 'version % of event "%" cannot go from % to %', OLD.version, OLD.name, OLD.status, NEW.status
      USING ERRCODE = '55000', HINT = 'Status moves from proposed to approved to deprecated; propose a new version to revive an event.';
  END IF;
  IF NEW.status = 'approved' AND NOT may_approve THEN
    RAISE EXCEPTION 'permission denied to approve event "%"', OLD.name
      USING ERRCODE = '42501', HINT = 'Approving needs EXECUTE on apivalue.approve_event.';
  END IF;
  IF NEW.status = 'deprecated' AND NOT may_deprecate THEN
    RAISE EXCEPTION 'permission denied to deprecate event "%"', OLD.name
      USING ERRCODE = '42501', HINT = 'Deprecating needs EXECUTE on apivalue.deprecate_event or apivalue.approve_event.';
  END IF;
  IF NEW.status = 'approved' THEN
    NEW.approved_by := current_user;
    NEW.approved_at := now();
    NEW.superseded_by := NULL;
  ELSE
    NEW.deprecated_by := current_user;
    NEW.deprecated_at := now();
  END IF;
  NEW.changed_by := current_user;
  NEW.changed_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._event_definitions_guard() IS
  'internal: keeps event definitions immutable, status forward-only, approval and deprecation behind EXECUTE on approve_event/deprecate_event, and stamps who and when';
CREATE TRIGGER event_definitions_guard BEFORE INSERT OR UPDATE ON apivalue.event_definitions
  FOR EACH ROW EXECUTE FUNCTION apivalue._event_definitions_guard();

SELECT pg_catalog.pg_extension_config_dump('apivalue.event_definitions', '');
GRANT SELECT, INSERT ON apivalue.event_definitions TO PUBLIC;
GRANT UPDATE (status, superseded_by) ON apivalue.event_definitions TO PUBLIC;

-- The effective plan: per event name the approved version if there is one,
-- otherwise the status of its newest version.
CREATE VIEW apivalue.tracking_plan AS
SELECT DISTINCT ON (d.name)
       d.name, d.version, d.status, d.owner, d.description, d.properties,
       (SELECT max(p.version) FROM apivalue.event_definitions p
        WHERE p.name = d.name AND p.status = 'proposed' AND p.version > d.version) AS pending_version,
       d.changed_by, d.changed_at
FROM apivalue.event_definitions d
ORDER BY d.name, (d.status = 'approved') DESC, d.version DESC;
COMMENT ON VIEW apivalue.tracking_plan IS
  'the tracking plan in force: per event its approved version, or else the status of its newest version (proposed or deprecated), and a newer proposal waiting for approval';
GRANT SELECT ON apivalue.tracking_plan TO PUBLIC;

CREATE FUNCTION apivalue.propose_event(name text, owner text, description text, properties jsonb DEFAULT '{}')
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
COMMENT ON FUNCTION apivalue.propose_event(text, text, text, jsonb) IS
  'proposes a new version of an event definition (owner, description, expected properties {"key.path": {"type": "string", "required": true}}); every version is kept';

CREATE FUNCTION apivalue.approve_event(name text, version integer DEFAULT NULL)
RETURNS apivalue.event_definitions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  d apivalue.event_definitions;
  current_version integer;
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'event name must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM 1 FROM apivalue.event_definitions e WHERE e.name = approve_event.name ORDER BY e.version FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'event "%" is not in the tracking plan', name
      USING ERRCODE = '42704', HINT = 'Propose it first with apivalue.propose_event.';
  END IF;
  IF version IS NULL THEN
    SELECT * INTO d FROM apivalue.event_definitions e
    WHERE e.name = approve_event.name AND e.status = 'proposed' ORDER BY e.version DESC LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'event "%" has no proposed version to approve', name USING ERRCODE = '55000';
    END IF;
  ELSE
    SELECT * INTO d FROM apivalue.event_definitions e WHERE e.name = approve_event.name AND e.version = approve_event.version;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'event "%" has no version %', name, version USING ERRCODE = '42704';
    END IF;
  END IF;
  IF d.status = 'approved' THEN
    RETURN d;
  ELSIF d.status = 'deprecated' THEN
    RAISE EXCEPTION 'version % of event "%" is deprecated and cannot be approved', d.version, name
      USING ERRCODE = '55000', HINT = 'Propose a new version with apivalue.propose_event.';
  END IF;
  SELECT e.version INTO current_version FROM apivalue.event_definitions e
  WHERE e.name = approve_event.name AND e.status = 'approved';
  IF current_version > d.version THEN
    RAISE EXCEPTION 'version % of event "%" is older than its approved version %', d.version, name, current_version
      USING ERRCODE = '55000';
  END IF;
  -- The approved version is superseded (deprecated), then the new one approved.
  UPDATE apivalue.event_definitions e SET status = 'deprecated', superseded_by = d.version
  WHERE e.name = approve_event.name AND e.status = 'approved';
  UPDATE apivalue.event_definitions e SET status = 'approved'
  WHERE e.name = approve_event.name AND e.version = d.version
  RETURNING e.* INTO d;
  RETURN d;
END $$;
COMMENT ON FUNCTION apivalue.approve_event(text, integer) IS
  'approves a version of an event definition (default: its newest proposed version); the previously approved version becomes deprecated (superseded_by); needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.approve_event(text, integer) FROM PUBLIC;

CREATE FUNCTION apivalue.deprecate_event(name text)
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
COMMENT ON FUNCTION apivalue.deprecate_event(text) IS
  'deprecates every version of an event that is not deprecated yet and returns how many; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.deprecate_event(text) FROM PUBLIC;

-- True when the key path exists in j (objects only, as jsonb_shape walks them).
CREATE FUNCTION apivalue._jsonb_has_path(j jsonb, path text[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(jsonb_typeof(j #> path[1:cardinality(path) - 1]) = 'object'
                      AND (j #> path[1:cardinality(path) - 1]) ? path[cardinality(path)], false) $$;
COMMENT ON FUNCTION apivalue._jsonb_has_path(jsonb, text[]) IS
  'internal: whether key path (as an array of keys) is present in j through nested objects';

-- The key paths of a jsonb_shape result: rows that had the path and the
-- count of each JSON type.
CREATE FUNCTION apivalue._shape_paths(shape jsonb)
RETURNS TABLE (key_path text, rows bigint, types jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT s.key, (s.value ->> 'rows')::bigint, s.value - 'rows'
  FROM jsonb_each(shape) s
  WHERE s.key <> '_rows'
$$;
COMMENT ON FUNCTION apivalue._shape_paths(jsonb) IS
  'internal: key paths of a jsonb_shape result as rows (key_path, rows having it, counts per JSON type)';

CREATE FUNCTION apivalue.tracking_plan_conformance(events regclass, event_column text,
    payload_column text, time_column text, since timestamptz DEFAULT NULL)
RETURNS TABLE (event_name text, problem text, key_path text, rows bigint, share float8, example jsonb)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  ecol text := apivalue._column(events, event_column, 'event_column');
  pcol text := apivalue._column(events, payload_column, 'payload_column', ARRAY['jsonb', 'json']::regtype[]);
  tcol text := apivalue._column(events, time_column, 'time_column',
                                ARRAY['timestamptz', 'timestamp', 'date']::regtype[]);
  approved text[];
  depth integer;
  observed jsonb;
  f record;
  cond text;
  ex jsonb;
BEGIN
  IF since IS NOT NULL AND NOT isfinite(since) THEN
    RAISE EXCEPTION 'since must be a finite timestamp, got %', since USING ERRCODE = '22008';
  END IF;
  -- The approved plans, and how deep to look: one level below the deepest
  -- declared path, so an undeclared key under a declared object is seen.
  SELECT array_agg(DISTINCT p.name), coalesce(max(cardinality(apivalue._shape_path_keys(k.key))), 0) + 1
  INTO approved, depth
  FROM apivalue.tracking_plan p LEFT JOIN LATERAL jsonb_object_keys(p.properties) k(key) ON true
  WHERE p.status = 'approved';
  -- One scan: rows per event name, and the shape of the approved ones.
  EXECUTE format($q$
    SELECT jsonb_agg(jsonb_build_object('event', s.e, 'rows', s.n, 'shape', s.shape))
    FROM (SELECT %1$s::text AS e, count(*) AS n,
                 apivalue.jsonb_shape(%2$s::jsonb, $2) FILTER (WHERE %1$s::text = ANY ($3)) AS shape
          FROM %3$s
          WHERE %1$s IS NOT NULL AND ($1 IS NULL OR %4$s >= $1)
          GROUP BY 1) s $q$, ecol, pcol, events, tcol)
    INTO observed USING since, depth, coalesce(approved, '{}');

  FOR f IN
    WITH ev AS (
      SELECT x ->> 'event' AS name, (x ->> 'rows')::bigint AS n, x -> 'shape' AS shape
      FROM jsonb_array_elements(coalesce(observed, '[]')) x
    ), total AS (
      SELECT sum(ev.n)::float8 AS n FROM ev
    ), plan AS (
      SELECT ev.name, ev.n, ev.shape, p.status, p.properties
      FROM ev LEFT JOIN apivalue.tracking_plan p ON p.name = ev.name
    ), declared AS (        -- declared paths (as arrays of keys), and the objects above them
      SELECT plan.name, apivalue._shape_path_keys(d.key) AS keys, d.value -> 'type' AS types,
             coalesce((d.value ->> 'required')::boolean, false) AS required, true AS explicit
      FROM plan, jsonb_each(plan.properties) d
      WHERE plan.status = 'approved'
      UNION ALL
      SELECT DISTINCT plan.name, s.keys[1:i], '["object"]'::jsonb, false, false
      FROM plan, jsonb_object_keys(plan.properties) d(key),
           LATERAL (SELECT apivalue._shape_path_keys(d.key) AS keys) s,
           generate_series(1, cardinality(s.keys) - 1) i
      WHERE plan.status = 'approved'
        AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(plan.properties) o(key)
                        WHERE apivalue._shape_path_keys(o.key) = s.keys[1:i])
    ), checked AS (
      SELECT c.*, apivalue._shape_path_text(c.keys) AS path,
             c.explicit AND (c.types IS NULL OR c.types ? 'object')
             AND NOT EXISTS (SELECT 1 FROM declared o WHERE o.name = c.name
                               AND cardinality(o.keys) > cardinality(c.keys)
                               AND o.keys[1:cardinality(c.keys)] = c.keys)
               AS opaque
      FROM declared c
    ), seen AS (
      SELECT plan.name, plan.n, s.key_path, s.rows, s.types, k.keys,
             CASE WHEN cardinality(k.keys) > 1 THEN k.keys[1:cardinality(k.keys) - 1] END AS parent
      FROM plan, apivalue._shape_paths(plan.shape) s,
           LATERAL (SELECT apivalue._shape_path_keys(s.key_path) AS keys) k
      WHERE plan.status = 'approved'
    )
    SELECT plan.name, CASE WHEN plan.status IS NULL THEN 'unknown_event'
                           WHEN plan.status = 'proposed' THEN 'unapproved_event'
                           ELSE 'deprecated_event' END AS problem,
           NULL::text AS path, plan.n AS n, plan.n / total.n AS share, NULL::jsonb AS types
    FROM plan, total
    WHERE plan.status IS DISTINCT FROM 'approved'
    UNION ALL
    SELECT c.name, 'missing_required', c.path, plan.n - coalesce(s.rows, 0),
           (plan.n - coalesce(s.rows, 0))::float8 / plan.n, NULL
    FROM checked c JOIN plan ON plan.name = c.name
    LEFT JOIN seen s ON s.name = c.name AND s.keys = c.keys
    WHERE c.required AND plan.n - coalesce(s.rows, 0) > 0
    UNION ALL
    SELECT w.name, 'wrong_type', w.path, w.bad, w.bad::float8 / w.n, w.types
    FROM (SELECT c.name, c.path, c.types, s.n,
                 (SELECT coalesce(sum(t.value::bigint), 0)::bigint FROM jsonb_each_text(s.types) t
                  WHERE NOT c.types ? t.key) AS bad
          FROM checked c JOIN seen s ON s.name = c.name AND s.keys = c.keys
          WHERE c.types IS NOT NULL) w
    WHERE w.bad > 0
    UNION ALL
    SELECT s.name, 'undeclared_property', s.key_path, s.rows, s.rows::float8 / s.n, NULL
    FROM seen s
    WHERE NOT EXISTS (SELECT 1 FROM checked c WHERE c.name = s.name AND c.keys = s.keys)
      AND (s.parent IS NULL
           OR EXISTS (SELECT 1 FROM checked c WHERE c.name = s.name AND c.keys = s.parent AND NOT c.opaque))
    ORDER BY 1, 2, 3
  LOOP
    -- One example payload per finding: the earliest offending row.
    cond := CASE f.problem
      WHEN 'missing_required' THEN format('NOT apivalue._jsonb_has_path(%s::jsonb, $3)', pcol)
      WHEN 'wrong_type' THEN format('apivalue._jsonb_has_path(%1$s::jsonb, $3) AND NOT $4 ? jsonb_typeof(%1$s::jsonb #> $3)', pcol)
      WHEN 'undeclared_property' THEN format('apivalue._jsonb_has_path(%s::jsonb, $3)', pcol)
      ELSE 'true' END;
    EXECUTE format($q$
      SELECT %1$s::jsonb FROM %2$s
      WHERE %3$s::text = $1 AND ($2 IS NULL OR %4$s >= $2) AND %5$s
      ORDER BY %4$s, %1$s::text LIMIT 1 $q$, pcol, events, ecol, tcol, cond)
      INTO ex USING f.name, since, apivalue._shape_path_keys(f.path), f.types;
    event_name := f.name;
    problem := f.problem;
    key_path := f.path;
    rows := f.n;
    share := f.share;
    example := ex;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue.tracking_plan_conformance(regclass, text, text, text, timestamptz) IS
  'events that do not follow the tracking plan: unknown_event, unapproved_event, deprecated_event (share of all rows), missing_required, wrong_type, undeclared_property (share of the event''s rows), with one example payload each; built on jsonb_shape; runs with the caller''s privileges';

CREATE FUNCTION apivalue._quality_run_tracking_plan(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n bigint;
  findings jsonb;
BEGIN
  SELECT count(*),
         jsonb_agg(jsonb_build_object('event_name', c.event_name, 'problem', c.problem, 'key_path', c.key_path,
                                      'rows', c.rows, 'share', c.share)
                   ORDER BY c.event_name, c.problem, c.key_path) FILTER (WHERE c.rn <= 50),
         jsonb_agg(to_jsonb(c) - 'rn' ORDER BY c.event_name, c.problem, c.key_path) FILTER (WHERE c.rn <= 5)
  INTO n, findings, sample
  FROM (SELECT t.*, row_number() OVER (ORDER BY t.event_name, t.problem, t.key_path) AS rn
        FROM apivalue.tracking_plan_conformance(rel, params ->> 'event_column', params ->> 'payload_column',
               params ->> 'time_column', now() - (params ->> 'window')::interval) t) c;
  observed := n;
  details := jsonb_build_object('findings', n, 'window', params ->> 'window', 'problems', coalesce(findings, '[]'));
END $$;
COMMENT ON FUNCTION apivalue._quality_run_tracking_plan(regclass, jsonb) IS
  'internal: runner of check kind tracking_plan';

-- ---------------------------------------------------------------------------
-- Retention windows.
-- ---------------------------------------------------------------------------

CREATE SEQUENCE apivalue.retention_policy_id_seq;
COMMENT ON SEQUENCE apivalue.retention_policy_id_seq IS 'ids of retention_policies';

CREATE TABLE apivalue.retention_policies (
  policy_id     bigint PRIMARY KEY DEFAULT nextval('apivalue.retention_policy_id_seq'),
  relation      regclass NOT NULL,
  time_column   name NOT NULL,
  keep          interval NOT NULL CHECK (keep > interval '0'),
  tenant_column name,
  tenant_value  text,
  batch_size    integer NOT NULL DEFAULT 10000 CHECK (batch_size > 0),
  partitions    text NOT NULL DEFAULT 'drop' CHECK (partitions IN ('drop', 'detach')),
  enabled       boolean NOT NULL DEFAULT true,
  created_by    name,
  created_at    timestamptz,
  CHECK ((tenant_column IS NULL) = (tenant_value IS NULL)),
  UNIQUE NULLS NOT DISTINCT (relation, tenant_column, tenant_value)
);
COMMENT ON TABLE apivalue.retention_policies IS
  'retention windows: rows of relation whose time_column is older than now() - keep are removed (for one tenant when tenant_column/tenant_value are set); changing policies needs EXECUTE on add_retention_policy / drop_retention_policy';

CREATE SEQUENCE apivalue.retention_run_id_seq;
COMMENT ON SEQUENCE apivalue.retention_run_id_seq IS 'run ids of retention_log';

CREATE TABLE apivalue.retention_log (
  run_id          bigint NOT NULL,
  policy_id       bigint NOT NULL,
  relation        text NOT NULL,
  tenant          text,
  cutoff          timestamptz NOT NULL,
  dry_run         boolean NOT NULL,
  mode            text NOT NULL CHECK (mode IN ('function', 'procedure')),
  status          text NOT NULL CHECK (status IN ('running', 'done', 'error', 'interrupted')),
  rows_affected   bigint NOT NULL DEFAULT 0,
  rows_deleted    bigint NOT NULL DEFAULT 0,
  partition_rows  bigint NOT NULL DEFAULT 0,
  partitions      text[] NOT NULL DEFAULT '{}',
  batches         integer NOT NULL DEFAULT 0,
  error           jsonb,
  started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at     timestamptz,
  run_by          name,
  pid             integer,
  PRIMARY KEY (run_id, policy_id)
);
COMMENT ON TABLE apivalue.retention_log IS
  'every retention run, one row per policy: cutoff, dry run or not, rows removed (deleted in batches, or in dropped/detached partitions), status running/done/error/interrupted, who and when';

-- Guard of retention_policies: writing needs EXECUTE on the steward
-- functions, and a policy may only delete what its author could delete.
CREATE FUNCTION apivalue._retention_policies_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT has_function_privilege('apivalue.drop_retention_policy(regclass,text)', 'EXECUTE') THEN
      RAISE EXCEPTION 'permission denied to drop retention policies'
        USING ERRCODE = '42501', HINT = 'Changing retention policies needs EXECUTE on apivalue.drop_retention_policy.';
    END IF;
    RETURN OLD;
  END IF;
  IF NOT has_function_privilege('apivalue.add_retention_policy(regclass,text,interval,text,text,integer,text)', 'EXECUTE') THEN
    RAISE EXCEPTION 'permission denied to change retention policies'
      USING ERRCODE = '42501', HINT = 'Changing retention policies needs EXECUTE on apivalue.add_retention_policy.';
  END IF;
  IF NOT has_table_privilege(NEW.relation, 'DELETE') THEN
    RAISE EXCEPTION 'permission denied to delete from %', NEW.relation
      USING ERRCODE = '42501', HINT = 'A retention policy may only remove rows its author may delete.';
  END IF;
  NEW.created_by := current_user;
  NEW.created_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._retention_policies_guard() IS
  'internal: policy changes need EXECUTE on add_retention_policy/drop_retention_policy and DELETE on the relation; stamps who and when';
CREATE TRIGGER retention_policies_guard BEFORE INSERT OR UPDATE OR DELETE ON apivalue.retention_policies
  FOR EACH ROW EXECUTE FUNCTION apivalue._retention_policies_guard();

-- Guard of retention_log: anyone may run retention (with their own
-- privileges), so anyone may log, but only as themselves; a finished entry
-- is final, and another role's entry may only be marked interrupted.
CREATE FUNCTION apivalue._retention_log_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.run_by := current_user;
    NEW.pid := pg_backend_pid();
    NEW.started_at := clock_timestamp();
    RETURN NEW;
  END IF;
  IF (NEW.run_id, NEW.policy_id, NEW.relation, NEW.tenant, NEW.cutoff, NEW.dry_run, NEW.mode,
      NEW.started_at, NEW.run_by, NEW.pid)
     IS DISTINCT FROM (OLD.run_id, OLD.policy_id, OLD.relation, OLD.tenant, OLD.cutoff, OLD.dry_run, OLD.mode,
                       OLD.started_at, OLD.run_by, OLD.pid)
     OR OLD.status <> 'running'
     OR OLD.run_by <> current_user
        AND NOT (NEW.status = 'interrupted' AND (NEW.rows_affected, NEW.rows_deleted, NEW.partition_rows,
                 NEW.partitions, NEW.batches, NEW.error) IS NOT DISTINCT FROM
                 (OLD.rows_affected, OLD.rows_deleted, OLD.partition_rows, OLD.partitions, OLD.batches, OLD.error)) THEN
    RAISE EXCEPTION 'retention log entry (run %, policy %) cannot be changed this way', OLD.run_id, OLD.policy_id
      USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apivalue._retention_log_guard() IS
  'internal: retention log entries are written as the running role, final once finished';
CREATE TRIGGER retention_log_guard BEFORE INSERT OR UPDATE ON apivalue.retention_log
  FOR EACH ROW EXECUTE FUNCTION apivalue._retention_log_guard();

SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_policies', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_log', '');
SELECT pg_catalog.pg_extension_config_dump('apivalue.retention_run_id_seq', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON apivalue.retention_policies TO PUBLIC;
GRANT USAGE ON SEQUENCE apivalue.retention_policy_id_seq, apivalue.retention_run_id_seq TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON apivalue.retention_log TO PUBLIC;

CREATE FUNCTION apivalue.add_retention_policy(relation regclass, time_column text, keep interval,
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
COMMENT ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text) IS
  'adds a retention window: rows of relation older than now() - keep are removed by apply_retention_policies (only tenant_value''s rows when tenant_column is given), batch_size rows per batch, whole old partitions dropped or detached; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.add_retention_policy(regclass, text, interval, text, text, integer, text) FROM PUBLIC;

CREATE FUNCTION apivalue.drop_retention_policy(relation regclass, tenant_value text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM apivalue.retention_policies p
  WHERE p.relation = drop_retention_policy.relation
    AND p.tenant_value IS NOT DISTINCT FROM drop_retention_policy.tenant_value;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no retention policy for % %', relation,
      coalesce(format('and tenant %L', tenant_value), '(all tenants)') USING ERRCODE = '42704';
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION apivalue.drop_retention_policy(regclass, text) IS
  'removes the retention policy of relation (for all tenants, or for tenant_value); its log stays; needs EXECUTE, which is revoked from PUBLIC';
REVOKE EXECUTE ON FUNCTION apivalue.drop_retention_policy(regclass, text) FROM PUBLIC;

-- The row condition of a policy: time column older than $1 (and tenant =
-- $2), both cast to the columns' own types so indexes serve it.
CREATE FUNCTION apivalue._retention_condition(p apivalue.retention_policies)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  ttype text;
  ctype text;
BEGIN
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.time_column AND NOT a.attisdropped;
  IF p.tenant_column IS NULL THEN
    RETURN format('%s < CAST($1 AS %s)',
                  apivalue._column(p.relation, p.time_column, 'time_column'), ttype);
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ctype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.tenant_column AND NOT a.attisdropped;
  RETURN format('%s < CAST($1 AS %s) AND %s = CAST($2 AS %s)',
                apivalue._column(p.relation, p.time_column, 'time_column'), ttype,
                apivalue._column(p.relation, p.tenant_column, 'tenant_column'), ctype);
END $$;
COMMENT ON FUNCTION apivalue._retention_condition(apivalue.retention_policies) IS
  'internal: SQL condition selecting the rows a policy removes ($1 = cutoff, $2 = tenant value)';

-- pg_partman's schema when it manages relation by the given control column.
CREATE FUNCTION apivalue._partman_schema(relation regclass, control name)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
  sch text;
  managed boolean;
BEGIN
  SELECT n.nspname INTO sch FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = 'pg_partman';
  IF sch IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.part_config WHERE parent_table = $1 AND control = $2)', sch)
    INTO managed
    USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation), control::text;
  RETURN CASE WHEN managed THEN sch END;
END $$;
COMMENT ON FUNCTION apivalue._partman_schema(regclass, name) IS
  'internal: the schema of pg_partman when it manages relation with that control column, else NULL';

-- Partitions of a policy's relation that hold only rows older than cutoff:
-- as pg_partman decides (end of the partition < cutoff) when it manages the
-- table, otherwise direct range partitions on the time column whose upper
-- bound is at most the cutoff.  Never for a per-tenant policy.
CREATE FUNCTION apivalue._retention_old_partitions(p apivalue.retention_policies, cutoff timestamptz)
RETURNS TABLE (part regclass, rows bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  pm text;
  r record;
  ttype text;
  hi text;
  old boolean;
BEGIN
  IF p.tenant_column IS NOT NULL
     OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = p.relation) <> 'p' THEN
    RETURN;
  END IF;
  pm := apivalue._partman_schema(p.relation, p.time_column);
  IF pm IS NOT NULL THEN
    FOR r IN EXECUTE format($q$
      SELECT format('%%I.%%I', s.partition_schemaname, s.partition_tablename)::regclass AS part
      FROM (SELECT partition_interval FROM %1$I.part_config WHERE parent_table = $1) c,
           %1$I.show_partitions($1, 'ASC') s,
           LATERAL %1$I.show_partition_info(s.partition_schemaname || '.' || s.partition_tablename,
                                            c.partition_interval, $1) i
      WHERE i.child_start_time + c.partition_interval::interval < $2 $q$, pm)
      USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p.relation), cutoff
    LOOP
      part := r.part;
      EXECUTE format('SELECT count(*) FROM %s', r.part) INTO rows;
      RETURN NEXT;
    END LOOP;
    RETURN;
  END IF;
  -- Native range partitioning by the time column alone.
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_partitioned_table t
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = t.partrelid AND a.attnum = t.partattrs[0]
                 WHERE t.partrelid = p.relation AND t.partstrat = 'r' AND t.partnatts = 1
                   AND a.attname = p.time_column) THEN
    RETURN;
  END IF;
  SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO ttype FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = p.relation AND a.attname = p.time_column;
  FOR r IN
    SELECT c.oid::regclass AS part, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = p.relation
    ORDER BY c.oid
  LOOP
    hi := substring(r.bound FROM '^FOR VALUES FROM \(.*\) TO \((.*)\)$');
    CONTINUE WHEN hi IS NULL OR hi !~ '^''.*''$';       -- DEFAULT or MAXVALUE
    hi := replace(substr(hi, 2, length(hi) - 2), '''''', '''');
    -- Compared the way rows are: bound <= CAST(cutoff AS column type).
    EXECUTE format('SELECT CAST($1 AS %1$s) <= CAST($2 AS %1$s)', ttype) INTO old USING hi, cutoff;
    CONTINUE WHEN NOT old;
    part := r.part;
    EXECUTE format('SELECT count(*) FROM %s', r.part) INTO rows;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue._retention_old_partitions(apivalue.retention_policies, timestamptz) IS
  'internal: partitions wholly older than the cutoff (pg_partman''s rule when it manages the table) and their row counts';

-- Drops or detaches the old partitions of a policy; returns the partitions
-- removed and their rows.  Through pg_partman's drop_partition_time when it
-- manages the table (it keeps its own bookkeeping and its last partition).
CREATE FUNCTION apivalue._retention_remove_partitions(p apivalue.retention_policies, cutoff timestamptz,
    OUT parts text[], OUT nrows bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  pm text := apivalue._partman_schema(p.relation, p.time_column);
  cand record;
  names text[] := '{}';
  counts bigint[] := '{}';
  oids oid[] := '{}';
  i integer;
BEGIN
  parts := '{}';
  nrows := 0;
  FOR cand IN SELECT * FROM apivalue._retention_old_partitions(p, cutoff) LOOP
    names := names || cand.part::text;
    counts := counts || cand.rows;
    oids := oids || cand.part::oid;
  END LOOP;
  IF cardinality(oids) = 0 THEN
    RETURN;
  END IF;
  IF pm IS NOT NULL THEN
    -- partman's cutoff is reference - retention: the same instant as ours.
    EXECUTE format('SELECT %I.drop_partition_time($1, p_retention => $2, p_keep_table => $3, p_reference_timestamp => $4)', pm)
      USING (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p.relation),
            p.keep, p.partitions = 'detach', cutoff + p.keep;
  ELSE
    FOR i IN 1 .. cardinality(oids) LOOP
      IF p.partitions = 'detach' THEN
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', p.relation, names[i]);
      ELSE
        EXECUTE format('DROP TABLE %s', names[i]);
      END IF;
    END LOOP;
  END IF;
  -- What is no longer a partition of the relation is gone from it.
  FOR i IN 1 .. cardinality(oids) LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = oids[i] AND h.inhparent = p.relation) THEN
      parts := parts || names[i];
      nrows := nrows + counts[i];
    END IF;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue._retention_remove_partitions(apivalue.retention_policies, timestamptz) IS
  'internal: drops or detaches the partitions of a policy wholly older than the cutoff (through pg_partman when it manages the table)';

-- Deletes at most batch_size rows of a policy older than the cutoff, and
-- returns how many.  Rows are picked by (tableoid, ctid) through the
-- relation itself, so its privileges and row-level security apply, and the
-- DELETE re-checks the condition so a newer row is never removed.
CREATE FUNCTION apivalue._retention_delete_batch(p apivalue.retention_policies, cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  cond text := apivalue._retention_condition(p);
  b record;
  n bigint;
  total bigint := 0;
BEGIN
  FOR b IN EXECUTE format('SELECT o, array_agg(c) AS tids FROM (SELECT tableoid AS o, ctid AS c FROM %s WHERE %s LIMIT %s) s GROUP BY o',
                          p.relation, cond, p.batch_size)
    USING cutoff, p.tenant_value
  LOOP
    EXECUTE format('DELETE FROM %s WHERE ctid = ANY ($3) AND tableoid = $4 AND %s', p.relation, cond)
      USING cutoff, p.tenant_value, b.tids, b.o;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;
COMMENT ON FUNCTION apivalue._retention_delete_batch(apivalue.retention_policies, timestamptz) IS
  'internal: deletes one batch (at most batch_size rows) of a policy''s rows older than the cutoff';

-- Marks log entries left 'running' by a run that was interrupted (its
-- session ended, or it is this session, which is not running one now).
CREATE FUNCTION apivalue._retention_mark_interrupted()
RETURNS void LANGUAGE sql VOLATILE AS $$
  UPDATE apivalue.retention_log l SET status = 'interrupted', finished_at = clock_timestamp()
  WHERE l.status = 'running'
    AND (l.pid = pg_catalog.pg_backend_pid()
         OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.pid))
$$;
COMMENT ON FUNCTION apivalue._retention_mark_interrupted() IS
  'internal: marks retention log entries of interrupted runs';

CREATE FUNCTION apivalue.apply_retention_policies(dry_run boolean DEFAULT true)
RETURNS TABLE (relation regclass, tenant text, cutoff timestamptz, rows_affected bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  rid bigint := nextval('apivalue.retention_run_id_seq');
  p apivalue.retention_policies;
  c timestamptz;
  parts text[];
  prow bigint;
  deleted bigint;
  n bigint;
  nb integer;
  e_msg text;
  e_state text;
BEGIN
  IF dry_run IS NULL THEN
    RAISE EXCEPTION 'dry_run must not be NULL' USING ERRCODE = '22004';
  END IF;
  PERFORM apivalue._retention_mark_interrupted();
  FOR p IN SELECT * FROM apivalue.retention_policies q WHERE q.enabled ORDER BY q.policy_id LOOP
    c := now() - p.keep;
    INSERT INTO apivalue.retention_log (run_id, policy_id, relation, tenant, cutoff, dry_run, mode, status)
    VALUES (rid, p.policy_id, p.relation::text, p.tenant_value, c, dry_run, 'function', 'running');
    parts := '{}'; prow := 0; deleted := 0; nb := 0;
    BEGIN
      IF dry_run THEN
        SELECT coalesce(array_agg(o.part::text ORDER BY o.part::text), '{}'), coalesce(sum(o.rows), 0)
        INTO parts, prow FROM apivalue._retention_old_partitions(p, c) o;
        EXECUTE format('SELECT count(*) FROM %s WHERE %s', p.relation, apivalue._retention_condition(p))
          INTO deleted USING c, p.tenant_value;
        deleted := deleted - prow;
      ELSE
        SELECT * INTO parts, prow FROM apivalue._retention_remove_partitions(p, c);
        LOOP
          n := apivalue._retention_delete_batch(p, c);
          EXIT WHEN n = 0;
          deleted := deleted + n;
          nb := nb + 1;
          EXIT WHEN n < p.batch_size;
        END LOOP;
      END IF;
      UPDATE apivalue.retention_log l
      SET status = 'done', rows_affected = prow + deleted, rows_deleted = deleted, partition_rows = prow,
          partitions = parts, batches = nb, finished_at = clock_timestamp()
      WHERE l.run_id = rid AND l.policy_id = p.policy_id;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
      UPDATE apivalue.retention_log l
      SET status = 'error', error = jsonb_build_object('error', e_msg, 'sqlstate', e_state),
          finished_at = clock_timestamp()
      WHERE l.run_id = rid AND l.policy_id = p.policy_id;
      prow := NULL; deleted := NULL;
    END;
    relation := p.relation;
    tenant := p.tenant_value;
    cutoff := c;
    rows_affected := prow + deleted;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION apivalue.apply_retention_policies(boolean) IS
  'applies every enabled retention policy in this transaction (dry_run, the default, only counts): drops or detaches partitions wholly older than now() - keep (through pg_partman when it manages the table), deletes older rows in batches, logs each policy to retention_log; rows_affected NULL when a policy failed (see the log). For large deletions CALL apply_retention_policies_batched(), which commits between batches';

CREATE PROCEDURE apivalue.apply_retention_policies_batched(pause interval DEFAULT '0 seconds',
                                                           INOUT run_id bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := now();
  ids bigint[];
  pol_id bigint;
  p apivalue.retention_policies;
  c timestamptz;
  parts text[];
  prow bigint;
  n bigint;
  failed boolean;
  e_msg text;
  e_state text;
BEGIN
  IF pause IS NULL OR pause < interval '0' THEN
    RAISE EXCEPTION 'pause must be a non-negative interval, got %', coalesce(pause::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  run_id := nextval('apivalue.retention_run_id_seq');
  PERFORM apivalue._retention_mark_interrupted();
  SELECT array_agg(q.policy_id ORDER BY q.policy_id) INTO ids FROM apivalue.retention_policies q WHERE q.enabled;
  -- Every cutoff is taken from the start of the run, whatever the batches take.
  INSERT INTO apivalue.retention_log (run_id, policy_id, relation, tenant, cutoff, dry_run, mode, status)
  SELECT run_id, q.policy_id, q.relation::text, q.tenant_value, started - q.keep, false, 'procedure', 'running'
  FROM apivalue.retention_policies q WHERE q.policy_id = ANY (ids);
  COMMIT;
  FOREACH pol_id IN ARRAY coalesce(ids, '{}') LOOP
    SELECT * INTO p FROM apivalue.retention_policies q WHERE q.policy_id = pol_id;
    c := started - p.keep;
    failed := false;
    BEGIN
      IF p.policy_id IS NULL THEN
        RAISE EXCEPTION 'retention policy % was dropped during the run', pol_id USING ERRCODE = '42704';
      END IF;
      SELECT * INTO parts, prow FROM apivalue._retention_remove_partitions(p, c);
      UPDATE apivalue.retention_log l
      SET partitions = parts, partition_rows = prow, rows_affected = prow
      WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
      failed := true;
    END;
    COMMIT;
    -- One batch per transaction: an interruption loses at most the batch in
    -- flight, which rolls back whole.
    LOOP
      EXIT WHEN failed;
      BEGIN
        n := apivalue._retention_delete_batch(p, c);
        UPDATE apivalue.retention_log l
        SET rows_deleted = l.rows_deleted + n, rows_affected = l.rows_affected + n,
            batches = l.batches + CASE WHEN n > 0 THEN 1 ELSE 0 END
        WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS e_msg = MESSAGE_TEXT, e_state = RETURNED_SQLSTATE;
        failed := true;
      END;
      COMMIT;
      EXIT WHEN failed OR n < p.batch_size;
      IF pause > interval '0' THEN
        PERFORM pg_catalog.pg_sleep(extract(epoch FROM pause));
      END IF;
    END LOOP;
    UPDATE apivalue.retention_log l
    SET status = CASE WHEN failed THEN 'error' ELSE 'done' END,
        error = CASE WHEN failed THEN jsonb_build_object('error', e_msg, 'sqlstate', e_state) END,
        finished_at = clock_timestamp()
    WHERE l.run_id = apply_retention_policies_batched.run_id AND l.policy_id = pol_id;
    COMMIT;
  END LOOP;
END $$;
COMMENT ON PROCEDURE apivalue.apply_retention_policies_batched(interval, bigint) IS
  'applies every enabled retention policy committing after each dropped partition set and each batch (no long transaction, no long lock; optional pause between batches); cutoffs fixed at the start; progress in retention_log; an interrupted run keeps its finished batches and is marked interrupted by the next run. Call it outside a transaction block: CALL apivalue.apply_retention_policies_batched()';

CREATE FUNCTION apivalue.schedule_retention_policies(cron text)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database, so retention cannot be scheduled'
      USING ERRCODE = '55000',
            HINT = 'Install the Debian package postgresql-15-cron, set shared_preload_libraries = ''pg_cron'' and '
                   || 'cron.database_name = (this database) in postgresql.conf, restart PostgreSQL and run CREATE EXTENSION pg_cron; '
                   || 'or CALL apivalue.apply_retention_policies_batched() from another scheduler.';
  END IF;
  IF cron IS NULL OR btrim(cron) = '' THEN
    RAISE EXCEPTION 'cron schedule must not be NULL or empty' USING ERRCODE = '22023',
      HINT = 'For example ''30 3 * * *'' for every night at 03:30.';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'apivalue_retention', cron, 'CALL apivalue.apply_retention_policies_batched()';
  RETURN job;
END $$;
COMMENT ON FUNCTION apivalue.schedule_retention_policies(text) IS
  'schedules CALL apply_retention_policies_batched() with pg_cron as the calling role (job apivalue_retention); a clear error when pg_cron is not installed';

CREATE FUNCTION apivalue.unschedule_retention_policies()
RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  ok boolean;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in this database' USING ERRCODE = '55000';
  END IF;
  EXECUTE 'SELECT cron.unschedule($1)' INTO ok USING 'apivalue_retention';
  RETURN ok;
END $$;
COMMENT ON FUNCTION apivalue.unschedule_retention_policies() IS
  'removes the pg_cron job made by schedule_retention_policies';

-- ---------------------------------------------------------------------------
-- Calibration: canary events at a known cadence.
-- ---------------------------------------------------------------------------

CREATE TYPE apivalue.calibration_window AS (
  window_start timestamptz,
  window_end   timestamptz,
  expected     integer,
  received     bigint,
  max_latency  interval,
  status       text
);
COMMENT ON TYPE apivalue.calibration_window IS
  'one window of calibration_check: canaries expected and received, the largest canary latency, pass/fail/pending';

CREATE FUNCTION apivalue.calibration_check(events regclass, time_column text, canary_condition text,
    every interval, since timestamptz, latency text DEFAULT NULL, max_latency interval DEFAULT NULL,
    until timestamptz DEFAULT NULL)
RETURNS SETOF apivalue.calibration_window
LANGUAGE plpgsql STABLE AS $$
DECLARE
  tcol text := apivalue._column(events, time_column, 'time_column', ARRAY['timestamptz', 'timestamp']::regtype[]);
  cond text := apivalue._condition(events, canary_condition, 'canary_condition');
  lat text;
  newest timestamptz;
  starts timestamptz[];
BEGIN
  IF every IS NULL OR every <= interval '0' OR NOT isfinite(every) THEN
    RAISE EXCEPTION 'every must be a positive interval, got %', coalesce(every::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF since IS NULL THEN
    RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT isfinite(since) THEN
    RAISE EXCEPTION 'since must be a finite timestamp, got %', since USING ERRCODE = '22008';
  END IF;
  IF max_latency IS NOT NULL AND latency IS NULL THEN
    RAISE EXCEPTION 'max_latency needs a latency expression'
      USING ERRCODE = '22023', HINT = 'For example latency => ''received_at - ts''.';
  END IF;
  IF max_latency < interval '0' OR NOT isfinite(max_latency) THEN
    RAISE EXCEPTION 'max_latency must be a non-negative interval, got %', max_latency USING ERRCODE = '22023';
  END IF;
  lat := CASE WHEN latency IS NOT NULL THEN apivalue._expression(events, latency, 'latency', 'interval'::regtype)
              ELSE 'NULL::interval' END;
  IF until IS NOT NULL AND NOT isfinite(until) THEN
    RAISE EXCEPTION 'until must be a finite timestamp, got %', until USING ERRCODE = '22008';
  END IF;
  -- Up to the newest event, but never past now(): a client clock set in the
  -- future must not open windows nobody could have filled yet.
  IF until IS NULL THEN
    EXECUTE format('SELECT max(%s)::timestamptz FROM %s', tcol, events) INTO newest;
    newest := CASE WHEN newest > now() THEN now() ELSE newest END;
  ELSE
    newest := until;
  END IF;
  IF newest IS NULL OR newest < since THEN
    RETURN;
  END IF;
  IF (extract(epoch FROM newest - since) / extract(epoch FROM every)) >= 1000000 THEN
    RAISE EXCEPTION 'calibration over % to % every % has too many windows', since, newest, every
      USING ERRCODE = '54000', HINT = 'Use a later since or a longer every (at most 1000000 windows).';
  END IF;
  starts := ARRAY(SELECT generate_series(since, newest, every));
  -- Canaries are placed in their window by binary search over the starts.
  RETURN QUERY EXECUTE format($q$
    WITH c AS (
      SELECT width_bucket(%1$s::timestamptz, $1) AS w, count(*) AS n, max(%2$s) AS lat
      FROM %3$s
      WHERE %4$s AND %1$s >= $2 AND %1$s < $3
      GROUP BY 1
    )
    SELECT s.ws, s.we, 1, coalesce(c.n, 0), c.lat,
           CASE WHEN c.n IS NULL AND s.we > $4 THEN 'pending'
                WHEN c.n IS NULL OR c.lat > $5 THEN 'fail'
                ELSE 'pass' END
    FROM (SELECT i, $1[i] AS ws, coalesce($1[i + 1], $1[i] + $6) AS we
          FROM generate_subscripts($1, 1) i) s
    LEFT JOIN c ON c.w = s.i
    ORDER BY s.i $q$, tcol, lat, events, cond)
    USING starts, since, starts[cardinality(starts)] + every, newest, max_latency, every;
END $$;
COMMENT ON FUNCTION apivalue.calibration_check(regclass, text, text, interval, timestamptz, text, interval, timestamptz) IS
  'canary windows of length every from since up to until (default: the newest event, at most now()): canaries received in each (one expected), their largest latency; fail when none arrived or latency > max_latency, pending when none arrived yet in a window that has not ended; runs with the caller''s privileges';

CREATE FUNCTION apivalue._quality_run_calibration(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  every interval := (params ->> 'every')::interval;
  since timestamptz := now() - (params ->> 'window')::interval;
  n bigint;
  missing bigint;
  late bigint;
  total bigint;
  bad jsonb;
BEGIN
  -- Windows aligned to multiples of every (when it has no months), so
  -- successive runs judge the same windows.
  IF extract(month FROM every) = 0 AND extract(year FROM every) = 0 THEN
    since := date_bin(every, since, timestamptz '2000-01-01 00:00+00');
  END IF;
  SELECT count(*) FILTER (WHERE w.status = 'fail'),
         count(*) FILTER (WHERE w.status = 'fail' AND w.received = 0),
         count(*) FILTER (WHERE w.status = 'fail' AND w.received > 0),
         count(*),
         jsonb_agg(to_jsonb(w) ORDER BY w.window_start) FILTER (WHERE w.status = 'fail')
  INTO n, missing, late, total, bad
  FROM apivalue.calibration_check(rel, params ->> 'time_column', params ->> 'canary_condition', every, since,
                                  params ->> 'latency', (params ->> 'max_latency')::interval, now()) w;
  observed := n;
  details := jsonb_build_object('windows', total, 'failed', n, 'missing', missing, 'late', late,
                                'every', params ->> 'every', 'since', since,
                                'failed_windows', coalesce((SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(bad) x LIMIT 50) s), '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(bad) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_calibration(regclass, jsonb) IS
  'internal: runner of check kind calibration';

-- A latency limit needs a latency expression.
CREATE FUNCTION apivalue._quality_validate_calibration(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF params ? 'max_latency' AND NOT params ? 'latency' THEN
    RAISE EXCEPTION 'parameter "max_latency" needs parameter "latency"'
      USING ERRCODE = '22023', HINT = 'For example "latency": "received_at - ts".';
  END IF;
  IF params ? 'latency' THEN
    PERFORM apivalue._expression(rel, params ->> 'latency', 'latency', 'interval'::regtype);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_calibration(regclass, jsonb) IS
  'internal: validator of check kind calibration';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, builtin) VALUES
('tracking_plan', 'apivalue._quality_run_tracking_plan(regclass,jsonb)',
 '{"event_column": {"type": "column", "required": true},
   "payload_column": {"type": "column", "required": true, "types": ["jsonb", "json"]},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp", "date"]},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "only events newer than now() - window are checked"}}',
 'findings of tracking_plan_conformance (event, problem, key path)',
 'events that do not follow the approved tracking plan (tracking_plan_conformance)', NULL, true),
('calibration', 'apivalue._quality_run_calibration(regclass,jsonb)',
 '{"time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"]},
   "canary_condition": {"type": "condition", "required": true, "description": "selects the canary events, e.g. event = ''canary''"},
   "every": {"type": "interval", "required": true, "positive": true, "description": "the canary cadence"},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "windows from now() - window (aligned to every) up to the newest event"},
   "latency": {"type": "expression", "description": "canary latency as an interval, e.g. received_at - ts"},
   "max_latency": {"type": "interval", "min": "0"}}',
 'windows whose canary is missing or later than max_latency',
 'end-to-end delivery proven by canary events (calibration_check)',
 'apivalue._quality_validate_calibration(regclass,jsonb)', true);
