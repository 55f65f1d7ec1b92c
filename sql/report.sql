-- sql/report.sql
--
-- value_report_html: the product's value story on one self-contained HTML
-- page (inline CSS and SVG, no script, nothing fetched): activation funnel,
-- retention triangle, time to value, top journeys as a Sankey diagram and the
-- latest data-quality findings.  It draws what other apivalue functions
-- compute; a part whose function is not installed (to_regprocedure) is named
-- on the page as unavailable instead of failing the whole report.  The page
-- is also well-formed XML (XHTML syntax), so it can be checked with xpath().

CREATE FUNCTION apivalue._report_section(id text, heading text, svg text, extra text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('<section id="%s">%s%s%s</section>', apivalue._xml_escape(id),
                CASE WHEN coalesce(heading, '') = '' THEN '' ELSE '<h2>' || apivalue._xml_escape(heading) || '</h2>' END,
                coalesce(svg, ''), coalesce(extra, ''))
$$;
COMMENT ON FUNCTION apivalue._report_section(text, text, text, text) IS
  'internal: one section of value_report_html: heading (none when empty), chart SVG and extra HTML';

CREATE FUNCTION apivalue.value_report_html(
    events regclass,
    user_column text,
    time_column text,
    event_column text,
    steps text[],
    conversion_window interval,
    step_labels text[] DEFAULT NULL,
    value_condition text DEFAULT NULL,
    period text DEFAULT 'week',
    periods integer DEFAULT 8,
    title text DEFAULT 'API product value report')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
  u text;
  t text;
  e text;
  conds text[] := '{}';
  labels text[];
  valcond text;
  n integer := cardinality(steps);
  i integer;
  q text;
  svg text;
  html text;
  meta record;
  parts text := '';
  missing text[] := '{}';
  min_users bigint;
BEGIN
  IF n IS NULL OR n < 2 OR n > 32 THEN
    RAISE EXCEPTION 'steps must list 2 to 32 conditions, not %', coalesce(n::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'Give the funnel''s steps as SQL conditions, e.g. ARRAY[$$event = ''signup''$$, $$event = ''first_call''$$].';
  END IF;
  IF conversion_window IS NULL OR conversion_window <= interval '0' THEN
    RAISE EXCEPTION 'conversion_window must be positive, not %', coalesce(conversion_window::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF step_labels IS NOT NULL AND cardinality(step_labels) <> n THEN
    RAISE EXCEPTION 'step_labels must have one label per step (% steps, % labels)', n, cardinality(step_labels)
      USING ERRCODE = '22023';
  END IF;
  IF periods IS NULL OR periods < 1 OR periods > 52 THEN
    RAISE EXCEPTION 'periods must be between 1 and 52, not %', coalesce(periods::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  u := apivalue._column(events, user_column, 'user column');
  t := apivalue._column(events, time_column, 'time column', '{timestamptz}');
  e := apivalue._column(events, event_column, 'event column', '{text,character varying}');
  FOR i IN 1 .. n LOOP
    conds := conds || apivalue._condition(events, steps[i], format('step %s', i));
  END LOOP;
  valcond := CASE WHEN value_condition IS NULL THEN conds[n]
                  ELSE apivalue._condition(events, value_condition, 'value condition') END;
  labels := coalesce(step_labels, steps);

  EXECUTE format('SELECT count(*) AS events, count(DISTINCT %1$s) AS users, min(%2$s) AS first_at, max(%2$s) AS last_at FROM %3$s',
                 u, t, events) INTO meta;

  -- 1. Funnel (window_funnel)
  IF to_regprocedure('apivalue.window_funnel(interval,timestamptz,"any")') IS NULL THEN
    missing := missing || 'funnel (apivalue.window_funnel is not installed)'::text;
  ELSE
    BEGIN
      q := format($q$
        SELECT apivalue.funnel_svg(k, $2[k], users,
                 jsonb_build_object('title', 'Activation funnel', 'width', 640,
                                    'description', 'Users reaching each step within ' || $1::text || ' of the first.'))
        FROM (SELECT k, count(*) FILTER (WHERE lvl >= k) AS users
              FROM (SELECT apivalue.window_funnel($1, %1$s, %2$s) AS lvl FROM %3$s WHERE %4$s IS NOT NULL GROUP BY %4$s) g,
                   generate_series(1, %5$s) AS k
              GROUP BY k) s$q$,
        t, array_to_string(conds, ', '), events, u, n);
      EXECUTE q INTO svg USING conversion_window, labels;
      parts := parts || apivalue._report_section('funnel', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('funnel (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 2. Retention triangle (cohort_retention)
  IF to_regprocedure('apivalue.cohort_retention(regclass,text,text,text,integer,text,text,text,text,text,text,timestamptz,timestamptz,int4range[])') IS NULL THEN
    missing := missing || 'retention triangle (apivalue.cohort_retention is not installed)'::text;
  ELSE
    BEGIN
      EXECUTE $q$
        SELECT apivalue.heatmap_svg(to_char(cohort_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' (' || cohort_size || ')',
                                    period_number, retention_rate, NULL,
                                    jsonb_build_object('title', 'Retention by ' || $4 || ' of first step',
                                                       'x_label', $4 || 's since the first step', 'y_label', 'cohort (users)',
                                                       'width', 640, 'min', 0, 'max', 1))
        FROM apivalue.cohort_retention($1, $2, $3, period => $4, periods => $5, start_condition => $6)
        WHERE segment IS NULL$q$
        INTO svg USING events, user_column, time_column, period, periods, steps[1];
      parts := parts || apivalue._report_section('retention', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('retention triangle (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 3. Time to value (ttfv_report): p50 / p75 / p90 by cohort
  IF to_regprocedure('apivalue.ttfv_report(regclass,text,text,text,text,interval,text,text,text,text,timestamptz,timestamptz,text)') IS NULL THEN
    missing := missing || 'time to value (apivalue.ttfv_report is not installed)'::text;
  ELSE
    BEGIN
      EXECUTE $q$
        SELECT apivalue.line_svg(q.name, extract(epoch FROM r.cohort_start), extract(epoch FROM q.v) / 3600,
                 jsonb_build_object('title', 'Time to value by cohort (hours)', 'x_format', 'date',
                                    'x_label', 'cohort', 'y_label', 'hours to value', 'width', 640,
                                    'y_format', 'number'))
        FROM apivalue.ttfv_report($1, $2, $3, start_condition => $4, value_condition => $5,
                                  within => $6, period => $7) r
        CROSS JOIN LATERAL (VALUES ('p50', r.p50), ('p75', r.p75), ('p90', r.p90)) AS q(name, v)
        WHERE r.segment IS NULL$q$
        INTO svg USING events, user_column, time_column, steps[1], coalesce(value_condition, steps[n]),
                       conversion_window, period;
      parts := parts || apivalue._report_section('ttfv', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('time to value (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 4. Top journeys (journey_flows), rare edges folded into 'other'
  IF to_regprocedure('apivalue.journey_flows(regclass,text,text,text,text,integer,interval,integer,boolean)') IS NULL THEN
    missing := missing || 'journeys (apivalue.journey_flows is not installed)'::text;
  ELSE
    BEGIN
      min_users := greatest(meta.users / 25, 1);
      EXECUTE $q$
        SELECT apivalue.sankey_svg(depth, from_step, to_step, users,
                 jsonb_build_object('title', 'Top journeys (first 4 steps)', 'width', 900, 'height', 440,
                                    'description', 'Paths taken by fewer than ' || $5 || ' users are folded into "other".'))
        FROM apivalue.journey_flows($1, $2, $3, $4, max_depth => 4, min_users => $5::integer)$q$
        INTO svg USING events, user_column, time_column, event_column, min_users;
      parts := parts || apivalue._report_section('journeys', '', svg);
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('journeys (' || SQLERRM || ')')::text;
    END;
  END IF;

  -- 5. Data quality: history strip and latest findings of the checks on this relation
  IF to_regclass('apivalue.quality_results') IS NULL OR to_regclass('apivalue.quality_status') IS NULL THEN
    missing := missing || 'data quality (the quality catalog is not installed)'::text;
  ELSE
    BEGIN
      SELECT apivalue.status_strip_svg(r.check_name, r.run_at, r.status,
               '{"title": "Quality checks, latest runs", "width": 640, "max_runs": 30}'::jsonb)
        INTO svg
      FROM apivalue.quality_results r JOIN apivalue.quality_checks c ON c.name = r.check_name
      WHERE c.relation = events;
      parts := parts || apivalue._report_section('quality', '', svg,
        coalesce((SELECT '<table><thead><tr><th>check</th><th>kind</th><th>status</th><th>observed</th><th>thresholds (warn / fail)</th><th>last run</th></tr></thead><tbody>'
                         || string_agg(format('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td></tr>',
                                              coalesce(s.status, 'never'), apivalue._xml_escape(s.check_name),
                                              apivalue._xml_escape(s.kind), coalesce(s.status, 'never run'),
                                              apivalue._fmt_count(s.observed), apivalue._fmt_count(s.warn_threshold),
                                              apivalue._fmt_count(s.fail_threshold),
                                              coalesce(to_char(s.run_at, 'YYYY-MM-DD HH24:MI'), '–')),
                                       '' ORDER BY s.check_name)
                         || '</tbody></table>'
                  FROM apivalue.quality_status s WHERE s.relation = events),
                 '<p class="note">No quality checks are registered on this relation (apivalue.add_quality_check, then apivalue.run_quality_checks).</p>'));
    EXCEPTION WHEN OTHERS THEN
      missing := missing || ('data quality (' || SQLERRM || ')')::text;
    END;
  END IF;

  html := '<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>'
    || '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
    || '<title>' || apivalue._xml_escape(title) || '</title><style>'
    || 'body{font-family:sans-serif;margin:24px;color:#222;background:#fff}'
    || 'h1{font-size:22px;margin:0 0 4px}p.meta{color:#555;margin:0 0 16px}'
    || '.grid{display:flex;flex-wrap:wrap;gap:20px}'
    || 'section{border:1px solid #ddd;border-radius:6px;padding:12px 16px;background:#fff}'
    || 'section h2{font-size:16px;margin:0 0 8px}'
    || 'section svg{display:block;max-width:100%;height:auto}'
    || '.unavailable{background:#fff4e0;border-color:#e6b366}'
    || 'table{border-collapse:collapse;margin-top:10px;font-size:13px}'
    || 'th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #eee}'
    || 'tr.fail td:nth-child(3),tr.error td:nth-child(3){color:#b34700;font-weight:bold}'
    || 'tr.warn td:nth-child(3){color:#8a6100;font-weight:bold}'
    || '</style></head><body>'
    || '<h1>' || apivalue._xml_escape(title) || '</h1>'
    || format('<p class="meta">%s: %s events of %s users, %s to %s.</p>',
              apivalue._xml_escape(events::text), apivalue._fmt_count(meta.events), apivalue._fmt_count(meta.users),
              coalesce(to_char(meta.first_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '–'),
              coalesce(to_char(meta.last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', '–'))
    || '<div class="grid">' || parts
    || CASE WHEN cardinality(missing) = 0 THEN ''
            ELSE '<section id="unavailable" class="unavailable"><h2>Unavailable parts</h2><ul>'
                 || (SELECT string_agg('<li>' || apivalue._xml_escape(m) || '</li>', '' ORDER BY k)
                     FROM unnest(missing) WITH ORDINALITY AS x(m, k))
                 || '</ul></section>' END
    || '</div></body></html>';
  RETURN html;
END
$fn$;
COMMENT ON FUNCTION apivalue.value_report_html(regclass, text, text, text, text[], interval, text[], text, text, integer, text) IS
  'one self-contained HTML page (inline CSS and SVG, nothing fetched): activation funnel, retention triangle, time to value, top journeys, latest quality findings; parts whose functions are not installed are listed as unavailable';
