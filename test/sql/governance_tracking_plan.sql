-- Tracking plan: versioned event definitions, approval as a privilege, the
-- conformance report on payloads with planted violations of every kind,
-- row-level security, and the check kind tracking_plan.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- SQLSTATE (and message) of a statement, or ok.
CREATE FUNCTION gov_tp_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The catalog is dumped with the user's data.
SELECT c.relname
FROM pg_extension e, unnest(e.extconfig) x JOIN pg_class c ON c.oid = x
WHERE e.extname = 'apivalue' AND (c.relname LIKE 'event%' OR c.relname LIKE 'retention%')
ORDER BY 1;
SELECT has_function_privilege('public', 'apivalue.approve_event(text,integer)', 'EXECUTE') AS public_may_approve,
       has_function_privilege('public', 'apivalue.deprecate_event(text)', 'EXECUTE') AS public_may_deprecate,
       has_function_privilege('public', 'apivalue.propose_event(text,text,text,jsonb)', 'EXECUTE') AS public_may_propose;

CREATE ROLE regress_gov_tp_user;
CREATE ROLE regress_gov_tp_steward;
GRANT EXECUTE ON FUNCTION apivalue.approve_event(text, integer) TO regress_gov_tp_steward;

-- Anyone proposes; the proposal is stamped with the real role.
SET ROLE regress_gov_tp_user;
SELECT name, version, status, owner, proposed_by = current_user AS stamped, approved_by
FROM apivalue.propose_event('signup', 'growth', 'a developer account is created',
  '{"source": {"type": "string", "required": true},
    "country": {"type": "string", "required": true},
    "client.version": {"type": "number"},
    "referrer": {"type": ["string", "null"], "description": "the referring site"}}');
-- an ordinary role cannot approve, deprecate, or go around the functions
SELECT gov_tp_try($$SELECT apivalue.approve_event('signup')$$) AS user_approve;
SELECT gov_tp_try($$SELECT apivalue.deprecate_event('signup')$$) AS user_deprecate;
SELECT gov_tp_try($$UPDATE apivalue.event_definitions SET status = 'approved' WHERE name = 'signup'$$) AS user_update_status;
SELECT gov_tp_try($$UPDATE apivalue.event_definitions SET description = 'x' WHERE name = 'signup'$$) AS user_update_description;
SELECT gov_tp_try($$INSERT INTO apivalue.event_definitions (name, version, status) VALUES ('sneaky', 1, 'approved')$$) AS user_insert_approved;
SELECT gov_tp_try($$DELETE FROM apivalue.event_definitions$$) AS user_delete;
RESET ROLE;
-- a steward with the grant approves
SET ROLE regress_gov_tp_steward;
SELECT name, version, status, approved_by = current_user AS approved_by_steward, approved_at IS NOT NULL AS when_recorded
FROM apivalue.approve_event('signup');
RESET ROLE;

-- The rest of the plan (as the owner).
SELECT version, status FROM apivalue.propose_event('api_call', 'platform', 'an API request',
  '{"endpoint": {"type": "string", "required": true}, "status": {"type": "number", "required": true},
    "client": {"type": "object"}}');
SELECT version, status FROM apivalue.approve_event('api_call', 1);
SELECT version, status FROM apivalue.propose_event('beta_feature', 'labs', 'not approved yet', '{}');
SELECT version, status FROM apivalue.propose_event('legacy_call', 'platform', 'the v0 call', '{"x": {"type": "number"}}');
SELECT version, status FROM apivalue.approve_event('legacy_call');
SELECT apivalue.deprecate_event('legacy_call') AS deprecated_versions;
SELECT name, version, status, pending_version FROM apivalue.tracking_plan ORDER BY name;

