SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
-- Labels are user data: hostile text stays text, long text is cut with an
-- ellipsis (full text in a <title>), NULL rows are skipped, empty input
-- draws "no data", bad options and values are clear errors.
SET TimeZone = 'UTC';
CREATE SCHEMA charts_e;
CREATE FUNCTION charts_e.n(svg text, path text) RETURNS integer LANGUAGE sql AS $$
  SELECT (xpath('count(' || path || ')', svg::xml, ARRAY[ARRAY['s', 'http://www.w3.org/2000/svg']]))[1]::text::numeric::integer $$;
-- string values of the nodes found, unescaped (XMLTABLE; xpath() would give them escaped)
CREATE FUNCTION charts_e.strs(svg text, path text) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(v ORDER BY k)
  FROM XMLTABLE(XMLNAMESPACES('http://www.w3.org/2000/svg' AS s), path PASSING (svg::xml)
                COLUMNS k FOR ORDINALITY, v text PATH 'string(.)') $$;

CREATE TABLE charts_e.labels (id int, label text);
INSERT INTO charts_e.labels VALUES
  (1, '<script>alert(1)</script>'),
  (2, '"><svg onload=alert(1)>'),
  (3, 'Tom & Jerry''s <b>'),
  (4, 'Ünïcødé → 日本語 ✓ 🎉'),
  (5, repeat('x', 10000) || 'END'),
  (6, E'ctl\x01\x02\x1f\ttab'),
  (7, NULL),
  (8, ']]><!-- -->&amp;');

-- escaping alone: round trip through the XML parser gives the text back
-- (characters XML 1.0 forbids become U+FFFD)
SELECT id, a IS NOT DISTINCT FROM t AS attr_eq_text,
       t = regexp_replace(coalesce(label, ''), '[\x01-\x08\x0b\x0c\x0e-\x1f]', E'\uFFFD', 'g') AS round_trip
FROM charts_e.labels,
     XMLTABLE('/x' PASSING (('<x a="' || apivalue._xml_escape(label) || '">' || apivalue._xml_escape(label) || '</x>')::xml)
              COLUMNS a text PATH '@a', t text PATH 'string(.)')
ORDER BY id;

-- every chart with the hostile labels
CREATE TABLE charts_e.out AS
SELECT 'heatmap' AS chart, apivalue.heatmap_svg(label, id, id / 10.0, label, NULL) AS svg FROM charts_e.labels
UNION ALL SELECT 'funnel', apivalue.funnel_svg(id, label, (100 - id)::bigint) FROM charts_e.labels
UNION ALL SELECT 'sankey', apivalue.sankey_svg(1, 'start', label, 10::bigint) FROM charts_e.labels
UNION ALL SELECT 'line', apivalue.line_svg(label, id, id) FROM charts_e.labels
UNION ALL SELECT 'status', apivalue.status_strip_svg(label, timestamptz '2026-01-01' + id * interval '1 day', label) FROM charts_e.labels;
SELECT chart, xml_is_well_formed_document(svg) AS well_formed,
       charts_e.n(svg, '//s:script | //s:svg//s:svg | //@onload | //s:b') AS injected_elements,
       position('<script' IN svg) = 0 AND position('<b>' IN svg) = 0 AND position('"><svg' IN svg) = 0 AS no_raw_markup,
       length(svg) < 60000 AS bounded
FROM charts_e.out ORDER BY chart;

-- the labels come back as text: visible (possibly cut) and in full in titles
SELECT l.id, o.chart,
       coalesce(l.label = ANY (charts_e.strs(o.svg, '//s:text')), false) AS shown_whole,
       coalesce(left(l.label, 23) || '…' = ANY (charts_e.strs(o.svg, '//s:text')), false) AS shown_cut,
       EXISTS (SELECT 1 FROM unnest(charts_e.strs(o.svg, '//s:title')) t WHERE position(l.label IN t) > 0) AS in_a_title
