-- apivalue.metric_lineage_json: an OpenLineage RunEvent, checked structurally.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE SCHEMA catol;
CREATE TABLE catol.calls (tenant text, ts timestamptz, endpoint text, latency_ms int);
CREATE TABLE catol.tenants (tenant text, region text, secret_notes text);
CREATE VIEW catol.base AS
  SELECT c.tenant, t.region, c.latency_ms FROM catol.calls c JOIN catol.tenants t USING (tenant);
CREATE VIEW catol.p95_latency AS
  SELECT region, percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms
    FROM catol.base GROUP BY region;
SELECT apivalue.define_metric('catol_p95_latency', 'catol.p95_latency',
                              '95th percentile latency by region', 'sre', 'ms', 'region');

CREATE TEMP TABLE ev AS SELECT apivalue.metric_lineage_json('catol_p95_latency') AS j;

-- Top level: required keys and their JSON types.
SELECT k, jsonb_typeof(j -> k) AS type
  FROM ev, unnest(ARRAY['eventType', 'eventTime', 'producer', 'schemaURL',
                        'run', 'job', 'inputs', 'outputs']) AS k
 ORDER BY k;
SELECT j ->> 'eventType' AS event_type,
       (j ->> 'eventTime')::timestamptz BETWEEN now() - interval '1 minute' AND now() + interval '1 minute' AS event_time_now,
       j ->> 'eventTime' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS event_time_iso,
       j ->> 'producer' ~ '^urn:apivalue:' AS producer_uri,
       j ->> 'schemaURL' ~ '^https://openlineage\.io/spec/.*/OpenLineage\.json#/\$defs/RunEvent$' AS schema_url,
       (j #>> '{run,runId}')::uuid IS NOT NULL AS run_id_is_uuid
  FROM ev;

-- Every call is a new run.
SELECT apivalue.metric_lineage_json('catol_p95_latency') #>> '{run,runId}'
       <> (SELECT j #>> '{run,runId}' FROM ev) AS new_run_id;

-- Job: namespace and name, SQL facet = the live definition.
SELECT j #>> '{job,namespace}' = 'postgres://' || current_database() AS job_namespace,
       j #>> '{job,name}' AS job_name,
       j #>> '{job,facets,sql,query}' = (SELECT definition_sql FROM apivalue.metric_catalog
                                          WHERE name = 'catol_p95_latency') AS sql_facet,
       j #>> '{job,facets,documentation,description}' AS documentation,
       j #> '{job,facets,ownership,owners}' AS owners
  FROM ev;

-- Every facet carries _producer and _schemaURL.
SELECT f.path, f.facet ? '_producer' AND f.facet ? '_schemaURL' AS has_base_keys,
       f.facet ->> '_schemaURL' ~ '^https://openlineage\.io/spec/facets/' AS schema_url
  FROM ev, LATERAL (
    SELECT 'job.' || key AS path, value AS facet FROM jsonb_each(j #> '{job,facets}')
    UNION ALL
    SELECT 'inputs[' || (d ->> 'name') || '].' || f.key, f.value
      FROM jsonb_array_elements(j -> 'inputs') d, jsonb_each(d -> 'facets') f
    UNION ALL
    SELECT 'outputs[' || (d ->> 'name') || '].' || f.key, f.value
      FROM jsonb_array_elements(j -> 'outputs') d, jsonb_each(d -> 'facets') f) f
 ORDER BY f.path;

-- Inputs: one dataset per base table, namespace postgres://<db>, name
-- schema.table, schema facet listing the table's columns in order.
SELECT d ->> 'namespace' = 'postgres://' || current_database() AS namespace_ok,
       d ->> 'name' AS name,
       (SELECT string_agg((f ->> 'name') || ' ' || (f ->> 'type'), ', ' ORDER BY o)
          FROM jsonb_array_elements(d #> '{facets,schema,fields}') WITH ORDINALITY AS x(f, o)) AS fields
  FROM ev, jsonb_array_elements(j -> 'inputs') d
 ORDER BY 2;
SELECT jsonb_array_length(j -> 'inputs') =
       (SELECT cardinality(sources) FROM apivalue.metric_catalog WHERE name = 'catol_p95_latency')
       AS one_input_per_source
  FROM ev;

-- Output: the metric's view with its schema.
SELECT jsonb_array_length(j -> 'outputs') AS outputs,
       j #>> '{outputs,0,namespace}' = 'postgres://' || current_database() AS namespace_ok,
       j #>> '{outputs,0,name}' AS name,
       j #> '{outputs,0,facets,schema,fields}' AS fields
  FROM ev;

-- Column lineage: one entry per output column; each input field has
-- namespace, name and field as strings, names a column of an input dataset,
-- and the set equals the metric's lineage columns.
SELECT c.key AS output_column,
       jsonb_array_length(c.value -> 'inputFields') AS input_fields,
       bool_and(jsonb_typeof(i -> 'namespace') = 'string' AND jsonb_typeof(i -> 'name') = 'string'
                AND jsonb_typeof(i -> 'field') = 'string') AS typed,
       bool_and(EXISTS (SELECT 1 FROM jsonb_array_elements(j -> 'inputs') d,
                             jsonb_array_elements(d #> '{facets,schema,fields}') f
                        WHERE d ->> 'namespace' = i ->> 'namespace'
                          AND d ->> 'name' = i ->> 'name' AND f ->> 'name' = i ->> 'field')) AS resolves
  FROM ev, jsonb_each(j #> '{outputs,0,facets,columnLineage,fields}') c,
       jsonb_array_elements(c.value -> 'inputFields') i
 GROUP BY c.key, c.value ORDER BY c.key;
SELECT (SELECT array_agg(x ORDER BY x) FROM (
          SELECT (i ->> 'name') || '.' || (i ->> 'field') AS x
            FROM jsonb_array_elements(j #> '{outputs,0,facets,columnLineage,fields,p95_ms,inputFields}') i) s)
       = (SELECT array_agg(x ORDER BY x) FROM (
            SELECT format('%s.%s', n.nspname, c.relname) || '.' || l.source_column AS x
              FROM apivalue.metric_lineage l JOIN pg_class c ON c.oid = l.source_table
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE l.metric_name = 'catol_p95_latency') s) AS matches_metric_lineage,
       (SELECT string_agg((i ->> 'name') || '.' || (i ->> 'field'), ', ' ORDER BY i ->> 'name', i ->> 'field')
          FROM jsonb_array_elements(j #> '{outputs,0,facets,columnLineage,fields,p95_ms,inputFields}') i) AS p95_inputs
  FROM ev;

-- A caller-chosen namespace replaces the default everywhere.
SELECT array_agg(DISTINCT v ORDER BY v) AS namespaces
  FROM jsonb_path_query(apivalue.metric_lineage_json('catol_p95_latency', 'postgres://db.example:5432'),
                        'strict $.**.namespace') v;

-- Quoted identifiers stay readable: names are schema.table as stored.
CREATE TABLE catol."Mixed Case" ("User Id" text);
CREATE VIEW catol.mixed AS SELECT count(DISTINCT "User Id") AS users FROM catol."Mixed Case";
SELECT apivalue.define_metric('catol_mixed', 'catol.mixed', 'distinct users', 'growth', 'users');
SELECT apivalue.metric_lineage_json('catol_mixed') #> '{inputs,0,name}' AS input_name,
       (apivalue.metric_lineage_json('catol_mixed') #> '{outputs,0,facets,columnLineage,fields,users,inputFields,0}') - 'namespace' AS input_field;

DROP SCHEMA catol CASCADE;
DELETE FROM apivalue.metric_history WHERE name LIKE 'catol\_%';