-- Definitions are immutable and status moves forward only.
SELECT gov_tp_try($$UPDATE apivalue.event_definitions SET properties = '{}' WHERE name = 'signup'$$) AS rewrite_properties;
SELECT gov_tp_try($$UPDATE apivalue.event_definitions SET status = 'proposed' WHERE name = 'signup'$$) AS status_backwards;
SELECT gov_tp_try($$SELECT apivalue.approve_event('legacy_call', 1)$$) AS approve_deprecated;
SELECT gov_tp_try($$SELECT apivalue.approve_event('nothing')$$) AS approve_unknown;
SELECT gov_tp_try($$SELECT apivalue.approve_event('signup', 7)$$) AS approve_missing_version;
SELECT gov_tp_try($$SELECT apivalue.deprecate_event('nothing')$$) AS deprecate_unknown;
-- Property documents are validated.
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a": {"type": "integer"}}')$$) AS integer_type;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a": {"type": "string", "requried": true}}')$$) AS typo_attribute;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a": "string"}')$$) AS not_an_object;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '["a"]')$$) AS array_document;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a..b": {}}')$$) AS empty_key;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a": {"type": "string"}, "a.b": {}}')$$) AS below_a_string;
SELECT gov_tp_try($$SELECT apivalue.propose_event('e', 'o', 'd', '{"a": {"required": "yes"}}')$$) AS required_not_boolean;
SELECT gov_tp_try($$SELECT apivalue.propose_event('', 'o', 'd', '{}')$$) AS empty_name;
SELECT count(*) AS no_e_versions FROM apivalue.event_definitions WHERE name = 'e';
-- normalized: type as an array, required explicit
SELECT properties FROM apivalue.event_definitions WHERE name = 'signup';

-- ---------------------------------------------------------------------------
-- Payloads with planted violations.  signup (201 rows: 200 + one NULL payload):
--   missing country      g % 20 = 0            10 rows (+ the NULL payload)
--   missing source       the NULL payload       1 row
--   country a number     g % 25 = 3             8 rows
--   undeclared utm       g % 40 = 7             5 rows
--   undeclared client.build  g % 50 = 11       4 rows
--   client a string      g % 100 = 99           2 rows  (implicit object)
--   client.version a string  g % 60 = 13       4 rows
--   referrer null or string: allowed
-- api_call: 100 conforming rows ("client" is an opaque object);
-- beta_feature 6 (proposed), legacy_call 4 (deprecated), mystery 7 (unknown),
-- 3 rows without an event (skipped), 5 ancient rows before "since".
-- ---------------------------------------------------------------------------
CREATE TABLE gov_tp_events (id int, tenant text, event text, ts timestamptz, payload jsonb);
INSERT INTO gov_tp_events
SELECT g, CASE WHEN g % 2 = 0 THEN 'regress_gov_tp_user' ELSE 'regress_gov_tp_steward' END, 'signup',
       now() - g * interval '1 minute',
       jsonb_strip_nulls(jsonb_build_object(
         'source', 'organic',
         'country', CASE WHEN g % 20 = 0 THEN NULL WHEN g % 25 = 3 THEN to_jsonb(49) ELSE to_jsonb('DE'::text) END,
         'client', CASE WHEN g % 100 = 99 THEN to_jsonb('web'::text)
                        ELSE jsonb_build_object('version', CASE WHEN g % 60 = 13 THEN to_jsonb('3'::text) ELSE to_jsonb(3) END)
                             || CASE WHEN g % 50 = 11 THEN '{"build": 7}'::jsonb ELSE '{}' END END,
         'utm', CASE WHEN g % 40 = 7 THEN 'spring' END))
       || CASE WHEN g % 2 = 0 THEN '{"referrer": null}'::jsonb ELSE '{"referrer": "docs"}' END
FROM generate_series(1, 200) g;
INSERT INTO gov_tp_events VALUES (1000, 'regress_gov_tp_user', 'signup', now() - interval '5 hours', NULL);
INSERT INTO gov_tp_events
SELECT 2000 + g, 'regress_gov_tp_user', 'api_call', now() - g * interval '2 minutes',
       jsonb_build_object('endpoint', '/items', 'status', 200,
                          'client', jsonb_build_object('sdk', 'py', 'retries', g % 3, 'nested', jsonb_build_object('deep', true)))
