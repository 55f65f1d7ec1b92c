SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- value_report_html over a small sample data set: one well-formed page
-- (XHTML syntax), every part either drawn or listed as unavailable, nothing
-- that would fetch or run anything.  Which parts are drawn depends on the
-- families installed, so the checks below hold either way.
SET TimeZone = 'UTC';
\set ECHO none
\i test/data/sample.sql
\set ECHO all
SELECT sample.generate(users => 40, seed => 5) > 0 AS generated;
SELECT (apivalue.add_quality_check('charts_report_nulls', 'sample.events', 'null_rate',
          '{"columns": ["user_id", "event"]}', fail_threshold => 0.5)).name;
SELECT count(*) AS results FROM apivalue.run_quality_checks('charts_report_nulls');

CREATE TEMP TABLE page AS
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event',
         ARRAY[$$event = 'signup'$$, $$event = 'create_key'$$, $$event = 'first_call'$$],
         '14 days', step_labels => ARRAY['signup', 'key <created>', 'first call']) AS html;

SELECT xml_is_well_formed_document(html) AS well_formed,
       html ~ '^<!DOCTYPE html><html' AS doctype,
       html !~* '<script|<link|<img|<iframe|@import|url\(' AS nothing_active,
       html !~ '(src|href)\s*=' AS no_references,
       (SELECT count(*) FROM regexp_matches(html, 'https?://', 'g'))
         = (SELECT count(*) FROM regexp_matches(html, 'xmlns="http://www\.w3\.org/(2000/svg|1999/xhtml)"', 'g')) AS only_namespace_urls
FROM page;

-- five parts: each one a section with an SVG, or an item of "Unavailable parts"
SELECT drawn + unavailable AS parts, drawn >= 2 AS journeys_and_quality_drawn
FROM (SELECT (SELECT count(*) FROM XMLTABLE(XMLNAMESPACES('http://www.w3.org/1999/xhtml' AS h),
                                            '//h:section[not(@id="unavailable")]' PASSING (html::xml) COLUMNS id text PATH '@id')) AS drawn,
             (SELECT count(*) FROM XMLTABLE(XMLNAMESPACES('http://www.w3.org/1999/xhtml' AS h),
                                            '//h:section[@id="unavailable"]//h:li' PASSING (html::xml) COLUMNS t text PATH '.')) AS unavailable
      FROM page) z;
-- the parts that exist in every installation
SELECT id, svgs, title
FROM page, XMLTABLE(XMLNAMESPACES('http://www.w3.org/1999/xhtml' AS h, 'http://www.w3.org/2000/svg' AS s),
                    '//h:section' PASSING (html::xml)
                    COLUMNS id text PATH '@id', svgs integer PATH 'count(s:svg)', title text PATH 'string(s:svg/s:title)')
WHERE id IN ('journeys', 'quality')
ORDER BY id;
-- the quality table names the check with its latest status
SELECT position('<td>charts_report_nulls</td><td>null_rate</td><td>pass</td>' IN html) > 0 AS quality_row FROM page;
-- the step label is escaped in the funnel (when the funnel is drawn)
SELECT position('key <created>' IN html) = 0 AS label_escaped FROM page;

-- bad arguments
\set VERBOSITY default
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event', ARRAY[$$event = 'signup'$$], '14 days');
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event', ARRAY[$$event = 'signup'$$, $$event = 'x'$$], '-1 day');
SELECT apivalue.value_report_html('sample.events', 'nobody', 'ts', 'event', ARRAY[$$event = 'signup'$$, $$event = 'x'$$], '1 day');
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event', ARRAY[$$event = 'signup'$$, $$status$$], '1 day');
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event', ARRAY[$$event = 'signup'$$, $$true); DROP TABLE sample.events; SELECT (true$$], '1 day');
SELECT apivalue.value_report_html('sample.events', 'user_id', 'ts', 'event', ARRAY[$$event = 'signup'$$, $$event = 'x'$$], '1 day', step_labels => ARRAY['one']);
SELECT count(*) > 0 AS events_still_there FROM sample.events;
SELECT apivalue.drop_quality_check('charts_report_nulls', keep_results => false) IS NOT NULL AS dropped;