FROM charts_e.labels l, charts_e.out o
WHERE l.id <> 6 AND l.label IS NOT NULL AND o.chart IN ('funnel', 'heatmap', 'status')
ORDER BY l.id, o.chart;
-- control characters: replaced, the rest of the label kept
SELECT chart, E'ctl\uFFFD\uFFFD\uFFFD\ttab' = ANY (charts_e.strs(svg, '//s:text')) AS replaced
FROM charts_e.out WHERE chart IN ('funnel', 'heatmap') ORDER BY chart;

-- NULL keys are skipped (heatmap label, sankey source), NULL labels shown as defaults
SELECT charts_e.n(svg, '//s:rect[@class="cell"]') AS heatmap_cells FROM charts_e.out WHERE chart = 'heatmap';
SELECT charts_e.n(svg, '//s:rect[@class="bar"]') AS funnel_bars,
       'step 7' = ANY (charts_e.strs(svg, '//s:text[@class="step-label"]')) AS null_label_named
FROM charts_e.out WHERE chart = 'funnel';
SELECT charts_e.n(svg, '//s:path[@class="link"]') AS sankey_links, charts_e.n(svg, '//s:path[@class="drop"]') AS sankey_drops
FROM charts_e.out WHERE chart = 'sankey';
SELECT apivalue.sankey_svg(d, f, t, u) IS NOT NULL AS drawn,
       charts_e.n(apivalue.sankey_svg(d, f, t, u), '//s:path') AS links
FROM (VALUES (1, NULL, 'a', 1::bigint), (NULL, 'a', 'b', 1), (1, 'a', 'b', NULL)) v(d, f, t, u);

-- empty input: a valid "no data" picture, with the options' title
SELECT chart, xml_is_well_formed_document(svg) AS well_formed, charts_e.strs(svg, '//s:text[@class="no-data"]') AS shown,
       (charts_e.strs(svg, '/s:svg/s:title'))[1] AS title
FROM (SELECT 'heatmap' AS chart, (SELECT apivalue.heatmap_svg(label, id, 1.0) FROM charts_e.labels WHERE false) AS svg
      UNION ALL SELECT 'funnel', (SELECT apivalue.funnel_svg(id, label, 1::bigint, '{"title": "Empty & <co>"}') FROM charts_e.labels WHERE false)
      UNION ALL SELECT 'sankey', (SELECT apivalue.sankey_svg(1, label, label, 1::bigint) FROM charts_e.labels WHERE false)
      UNION ALL SELECT 'line', (SELECT apivalue.line_svg(label, 1, NULL) FROM charts_e.labels)
      UNION ALL SELECT 'status', (SELECT apivalue.status_strip_svg(NULL, now(), 'pass') FROM charts_e.labels)) z
ORDER BY chart;
SELECT apivalue.funnel_svg(1, 'x', 1::bigint) FILTER (WHERE false);

-- bad options and values
\set VERBOSITY default
SELECT apivalue.funnel_svg(1, 'x', 1::bigint, '{"colour": "red"}');
SELECT apivalue.funnel_svg(1, 'x', 1::bigint, '{"width": "wide"}');
SELECT apivalue.funnel_svg(1, 'x', 1::bigint, '{"width": 20}');
SELECT apivalue.funnel_svg(1, 'x', 1::bigint, '[1, 2]');
SELECT apivalue.heatmap_svg('a', 1, 1.0, '{"scheme": "rainbow"}');
SELECT apivalue.heatmap_svg('a', 1, 1.0, '{"value_format": "roman"}');
SELECT apivalue.heatmap_svg('a', 1, 'NaN');
SELECT apivalue.line_svg('a', 1, 'Infinity');
SELECT apivalue.line_svg('a', 1, 1, '{"x_format": "week"}');
SELECT apivalue.funnel_svg(1, 'x', -5::bigint);
SELECT apivalue.sankey_svg(0, 'a', 'b', 1::bigint);
SELECT apivalue.status_strip_svg('a', 'infinity', 'pass');
SELECT apivalue.funnel_svg(s, 'x', 1::bigint, jsonb_build_object('title', s::text)) FROM generate_series(1, 2) s;
SELECT apivalue.funnel_svg(s, 'x', 1::bigint, '{"height": 90}') FROM generate_series(1, 20) s;