FROM generate_series(1, 100) g;
INSERT INTO gov_tp_events
SELECT 3000 + g, 'regress_gov_tp_steward', 'beta_feature', now() - g * interval '3 minutes', '{"flag": true}' FROM generate_series(1, 6) g;
INSERT INTO gov_tp_events
SELECT 4000 + g, 'regress_gov_tp_user', 'legacy_call', now() - g * interval '3 minutes', '{"x": 1}' FROM generate_series(1, 4) g;
INSERT INTO gov_tp_events
SELECT 5000 + g, 'regress_gov_tp_user', 'mystery', now() - g * interval '4 minutes', jsonb_build_object('n', g) FROM generate_series(1, 7) g;
INSERT INTO gov_tp_events
SELECT 6000 + g, 'regress_gov_tp_user', NULL, now() - g * interval '4 minutes', '{}' FROM generate_series(1, 3) g;
INSERT INTO gov_tp_events
SELECT 7000 + g, 'regress_gov_tp_user', 'ancient', now() - interval '30 days' - g * interval '1 hour', '{}' FROM generate_series(1, 5) g;

CREATE TABLE gov_tp_report AS
SELECT * FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', now() - interval '1 day');
SELECT event_name, problem, key_path, rows, round(share::numeric, 4) AS share FROM gov_tp_report ORDER BY 1, 2, 3;
-- shares: event problems against all 318 rows, property problems against the event's 201
SELECT count(*) FILTER (WHERE problem LIKE '%event' AND share <> rows::float8 / 318
                           OR problem NOT LIKE '%event' AND share <> rows::float8 / 201) AS wrong_shares
