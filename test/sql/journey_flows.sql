-- journey_flows and path_transitions: hand-checked cases, bad input, and a
-- differential test against an independent plain-SQL/PLpgSQL answer.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
SET TimeZone = 'UTC';

SELECT * FROM apivalue.path_transitions('{home,search,cart}') ORDER BY depth;
SELECT count(*) AS no_rows FROM apivalue.path_transitions('{home}');
SELECT count(*) AS no_rows FROM apivalue.path_transitions(NULL);
SELECT * FROM apivalue.path_transitions('[0:2]={a,NULL,c}') ORDER BY depth;
SELECT * FROM apivalue.path_transitions('{{a,b},{c,d}}');

-- Five users; the column names need quoting.
CREATE TABLE jf_edge ("User" int, "When" timestamptz, "Step; DROP TABLE jf_edge" text, n int);
INSERT INTO jf_edge VALUES
  (1, '2024-01-01 10:00', 'home', 1), (1, '2024-01-01 10:02', 'search', 1), (1, '2024-01-01 10:03', 'search', 1),
  (1, '2024-01-01 10:06', 'cart', 1),
  (2, '2024-01-01 10:00', 'home', 1), (2, '2024-01-01 10:04', 'search', 1),
  (3, '2024-01-01 10:00', 'home', 1), (3, '2024-01-01 10:01', 'cart', 1), (3, '2024-01-01 12:00', 'Home', 1),
  (4, '2024-01-01 09:00', 'search', 1), (4, '2024-01-01 09:10', 'home', 1), (4, '2024-01-01 09:20', 'search', 1),
  (5, '2024-01-01 10:00', 'home', 1), (5, NULL, 'cart', 1), (NULL, '2024-01-01 10:00', 'home', 1);
-- paths: 1 home,search,cart  2 home,search  3 home,cart,Home  4 search,home,search  5 home
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge');
-- from the first 'home', two transitions at most
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge',
                                     start_step => 'home', max_depth => 2);
-- sessions split at gaps over 1 hour: user 3 has two sessions
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge',
                                     session_gap => '1 hour', max_depth => 1);
-- rare edges folded into 'other' (and the path goes on from 'other')
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge', min_users => 2);
-- normalized labels: 'Home' and 'home' are one step; the start step too
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge',
                                     start_step => 'CART', normalize_steps => true);

-- bad input
SELECT * FROM apivalue.journey_flows('no_such_table', 'User', 'When', 'x');
SELECT * FROM apivalue.journey_flows('jf_edge', 'user', 'When', 'Step; DROP TABLE jf_edge');
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'n');
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'n', 'Step; DROP TABLE jf_edge');
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge', session_gap => '-1 minute');
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge', max_depth => 0);
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge', max_depth => 51);
SELECT * FROM apivalue.journey_flows('jf_edge', 'User', 'When', 'Step; DROP TABLE jf_edge', min_users => 0);
SELECT * FROM apivalue.journey_flows('jf_edge', NULL, 'When', 'Step; DROP TABLE jf_edge');
-- nothing was dropped
SELECT count(*) AS rows_left FROM jf_edge;
DROP TABLE jf_edge;

-- Differential test on generated data.  The reference collapses paths with
-- window functions (no apivalue aggregate), sessions with lag() + sum(),
-- folds rare edges with one UPDATE per depth on a temporary table, and
-- counts the edges with GROUP BY.
\i test/data/diff.sql
SELECT setseed(0.777);
CREATE TABLE jf_rand AS
SELECT u, '2024-05-01'::timestamptz + floor(random() * 3000) * interval '1 minute' AS ts,
       (ARRAY['home','search','product','cart','checkout','pay','help','Search'])
         [1 + floor(random() * random() * 8)::int] AS step
FROM generate_series(1, 500) u, LATERAL generate_series(1, 1 + (random() * 25)::int) i;

\i test/data/journey_flows_ref.sql

SELECT label, d.* FROM (VALUES
  ('all paths, depth 5', NULL, 5, NULL, 1),
  ('from search, depth 3', 'search', 3, NULL, 1),
  ('sessions of 6 hours', NULL, 4, '6 hours', 1),
  ('min_users 4', NULL, 5, NULL, 4),
  ('sessions, from home, min_users 3', 'home', 6, '12 hours', 3)
) c(label, start, depth, gap, min_users),
LATERAL avtest.diff(
  format($$SELECT concat_ws('|', depth, from_step, coalesce(to_step, '<drop>')) AS k,
                  concat_ws('|', users, median_time, from_users, dropped_after,
                            round(dropped_share::numeric, 12)) AS v
           FROM apivalue.journey_flows('jf_rand', 'u', 'ts', 'step', %L, %s, %L, %s)$$,
         c.start, c.depth, c.gap, c.min_users),
  format($$SELECT * FROM pg_temp.journey_flows_ref('jf_rand', %L, %s, %L, %s)$$, c.start, c.depth, c.gap, c.min_users)) d
ORDER BY label;

-- Sankey consistency: every node's inflow equals its outflow
SELECT count(*) AS nodes_checked,
       count(*) FILTER (WHERE i.inflow IS DISTINCT FROM o.outflow) AS unbalanced
FROM (SELECT depth + 1 AS depth, to_step AS step, sum(users) AS inflow
      FROM apivalue.journey_flows('jf_rand', 'u', 'ts', 'step', min_users => 4)
      WHERE to_step IS NOT NULL AND depth < 5 GROUP BY 1, 2) i
JOIN (SELECT depth, from_step AS step, sum(users) AS outflow
      FROM apivalue.journey_flows('jf_rand', 'u', 'ts', 'step', min_users => 4)
      GROUP BY 1, 2) o USING (depth, step);
DROP TABLE jf_rand;
