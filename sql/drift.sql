-- ===========================================================================
-- Schema drift and sampling bias (SPEC.md section 6b): the shape of jsonb
-- payloads and how it changes, and loss of events per client segment, as
-- functions and as quality check kinds.  C in src/jsonb_shape.c; the loss
-- per device reuses apivalue.sequence_summary (sql/quality.sql).
-- Manual: README.md, "Schema drift and sampling bias".
-- ===========================================================================

-- ---------------------------------------------------------------------------
-- jsonb_shape: state type, aggregates
-- ---------------------------------------------------------------------------

-- The state is internal (a trie of key paths in the aggregate context, see
-- src/jsonb_shape.c) with serialize/deserialize for parallel workers.  Its
-- two-step form for engines that cannot ship internal states (Citus): the
-- jsonb that jsonb_shape returns, merged exactly by jsonb_shape_merge.
CREATE FUNCTION apivalue._jsonb_shape_accum(internal, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_accum(internal, jsonb) IS
  'internal: transition function of jsonb_shape(jsonb)';
CREATE FUNCTION apivalue._jsonb_shape_accum(internal, jsonb, integer)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_accum(internal, jsonb, integer) IS
  'internal: transition function of jsonb_shape(jsonb, integer)';
CREATE FUNCTION apivalue._jsonb_shape_merge_accum(internal, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_merge_accum'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_merge_accum(internal, jsonb) IS
  'internal: transition function of jsonb_shape_merge';
CREATE FUNCTION apivalue._jsonb_shape_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_combine'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_combine(internal, internal) IS
  'internal: combine function of jsonb_shape and jsonb_shape_merge (adds counts: exact)';
CREATE FUNCTION apivalue._jsonb_shape_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_serialize(internal) IS
  'internal: serialize function of jsonb_shape and jsonb_shape_merge (versioned flat form)';
CREATE FUNCTION apivalue._jsonb_shape_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_deserialize(bytea, internal) IS
  'internal: deserialize function of jsonb_shape and jsonb_shape_merge (checks the bytes)';
CREATE FUNCTION apivalue._jsonb_shape_final(internal)
RETURNS jsonb AS 'MODULE_PATHNAME', 'apivalue_jsonb_shape_final'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._jsonb_shape_final(internal) IS
  'internal: final function of jsonb_shape and jsonb_shape_merge (the shape as jsonb)';

CREATE AGGREGATE apivalue.jsonb_shape(payload jsonb) (
  SFUNC = apivalue._jsonb_shape_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape(jsonb) IS
  'shape of jsonb payloads, 3 levels deep: {"_rows": n, "a.b": {"rows": k, "<json type>": count, ...}}; NULL payloads skipped';

CREATE AGGREGATE apivalue.jsonb_shape(payload jsonb, max_depth integer) (
  SFUNC = apivalue._jsonb_shape_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape(jsonb, integer) IS
  'shape of jsonb payloads down to max_depth levels of nested objects (1 = top-level keys only); NULL payloads skipped';

CREATE AGGREGATE apivalue.jsonb_shape_merge(shape jsonb) (
  SFUNC = apivalue._jsonb_shape_merge_accum, STYPE = internal, SSPACE = 4096,
  COMBINEFUNC = apivalue._jsonb_shape_combine,
  SERIALFUNC = apivalue._jsonb_shape_serialize, DESERIALFUNC = apivalue._jsonb_shape_deserialize,
  FINALFUNC = apivalue._jsonb_shape_final, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.jsonb_shape_merge(jsonb) IS
  'merges shapes made by jsonb_shape exactly (adds row and type counts per key path): rollups of stored shapes, and the second step of jsonb_shape on Citus';

CREATE FUNCTION apivalue._normal_upper_tail(z float8) RETURNS float8
  AS 'MODULE_PATHNAME', 'apivalue_drift_normal_upper_tail' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apivalue._normal_upper_tail(float8) IS
  'internal: P(Z > z) for a standard normal Z (0.5 erfc(z / sqrt 2))';

-- ---------------------------------------------------------------------------
-- schema_drift
-- ---------------------------------------------------------------------------

-- The work of schema_drift, with an optional lower time bound (the trailing
-- window of the check kind).  One scan: one shape per (group, side).
CREATE FUNCTION apivalue._schema_drift(events regclass, payload_column text, time_column text,
    split_at timestamptz, group_column text, min_change float8, since timestamptz)
RETURNS TABLE (group_value text, key_path text, change text, before_share float8,
               after_share float8, before_types jsonb, after_types jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  p text := apivalue._column(events, payload_column, 'payload_column', ARRAY['jsonb'::regtype]);
  t text := apivalue._column(events, time_column, 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  g text := CASE WHEN group_column IS NULL THEN 'NULL::text'
                 ELSE apivalue._column(events, group_column, 'group_column') || '::text' END;
BEGIN
  IF split_at IS NULL THEN
    RAISE EXCEPTION 'split_at must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF NOT isfinite(split_at) OR NOT isfinite(coalesce(since, '2000-01-01')) THEN
    RAISE EXCEPTION 'split_at must be finite, got "%"', CASE WHEN isfinite(split_at) THEN since ELSE split_at END
      USING ERRCODE = '22008', HINT = 'Pass the time the new version shipped.';
  END IF;
  IF min_change IS NULL OR NOT (min_change >= 0 AND min_change <= 1) THEN
    RAISE EXCEPTION 'min_change must be between 0 and 1, got %', coalesce(min_change::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'It is a share of rows: 0.05 ignores moves of less than 5 points.';
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH s AS (
      SELECT %1$s AS g, %2$s >= $1 AS after, apivalue.jsonb_shape(%3$s) AS shape
      FROM %4$s
      WHERE %2$s IS NOT NULL AND ($3::timestamptz IS NULL OR %2$s >= $3::timestamptz)
      GROUP BY 1, 2),
    pairs AS (
      SELECT b.g, b.shape AS bs, a.shape AS fs,
             (b.shape ->> '_rows')::float8 AS bn, (a.shape ->> '_rows')::float8 AS an
      FROM s b JOIN s a ON a.g IS NOT DISTINCT FROM b.g AND a.after AND NOT b.after
      WHERE (b.shape ->> '_rows')::bigint > 0 AND (a.shape ->> '_rows')::bigint > 0),
    k AS (
      SELECT pr.g, x.path, pr.bn, pr.an,
             coalesce((pr.bs -> x.path ->> 'rows')::float8, 0) AS br,
             coalesce((pr.fs -> x.path ->> 'rows')::float8, 0) AS ar,
             coalesce(pr.bs -> x.path, '{}') - 'rows' AS bt,
             coalesce(pr.fs -> x.path, '{}') - 'rows' AS ft
      FROM pairs pr,
           LATERAL (SELECT jsonb_object_keys(pr.bs) UNION SELECT jsonb_object_keys(pr.fs)) x(path)
      WHERE x.path <> '_rows'),
    c AS (
      SELECT k.*, k.br / k.bn AS bsh, k.ar / k.an AS ash,
             k.br > 0 AND k.ar > 0 AND EXISTS (
               SELECT 1
               FROM (SELECT jsonb_object_keys(k.bt) UNION SELECT jsonb_object_keys(k.ft)) ty(ty),
                    LATERAL (SELECT abs(coalesce((k.bt ->> ty.ty)::float8, 0) / k.br
                                        - coalesce((k.ft ->> ty.ty)::float8, 0) / k.ar) AS d) m
               WHERE m.d >= $2 AND m.d > 0) AS types_moved
      FROM k),
    r AS (
      SELECT c.*,
             CASE
               WHEN c.br = 0 THEN CASE WHEN c.ash >= $2 THEN 'added' END
               WHEN c.ar = 0 THEN CASE WHEN c.bsh >= $2 THEN 'removed' END
               WHEN c.types_moved THEN 'type_changed'
               WHEN abs(c.ash - c.bsh) >= $2 AND c.ash <> c.bsh THEN 'presence_changed'
             END AS change
      FROM c)
    SELECT r.g, r.path, r.change, r.bsh, r.ash, r.bt, r.ft
    FROM r WHERE r.change IS NOT NULL
    ORDER BY r.g COLLATE "C" NULLS FIRST, r.path COLLATE "C" $q$, g, t, p, events)
    USING split_at, min_change, since;
END $$;
COMMENT ON FUNCTION apivalue._schema_drift(regclass, text, text, timestamptz, text, float8, timestamptz) IS
  'internal: schema_drift over rows with time >= since (all rows when since is NULL)';

CREATE FUNCTION apivalue.schema_drift(events regclass, payload_column text, time_column text,
    split_at timestamptz, group_column text DEFAULT NULL, min_change float8 DEFAULT 0.05)
RETURNS TABLE (group_value text, key_path text, change text, before_share float8,
               after_share float8, before_types jsonb, after_types jsonb)
LANGUAGE sql STABLE AS $$
  SELECT * FROM apivalue._schema_drift(events, payload_column, time_column, split_at,
                                       group_column, min_change, NULL)
$$;
COMMENT ON FUNCTION apivalue.schema_drift(regclass, text, text, timestamptz, text, float8) IS
  'key paths of a jsonb payload whose shape changed at split_at, per group: added, removed, type_changed (the share of a JSON type moved by min_change or more) or presence_changed (the share of rows carrying it moved by min_change or more)';

-- ---------------------------------------------------------------------------
-- delivery_by_segment
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._delivery_by_segment(events regclass, device_column text, seq_column text,
    segment_column text, time_column text, since timestamptz)
RETURNS TABLE (segment text, devices bigint, received bigint, expected bigint, loss_rate float8,
               p_value float8, flagged boolean)
LANGUAGE plpgsql STABLE
-- One sequence summary per (segment, device), hashed: the summary is a plain
-- varlena with no memory context of its own, so hash aggregation's memory
-- accounting stays linear (an earlier state had one context per group, and
-- this function forced a sort of every row instead: 3.5x the scan floor).
AS $$
DECLARE
  d text := apivalue._column(events, device_column, 'device_column');
  s text := apivalue._column(events, seq_column, 'seq_column',
                             ARRAY['bigint'::regtype, 'integer'::regtype, 'smallint'::regtype]);
  g text := apivalue._column(events, segment_column, 'segment_column');
  w text := '';
BEGIN
  IF since IS NOT NULL THEN
    IF NOT isfinite(since) THEN
      RAISE EXCEPTION 'since must be finite, got "%"', since USING ERRCODE = '22008';
    END IF;
    w := format(' AND %s >= $1', apivalue._column(events, time_column, 'time_column',
                                                  ARRAY['timestamptz'::regtype, 'timestamp'::regtype]));
  END IF;
  -- Per (segment, device): the sequence summary of the quality module gives
  -- expected = max - min + 1 and received = distinct numbers.  Per segment,
  -- a one-sided two-proportion z-test of its loss rate against all the
  -- other segments' with device-clustered (sandwich) standard errors: the
  -- events of one device are not independent trials, so a single device
  -- that lost a burst is one incident, not hundreds of losses.  For a ratio
  -- p = sum(lost) / sum(expected) over m devices,
  --   var(p) = m / (m - 1) * sum((lost_d - p * expected_d)^2) / sum(expected)^2,
  -- expanded into sums so that "all the others" is the total minus the
  -- segment.  Either side with fewer than 2 devices cannot be tested.
  RETURN QUERY EXECUTE format($q$
    WITH d AS (
      SELECT %1$s::text AS seg, apivalue.sequence_summary(%2$s::bigint) AS sm
      FROM %4$s
      WHERE %3$s IS NOT NULL AND %2$s IS NOT NULL%5$s
      GROUP BY %1$s, %3$s),
    c AS (
      SELECT d.seg, apivalue.received_count(d.sm) AS r, apivalue.expected_count(d.sm) AS e
      FROM d),
    g AS (
      SELECT c.seg, count(*) AS m, sum(c.r)::bigint AS received, sum(c.e)::bigint AS expected,
             sum(c.e - c.r)::numeric AS l, sum((c.e - c.r)::numeric * (c.e - c.r)) AS l2,
             sum((c.e - c.r)::numeric * c.e) AS le, sum(c.e::numeric * c.e) AS e2
      FROM c GROUP BY c.seg),
    t AS (
      SELECT g.*,
             sum(g.m) OVER () - g.m AS m_r, sum(g.expected) OVER () - g.expected AS e_r,
             sum(g.l) OVER () - g.l AS l_r, sum(g.l2) OVER () - g.l2 AS l2_r,
             sum(g.le) OVER () - g.le AS le_r, sum(g.e2) OVER () - g.e2 AS e2_r
      FROM g),
    v AS (
      SELECT t.*, t.l::float8 / t.expected AS p_i,
             CASE WHEN t.e_r > 0 THEN t.l_r::float8 / t.e_r END AS p_r
      FROM t),
    w AS (
      SELECT v.*,
             CASE WHEN v.m >= 2 AND v.m_r >= 2 THEN
               v.m::float8 / (v.m - 1)
                 * greatest(v.l2::float8 - 2 * v.p_i * v.le::float8 + v.p_i * v.p_i * v.e2::float8, 0)
                 / (v.expected::float8 * v.expected)
               + v.m_r::float8 / (v.m_r - 1)
                 * greatest(v.l2_r::float8 - 2 * v.p_r * v.le_r::float8 + v.p_r * v.p_r * v.e2_r::float8, 0)
                 / (v.e_r::float8 * v.e_r)
             END AS var
      FROM v)
    SELECT w.seg, w.m, w.received, w.expected, w.p_i,
           pv.p, coalesce(pv.p < 0.01, false)
    FROM w, LATERAL (
      SELECT CASE WHEN w.var IS NULL THEN NULL
                  WHEN w.var = 0 THEN CASE WHEN w.p_i > w.p_r THEN 0.0::float8 ELSE 1.0::float8 END
                  ELSE apivalue._normal_upper_tail((w.p_i - w.p_r) / sqrt(w.var)) END AS p) pv
    ORDER BY w.seg COLLATE "C" NULLS FIRST $q$, g, s, d, events, w)
    USING since;
END $$;
COMMENT ON FUNCTION apivalue._delivery_by_segment(regclass, text, text, text, text, timestamptz) IS
  'internal: delivery_by_segment over rows with time >= since (all rows when since is NULL)';

CREATE FUNCTION apivalue.delivery_by_segment(events regclass, device_column text, seq_column text,
    segment_column text)
RETURNS TABLE (segment text, devices bigint, received bigint, expected bigint, loss_rate float8,
               p_value float8, flagged boolean)
LANGUAGE sql STABLE AS $$
  SELECT * FROM apivalue._delivery_by_segment(events, device_column, seq_column, segment_column,
                                              NULL, NULL)
$$;
COMMENT ON FUNCTION apivalue.delivery_by_segment(regclass, text, text, text) IS
  'events each segment should have delivered (per-device sequence ranges) against those received; flagged when its loss rate is significantly above the other segments'' (one-sided two-proportion z-test with device-clustered standard errors, p < 0.01; NULL p_value when either side has fewer than 2 devices)';

-- ---------------------------------------------------------------------------
-- Check kinds schema_drift and delivery_bias (registry: sql/quality.sql)
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._quality_validate_schema_drift(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF (params ->> 'min_change')::float8 > 1 THEN
    RAISE EXCEPTION 'parameter "min_change" must be between 0 and 1, got %', params ->> 'min_change'
      USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_schema_drift(regclass, jsonb) IS
  'internal: validator of check kind schema_drift';

CREATE FUNCTION apivalue._quality_run_schema_drift(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  newest timestamptz;
  split timestamptz;
  since timestamptz;
  n bigint;
  changes jsonb;
  keys jsonb;
BEGIN
  -- Columns are checked even when there is nothing to compare.
  PERFORM apivalue._column(rel, params ->> 'payload_column', 'payload_column', ARRAY['jsonb'::regtype]);
  IF params ? 'group_column' THEN
    PERFORM apivalue._column(rel, params ->> 'group_column', 'group_column');
  END IF;
  EXECUTE format('SELECT max(%s)::timestamptz FROM %s',
                 apivalue._column(rel, params ->> 'time_column'), rel) INTO newest;
  details := jsonb_build_object('window', params ->> 'window', 'baseline', params ->> 'baseline',
                                'newest', newest);
  IF newest IS NULL THEN
    observed := 0;
    details := details || jsonb_build_object('changes_found', 0, 'changes', '[]'::jsonb, 'keys', '[]'::jsonb);
    RETURN;
  END IF;
  split := newest - (params ->> 'window')::interval;
  since := split - (params ->> 'baseline')::interval;
  SELECT count(*),
         jsonb_agg(to_jsonb(d) - 'rn' ORDER BY d.rn) FILTER (WHERE d.rn <= 50),
         jsonb_agg(DISTINCT jsonb_build_object('group_value', d.group_value, 'key_path', d.key_path,
                                               'change', d.change))
  INTO n, changes, keys
  FROM (SELECT x.*, row_number() OVER (ORDER BY x.group_value COLLATE "C" NULLS FIRST,
                                                x.key_path COLLATE "C") AS rn
        FROM apivalue._schema_drift(rel, params ->> 'payload_column', params ->> 'time_column', split,
                                    params ->> 'group_column', (params ->> 'min_change')::float8,
                                    since) x) d;
  observed := n;
  details := details || jsonb_build_object('split_at', split, 'since', since, 'changes_found', n,
                                           'keys', coalesce(keys, '[]'), 'changes', coalesce(changes, '[]'));
  sample := (SELECT jsonb_agg(x) FROM (SELECT x FROM jsonb_array_elements(changes) x LIMIT 5) s);
END $$;
COMMENT ON FUNCTION apivalue._quality_run_schema_drift(regclass, jsonb) IS
  'internal: runner of check kind schema_drift (the trailing window against the baseline before it)';

CREATE FUNCTION apivalue._quality_validate_delivery_bias(rel regclass, params jsonb)
RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF (params ? 'window') <> (params ? 'time_column') THEN
    RAISE EXCEPTION 'parameters "window" and "time_column" of check kind delivery_bias go together'
      USING ERRCODE = '22023',
            HINT = 'Give both to look at the trailing window only, or neither for all events.';
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_validate_delivery_bias(regclass, jsonb) IS
  'internal: validator of check kind delivery_bias';

CREATE FUNCTION apivalue._quality_run_delivery_bias(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  since timestamptz;
  n bigint;
  flagged jsonb;
  names text[];
  segs jsonb;
BEGIN
  IF params ? 'window' THEN
    EXECUTE format('SELECT max(%s)::timestamptz FROM %s',
                   apivalue._column(rel, params ->> 'time_column'), rel) INTO since;
    since := coalesce(since - (params ->> 'window')::interval, '-infinity');
    IF NOT isfinite(since) THEN
      since := NULL;
    END IF;
  END IF;
  SELECT count(*) FILTER (WHERE s.flagged),
         jsonb_agg(to_jsonb(s) ORDER BY s.segment COLLATE "C" NULLS FIRST) FILTER (WHERE s.flagged),
         array_agg(s.segment ORDER BY s.segment COLLATE "C" NULLS FIRST) FILTER (WHERE s.flagged),
         jsonb_agg(to_jsonb(s) ORDER BY s.segment COLLATE "C" NULLS FIRST)
  INTO n, flagged, names, segs
  FROM apivalue._delivery_by_segment(rel, params ->> 'device_column', params ->> 'seq_column',
                                     params ->> 'segment_column', params ->> 'time_column', since) s;
  observed := n;
  details := jsonb_build_object('flagged_segments', n, 'flagged', coalesce(flagged, '[]'),
                                'segments', coalesce(segs, '[]'))
             || CASE WHEN since IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('since', since) END;
  IF n > 0 THEN
    sample := apivalue._quality_sample(rel,
      format('%s::text = ANY ($1)', apivalue._column(rel, params ->> 'segment_column')),
      format('%s, %s', apivalue._column(rel, params ->> 'device_column'),
             apivalue._column(rel, params ->> 'seq_column')), names);
  END IF;
END $$;
COMMENT ON FUNCTION apivalue._quality_run_delivery_bias(regclass, jsonb) IS
  'internal: runner of check kind delivery_bias';

INSERT INTO apivalue.quality_check_kinds (kind, runner, parameters, observed, description, validator, max_threshold, builtin) VALUES
('schema_drift', 'apivalue._quality_run_schema_drift(regclass,jsonb)',
 '{"payload_column": {"type": "column", "required": true, "types": ["jsonb"]},
   "time_column": {"type": "column", "required": true, "types": ["timestamptz", "timestamp"],
                   "description": "preferably the server clock (received_at): the window ends at its newest value"},
   "group_column": {"type": "column", "description": "compare shapes per value of this column (event name, api_version)"},
   "window": {"type": "interval", "default": "1 day", "positive": true,
              "description": "the trailing window: events newer than (newest - window)"},
   "baseline": {"type": "interval", "default": "7 days", "positive": true,
                "description": "the period before the window its shape is compared with"},
   "min_change": {"type": "number", "default": 0.05, "min": 0,
                  "description": "smallest move of a presence or type share that is reported (0 to 1)"}}',
 'key paths whose shape changed (added, removed, type_changed, presence_changed) in the trailing window',
 'schema drift of a jsonb payload: trailing window against the baseline before it (schema_drift)',
 'apivalue._quality_validate_schema_drift(regclass,jsonb)', NULL, true),
('delivery_bias', 'apivalue._quality_run_delivery_bias(regclass,jsonb)',
 '{"device_column": {"type": "column", "required": true},
   "seq_column": {"type": "column", "required": true, "types": ["bigint", "integer", "smallint"]},
   "segment_column": {"type": "column", "required": true,
                      "description": "the client segment: SDK version, platform, tenant"},
   "time_column": {"type": "column", "types": ["timestamptz", "timestamp"]},
   "window": {"type": "interval", "positive": true,
              "description": "with time_column: only events newer than (newest - window)"}}',
 'segments losing significantly more events than the others (p < 0.01)',
 'sampling bias: event loss per client segment from sequence numbers (delivery_by_segment)',
 'apivalue._quality_validate_delivery_bias(regclass,jsonb)', NULL, true);