FROM gov_tp_report;
-- Every example is an offending row of its finding (checked in plain SQL).
SELECT event_name, problem, key_path,
       CASE problem
         WHEN 'missing_required' THEN example IS NULL OR NOT (example #> string_to_array(key_path, '.')) IS NOT NULL
         WHEN 'wrong_type' THEN jsonb_typeof(example #> string_to_array(key_path, '.')) <> 'object'
                                AND key_path = 'client'
                             OR jsonb_typeof(example #> string_to_array(key_path, '.')) = 'number' AND key_path = 'country'
                             OR jsonb_typeof(example #> string_to_array(key_path, '.')) = 'string' AND key_path = 'client.version'
         WHEN 'undeclared_property' THEN example #> string_to_array(key_path, '.') IS NOT NULL
         ELSE EXISTS (SELECT 1 FROM gov_tp_events e WHERE e.event = event_name AND e.payload = example)
       END AS example_offends,
       EXISTS (SELECT 1 FROM gov_tp_events e WHERE e.event = event_name AND e.payload IS NOT DISTINCT FROM example) AS example_is_a_row
FROM gov_tp_report ORDER BY 1, 2, 3;
-- the earliest offending row is the example
SELECT example FROM gov_tp_report WHERE problem = 'undeclared_property' AND key_path = 'utm';

-- Without "since" the ancient rows count too.
SELECT event_name, problem, rows FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts')
WHERE problem LIKE '%event' ORDER BY 1, 2;

-- A new version waits for approval, then replaces the old one.
SELECT version, status FROM apivalue.propose_event('signup', 'growth', 'country optional, utm declared',
  '{"source": {"type": "string", "required": true},
    "country": {"type": "string"},
    "utm": {"type": "string"},
    "client": {"type": "object"},
    "referrer": {"type": ["string", "null"]}}');
SELECT name, version, status, pending_version FROM apivalue.tracking_plan WHERE name = 'signup';
SELECT count(*) AS findings_unchanged FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', now() - interval '1 day');
SELECT version, status FROM apivalue.approve_event('signup');
SELECT version, status, superseded_by, deprecated_by IS NOT NULL AS who, proposed_by IS NOT NULL AS proposer_kept
FROM apivalue.event_definitions WHERE name = 'signup' ORDER BY version;
SELECT event_name, problem, key_path, rows
FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', now() - interval '1 day')
WHERE event_name = 'signup' ORDER BY 1, 2, 3;

-- Conforming approved events report nothing.
CREATE TABLE gov_tp_clean AS SELECT * FROM gov_tp_events WHERE event = 'api_call';
SELECT count(*) AS findings_on_clean FROM apivalue.tracking_plan_conformance('gov_tp_clean', 'event', 'payload', 'ts');

-- Keys with dots, and the shape's "_rows" key, are paths like any other.
SELECT version FROM apivalue.propose_event('odd', 'o', 'escaped keys',
  '{"a\\.b": {"type": "number", "required": true}, "\\_rows": {"type": "number", "required": true}}');
SELECT version FROM apivalue.approve_event('odd');
CREATE TABLE gov_tp_odd (event text, ts timestamptz, payload jsonb);
INSERT INTO gov_tp_odd VALUES
  ('odd', now(), '{"a.b": 1, "_rows": 2}'), ('odd', now(), '{"a": {"b": 1}, "_rows": 2}'), ('odd', now(), '{"a.b": "x"}');
SELECT event_name, problem, key_path, rows, example
FROM apivalue.tracking_plan_conformance('gov_tp_odd', 'event', 'payload', 'ts') ORDER BY 1, 2, 3;

-- Row-level security: each tenant sees the findings of its own rows.
ALTER TABLE gov_tp_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY gov_tp_tenant ON gov_tp_events USING (tenant = current_user);
GRANT SELECT ON gov_tp_events TO regress_gov_tp_user, regress_gov_tp_steward;
SET ROLE regress_gov_tp_user;
SELECT current_user AS tenant, event_name, problem, key_path, rows
FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', now() - interval '1 day') ORDER BY 2, 3, 4;
RESET ROLE;
SET ROLE regress_gov_tp_steward;
SELECT current_user AS tenant, event_name, problem, key_path, rows
FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', now() - interval '1 day') ORDER BY 2, 3, 4;
RESET ROLE;

-- Bad input.
SELECT gov_tp_try($$SELECT * FROM apivalue.tracking_plan_conformance('gov_tp_events', 'nope', 'payload', 'ts')$$) AS unknown_event_column;
SELECT gov_tp_try($$SELECT * FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'event', 'ts')$$) AS payload_not_json;
SELECT gov_tp_try($$SELECT * FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'payload')$$) AS time_not_time;
SELECT gov_tp_try($$SELECT * FROM apivalue.tracking_plan_conformance('gov_tp_events', 'event', 'payload', 'ts', 'infinity')$$) AS infinite_since;
SELECT gov_tp_try($$SELECT * FROM apivalue.tracking_plan_conformance(NULL, 'event', 'payload', 'ts')$$) AS null_relation;

-- The check kind.
SELECT (apivalue.add_quality_check('gov plan', 'gov_tp_events', 'tracking_plan',
          '{"event_column": "event", "payload_column": "payload", "time_column": "ts"}')).parameters;
SELECT check_name, status, observed FROM apivalue.run_quality_checks('gov plan');
SELECT details ->> 'findings' AS findings, jsonb_array_length(details -> 'problems') AS listed,
       jsonb_array_length(sample) AS sampled, sample -> 0 ->> 'event_name' AS first_event
FROM apivalue.quality_results WHERE check_name = 'gov plan';
SELECT gov_tp_try($$SELECT apivalue.add_quality_check('gov plan 2', 'gov_tp_events', 'tracking_plan',
          '{"event_column": "event", "payload_column": "event", "time_column": "ts"}')$$) AS bad_payload_column;
SELECT apivalue.drop_quality_check('gov plan', false);

-- Clean up.
DROP TABLE gov_tp_events, gov_tp_report, gov_tp_clean, gov_tp_odd;
DELETE FROM apivalue.event_definitions;
REVOKE EXECUTE ON FUNCTION apivalue.approve_event(text, integer) FROM regress_gov_tp_steward;
DROP ROLE regress_gov_tp_user, regress_gov_tp_steward;
DROP FUNCTION gov_tp_try(text);
