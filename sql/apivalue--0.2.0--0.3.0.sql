-- apivalue 0.2.0 -> 0.3.0
--
-- Every change to an object of the extension since the frozen 0.2.0
-- install script is repeated here (append only, under a comment line
-- naming the branch); test/layers/upgrade.sh checks that ALTER EXTENSION
-- apivalue UPDATE yields exactly the objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.3.0'" to load this file. \quit

-- quality3: _quality_run_duplicates groups the keys once (was twice, through duplicate_rate and duplicate_keys)
CREATE OR REPLACE FUNCTION apivalue._quality_run_duplicates(rel regclass, params jsonb,
    OUT observed float8, OUT details jsonb, OUT sample jsonb)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tol interval := (params->>'tolerance')::interval;
  k text := apivalue._expression(rel, params->>'key', 'key');
  t text := apivalue._column(rel, params->>'time_column', 'time_column',
                             ARRAY['timestamptz'::regtype, 'timestamp'::regtype]);
  n bigint;
  dups bigint;
  offending bigint;
  keys jsonb;
  ids text[];
BEGIN
  -- What duplicate_rate and duplicate_keys report, with the keys grouped
  -- once (the rate is the sum over the offending keys).
  EXECUTE format('SELECT count(*) FROM %s WHERE %s IS NOT NULL%s', rel, k,
                 CASE WHEN tol IS NULL THEN '' ELSE format(' AND %s IS NOT NULL', t) END)
    INTO n;
  SELECT coalesce(sum(d.duplicates), 0)::bigint, count(*),
         jsonb_agg(to_jsonb(d.r) ORDER BY d.key_value) FILTER (WHERE d.rn <= 20),
         array_agg(d.key_value ORDER BY d.key_value) FILTER (WHERE d.rn <= 20)
  INTO dups, offending, keys, ids
  FROM (SELECT dk AS r, dk.key_value, dk.duplicates,
               row_number() OVER (ORDER BY dk.key_value) AS rn
        FROM apivalue.duplicate_keys(rel, params->>'key', params->>'time_column', tol) dk) d;
  observed := dups;
  details := jsonb_build_object('rows', n, 'duplicates', dups,
                                'duplicate_rate', CASE WHEN n > 0 THEN dups::float8 / n END,
                                'offending_keys', offending, 'keys', coalesce(keys, '[]'))
             || CASE WHEN tol IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('tolerance', tol::text) END;
  IF dups > 0 THEN
    sample := apivalue._quality_sample(rel, format('%s::text = ANY ($1)', k),
                                       format('%s::text, %s', k, t), ids);
  END IF;
END $$;
