-- Tenant isolation: with row-level security on an events table, a tenant's
-- role sees only its own tenant's users through apivalue's aggregates, table
-- functions and quality checks; the other tenant's rows never appear.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
DROP ROLE IF EXISTS av_tenant_a;
CREATE ROLE av_tenant_a NOLOGIN NOBYPASSRLS;
RESET client_min_messages;
SET timezone = 'UTC';

CREATE TABLE tenant_events (tenant text, user_id text, ts timestamptz, event text, seq bigint, device_id text);
INSERT INTO tenant_events
SELECT CASE WHEN u % 2 = 0 THEN 'a' ELSE 'b' END, 'u' || u,
       timestamptz '2026-01-05' + (u || ' hours')::interval + (k || ' days')::interval,
       (ARRAY['signup', 'create_key', 'first_call', 'api_call'])[1 + least(k, 3)],
       CASE WHEN u % 2 = 0 THEN k + 1 ELSE 2 * k + 1 END,  -- tenant b's devices lose events
       'd' || u
FROM generate_series(1, 40) u, generate_series(0, 5) k
WHERE k <= u % 6;
ALTER TABLE tenant_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_a_only ON tenant_events FOR SELECT TO av_tenant_a USING (tenant = 'a');
GRANT SELECT ON tenant_events TO av_tenant_a;

SET ROLE av_tenant_a;
-- per-user aggregate: only tenant a's users (even user numbers)
SELECT count(*) AS users, count(*) FILTER (WHERE substr(user_id, 2)::int % 2 = 1) AS other_tenant_users
FROM (SELECT user_id, apivalue.window_funnel('30 days', ts, event = 'signup', event = 'create_key', event = 'first_call') AS level
      FROM tenant_events GROUP BY user_id) f;
-- journey_flows: counts only tenant a's users
SELECT max(users) FILTER (WHERE depth = 1) AS users_at_depth_1
FROM apivalue.journey_flows('tenant_events', 'user_id', 'ts', 'event');
-- cohort_retention: cohort sizes sum to tenant a's users
SELECT sum(cohort_size) AS cohort_users
FROM apivalue.cohort_retention('tenant_events', 'user_id', 'ts', period => 'week', periods => 2)
WHERE period_number = 0;
RESET ROLE;

-- a quality check run by the tenant's role sees only its rows: tenant b's
-- devices have gaps, tenant a's do not
SELECT (apivalue.add_quality_check('tenant_gaps', 'tenant_events', 'sequence_gap',
          '{"device_column": "device_id", "seq_column": "seq"}', fail_threshold => 0)).name;
GRANT SELECT ON apivalue.quality_checks TO av_tenant_a;
GRANT SELECT, INSERT ON apivalue.quality_results TO av_tenant_a;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA apivalue TO av_tenant_a;
SET ROLE av_tenant_a;
SELECT count(*) AS checks_run FROM apivalue.run_quality_checks('tenant_gaps');
SELECT status, observed FROM apivalue.quality_status WHERE check_name = 'tenant_gaps';
RESET ROLE;
SELECT count(*) AS checks_run FROM apivalue.run_quality_checks('tenant_gaps');
SELECT status, observed > 0 AS owner_sees_gaps FROM apivalue.quality_status WHERE check_name = 'tenant_gaps';
REVOKE ALL ON apivalue.quality_checks, apivalue.quality_results FROM av_tenant_a;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA apivalue FROM av_tenant_a;

-- the same queries without RLS (table owner): both tenants
SELECT count(*) AS all_users FROM (SELECT DISTINCT user_id FROM tenant_events) u;
SELECT count(DISTINCT user_id) AS tenant_a_users FROM tenant_events WHERE tenant = 'a';

SELECT apivalue.drop_quality_check('tenant_gaps') AS dropped;
DROP TABLE tenant_events;
DROP ROLE av_tenant_a;
