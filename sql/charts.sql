-- sql/charts.sql
--
-- Chart aggregates: each turns the rows of any query into one standalone SVG
-- document (text).  They draw what the other functions compute; nothing here
-- is new analytics.
--
--   heatmap_svg(row_label, column_number, value [, cell_text] [, options])
--   funnel_svg(step, label, users [, options])
--   sankey_svg(depth, from_step, to_step, users [, options])
--   line_svg(series, x, y [, y_low, y_high] [, options])
--   status_strip_svg(check_name, run_at, status [, options])
--
-- Design:
-- * Presentation aggregates over small inputs (hundreds of rows).  The state
--   is jsonb {"o": options, "r": [row objects]}: a concrete type, so no
--   serialize pair is needed, partial states travel between parallel workers
--   (and Citus nodes) as they are, and combining two states is appending two
--   arrays.  The final function sorts the rows by all their inputs, so the
--   picture depends only on the multiset of rows, never on arrival order.
-- * Every piece of user text goes through apivalue._xml_escape (& < > " ' and
--   the characters XML 1.0 forbids) and long labels are cut with an ellipsis,
--   the full text kept in a <title> tooltip.  The output has no script, no
--   style sheet, no external reference (fonts are the generic "sans-serif").
-- * Accessibility: role="img", <title> and <desc> first in every document.
-- * Colour: sequential scales are viridis (default) or ColorBrewer Blues,
--   categories use the Okabe-Ito palette; all are colour-blind safe.
-- * Rows with NULL keys are skipped; an empty input draws a "no data" picture.

-- ---------------------------------------------------------------------------
-- Text helpers
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._xml_escape(s text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT replace(replace(replace(replace(replace(replace(replace(replace(
           regexp_replace(coalesce(s, ''),
                          '[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]', E'\uFFFD', 'g'),
           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
           E'\t', '&#9;'), E'\n', '&#10;'), E'\r', '&#13;')
$$;
COMMENT ON FUNCTION apivalue._xml_escape(text) IS
  'internal: text escaped for XML 1.0 element content and attribute values (& < > " '' escaped, tab, newline and carriage return as character references so attribute values keep them; control characters XML forbids and U+FFFE/U+FFFF replaced by U+FFFD; NULL gives the empty string)';

CREATE FUNCTION apivalue._n(x float8)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT trim_scale(round(x::numeric, 1))::text $$;
COMMENT ON FUNCTION apivalue._n(float8) IS
  'internal: an SVG coordinate, rounded to 0.1 pixel';

-- A label: <text> with the escaped text, cut to max_chars characters with an
-- ellipsis; when cut, wrapped in <g> with the full text as <title> tooltip.
CREATE FUNCTION apivalue._svg_label(s text, x float8, y float8, max_chars integer, attrs text DEFAULT '')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
    WHEN char_length(coalesce(s, '')) > greatest(max_chars, 1) THEN
      format('<g><title>%s</title><text x="%s" y="%s"%s>%s…</text></g>',
             apivalue._xml_escape(s), apivalue._n(x), apivalue._n(y), attrs,
             apivalue._xml_escape(left(s, greatest(max_chars, 2) - 1)))
    ELSE
      format('<text x="%s" y="%s"%s>%s</text>', apivalue._n(x), apivalue._n(y), attrs,
             apivalue._xml_escape(s))
  END
$$;



COMMENT ON FUNCTION apivalue._svg_label(text, float8, float8, integer, text) IS
  'internal: an SVG <text> label, escaped, cut to max_chars characters with an ellipsis and the full text in a <title> tooltip when longer';

-- Counts with thousands separators, shares as percentages.
CREATE FUNCTION apivalue._fmt_count(n float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN n IS NULL THEN '–'
              WHEN n = trunc(n) AND abs(n) < 1e15 THEN to_char(n::numeric, 'FM999,999,999,999,990')
              ELSE trim_scale(round(n::numeric, 2))::text END
$$;
COMMENT ON FUNCTION apivalue._fmt_count(float8) IS
  'internal: a number for a chart label (integers with thousands separators, others to 2 decimals, NULL as a dash)';

CREATE FUNCTION apivalue._fmt_pct(share float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN share IS NULL OR share = 'NaN' THEN '–'
              ELSE to_char(round((share * 100)::numeric, 1), 'FM999,999,990.0') || '%' END
$$;
COMMENT ON FUNCTION apivalue._fmt_pct(float8) IS
  'internal: a share (0..1) as a percentage with one decimal, NULL as a dash';

-- Axis tick values: about n "nice" steps (1, 2 or 5 times a power of ten)
-- covering [lo, hi].
CREATE FUNCTION apivalue._nice_ticks(lo float8, hi float8, n integer DEFAULT 5)
RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH s AS (
    SELECT CASE WHEN hi > lo THEN (hi - lo) / greatest(n, 1) ELSE 1 END AS raw),
  p AS (
    SELECT raw, power(10, floor(log(raw))) AS mag FROM s),
  st AS (
    SELECT CASE WHEN raw / mag <= 1 THEN mag WHEN raw / mag <= 2 THEN 2 * mag
                WHEN raw / mag <= 5 THEN 5 * mag ELSE 10 * mag END AS step FROM p)
  SELECT array_agg(round((k * step)::numeric, 10)::float8 ORDER BY k)
  FROM st, generate_series(ceil(lo / step - 1e-9)::bigint, floor(hi / step + 1e-9)::bigint) AS k
$$;
COMMENT ON FUNCTION apivalue._nice_ticks(float8, float8, integer) IS
  'internal: axis tick values, multiples of 1, 2 or 5 times a power of ten inside [lo, hi]';

-- ---------------------------------------------------------------------------
-- Colours
-- ---------------------------------------------------------------------------

-- Sequential scale at t in [0, 1]: viridis (dark purple to yellow) or
-- ColorBrewer Blues (light to dark), 9 stops linearly interpolated in RGB.
CREATE FUNCTION apivalue._chart_colour(scheme text, t float8)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH stops AS (
    SELECT CASE WHEN scheme = 'blues' THEN
      ARRAY[247,251,255, 222,235,247, 198,219,239, 158,202,225, 107,174,214,
            66,146,198, 33,113,181, 8,81,156, 8,48,107]
    ELSE
      ARRAY[68,1,84, 71,45,123, 59,82,139, 44,114,142, 33,145,140,
            40,174,128, 94,201,98, 173,220,48, 253,231,37]
    END AS c),
  pos AS (
    SELECT least(greatest(coalesce(t, 0), 0), 1) * 8 AS p),
  seg AS (
    SELECT least(floor(p)::int, 7) AS i, p - least(floor(p)::int, 7) AS f FROM pos)
  SELECT '#' || string_agg(lpad(to_hex(round(c[3 * i + k] + (c[3 * i + 3 + k] - c[3 * i + k]) * f)::int), 2, '0'), '' ORDER BY k)
  FROM stops, seg, generate_series(1, 3) AS k
$$;
COMMENT ON FUNCTION apivalue._chart_colour(text, float8) IS
  'internal: colour at t in [0, 1] on the sequential scale "viridis" or "blues" (colour-blind safe), as #rrggbb';

-- Text colour readable on a background: black on light, white on dark.
CREATE FUNCTION apivalue._chart_ink(background text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN 0.2126 * ('x' || substr(background, 2, 2))::bit(8)::int
                 + 0.7152 * ('x' || substr(background, 4, 2))::bit(8)::int
                 + 0.0722 * ('x' || substr(background, 6, 2))::bit(8)::int > 140
              THEN '#000000' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION apivalue._chart_ink(text) IS
  'internal: #000000 or #ffffff, whichever reads better on the given #rrggbb background';

-- Categorical colour i (1-based) from the Okabe-Ito palette, cycling; its
-- yellow (too light on white) and black (reads as a shadow in Sankey links)
-- are replaced by Paul Tol's wine.
CREATE FUNCTION apivalue._chart_category(i integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (ARRAY['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#882255'])
         [1 + ((i - 1) % 7 + 7) % 7]
$$;
COMMENT ON FUNCTION apivalue._chart_category(integer) IS
  'internal: categorical colour i (1-based, cycling): Okabe-Ito without yellow and black, plus Tol''s wine';

-- ---------------------------------------------------------------------------
-- Options and the document frame
-- ---------------------------------------------------------------------------

-- Options of one chart, checked against its spec {"name": ["type", default]}
-- and completed with the defaults.  Common checks: width, height,
-- max_label_chars and scheme ranges.
CREATE FUNCTION apivalue._chart_options(chart text, options jsonb, spec jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  want text;
  result jsonb := '{}';
BEGIN
  IF options IS NULL OR options = 'null'::jsonb THEN
    options := '{}';
  END IF;
  IF jsonb_typeof(options) <> 'object' THEN
    RAISE EXCEPTION 'options of % must be a JSON object, not %', chart, options
      USING ERRCODE = '22023', HINT = format('Valid options: %s.',
        (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(spec) x));
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(options) ORDER BY 1 LOOP
    IF NOT spec ? k THEN
      RAISE EXCEPTION 'unknown option "%" of %', k, chart
        USING ERRCODE = '22023', HINT = format('Valid options: %s.',
          (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(spec) x));
    END IF;
    want := spec -> k ->> 0;
    IF v <> 'null'::jsonb AND jsonb_typeof(v) <> want THEN
      RAISE EXCEPTION 'option "%" of % must be a %, not %', k, chart, want, v
        USING ERRCODE = '22023';
    END IF;
  END LOOP;
  FOR k, v IN SELECT * FROM jsonb_each(spec) LOOP
    result := result || jsonb_build_object(k,
      CASE WHEN options -> k IS NULL OR options -> k = 'null'::jsonb THEN v -> 1 ELSE options -> k END);
  END LOOP;
  IF result ? 'width' AND NOT (result ->> 'width')::float8 BETWEEN 160 AND 4000 THEN
    RAISE EXCEPTION 'option "width" of % must be between 160 and 4000, not %', chart, result -> 'width'
      USING ERRCODE = '22023';
  END IF;
  IF result ? 'height' AND result -> 'height' <> 'null'::jsonb
     AND NOT (result ->> 'height')::float8 BETWEEN 80 AND 4000 THEN
    RAISE EXCEPTION 'option "height" of % must be between 80 and 4000, not %', chart, result -> 'height'
      USING ERRCODE = '22023', HINT = 'Leave it out (or null) for a height that fits the rows.';
  END IF;
  IF result ? 'max_label_chars' AND NOT (result ->> 'max_label_chars')::float8 BETWEEN 2 AND 500 THEN
    RAISE EXCEPTION 'option "max_label_chars" of % must be between 2 and 500, not %', chart, result -> 'max_label_chars'
      USING ERRCODE = '22023';
  END IF;
  IF result ? 'scheme' AND NOT (result ->> 'scheme') = ANY (ARRAY['viridis', 'blues']) THEN
    RAISE EXCEPTION 'unknown colour scheme "%" of %', result ->> 'scheme', chart
      USING ERRCODE = '22023', HINT = 'Valid schemes: viridis, blues.';
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION apivalue._chart_options(text, jsonb, jsonb) IS
  'internal: chart options checked against a spec {"name": ["json type", default]} (unknown names and wrong types are errors) and completed with the defaults';

-- Start of a document: root element, <title>, <desc>, white background and
-- the visible title.
CREATE FUNCTION apivalue._svg_open(width float8, height float8, title text, description text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%1$s" height="%2$s" viewBox="0 0 %1$s %2$s" font-family="sans-serif" font-size="12">'
                '<title>%3$s</title><desc>%4$s</desc>'
                '<rect class="background" x="0" y="0" width="%1$s" height="%2$s" fill="#ffffff"/>',
                apivalue._n(width), apivalue._n(height), apivalue._xml_escape(title), apivalue._xml_escape(description))
      || apivalue._svg_label(title, 12, 22, greatest(((width - 24) / 9)::int, 4),
                             ' font-size="15" font-weight="bold" fill="#222222" class="chart-title"')
$$;
COMMENT ON FUNCTION apivalue._svg_open(float8, float8, text, text) IS
  'internal: opening of a chart document: <svg role="img"> with <title>, <desc>, background and visible title';

-- The picture for an empty input.
CREATE FUNCTION apivalue._svg_no_data(o jsonb, what text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT apivalue._svg_open((o ->> 'width')::float8, coalesce((o ->> 'height')::float8, 160),
                            o ->> 'title',
                            coalesce(nullif(o ->> 'description', '') || ' ', '') || what || ': no data.')
      || format('<text class="no-data" x="%s" y="%s" text-anchor="middle" font-size="16" fill="#666666">no data</text></svg>',
                apivalue._n((o ->> 'width')::float8 / 2), apivalue._n(coalesce((o ->> 'height')::float8, 160) / 2 + 10))
$$;
COMMENT ON FUNCTION apivalue._svg_no_data(jsonb, text) IS
  'internal: the "no data" picture drawn for an empty input';

-- ---------------------------------------------------------------------------
-- Shared aggregate state: jsonb {"o": options, "r": [rows]}
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._chart_accum(state jsonb, row_value jsonb, options jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  options := coalesce(options, 'null'::jsonb);
  IF state IS NULL THEN
    state := jsonb_build_object('o', options, 'r', '[]'::jsonb);
  ELSIF state -> 'o' <> options THEN
    RAISE EXCEPTION 'chart options must be the same for every row'
      USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', state -> 'o', options),
            HINT = 'Pass one constant options value.';
  END IF;
  IF row_value IS NULL THEN
    RETURN state;
  END IF;
  -- Labels longer than 16384 characters are cut (with an ellipsis) here, so
  -- a hostile 1 MB label cannot make the state, and every copy of it, huge.
  IF octet_length(row_value::text) > 16384 THEN
    SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'string' AND char_length(v #>> '{}') > 16384
                                    THEN to_jsonb(left(v #>> '{}', 16383) || '…') ELSE v END)
      INTO row_value
      FROM jsonb_each(row_value) AS e(k, v);
  END IF;
  RETURN jsonb_set(state, '{r}', (state -> 'r') || jsonb_build_array(row_value));
END
$$;
COMMENT ON FUNCTION apivalue._chart_accum(jsonb, jsonb, jsonb) IS
  'internal: chart aggregates'' transition: appends one row (NULL = skipped) to the state {"o": options, "r": rows}';

CREATE FUNCTION apivalue._chart_combine(a jsonb, b jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF a IS NULL THEN
    RETURN b;
  ELSIF b IS NULL THEN
    RETURN a;
  ELSIF a -> 'o' <> b -> 'o' THEN
    RAISE EXCEPTION 'chart options must be the same for every row'
      USING ERRCODE = '22023', DETAIL = format('Got %s and %s.', a -> 'o', b -> 'o'),
            HINT = 'Pass one constant options value.';
  END IF;
  RETURN jsonb_build_object('o', a -> 'o', 'r', (a -> 'r') || (b -> 'r'));
END
$$;
COMMENT ON FUNCTION apivalue._chart_combine(jsonb, jsonb) IS
  'internal: chart aggregates'' combine: concatenates the rows of two partial states (options must agree)';

-- A finite number or an error (NaN and infinities cannot be drawn).
CREATE FUNCTION apivalue._chart_finite(chart text, what text, x float8)
RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF x IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN
    RAISE EXCEPTION '% of % must be finite, not %', what, chart, x
      USING ERRCODE = '22003', HINT = 'Filter out or replace NaN and infinite values before drawing.';
  END IF;
  RETURN x;
END
$$;
COMMENT ON FUNCTION apivalue._chart_finite(text, text, float8) IS
  'internal: returns x, or raises an error when it is NaN or infinite';

CREATE FUNCTION apivalue._chart_count(chart text, what text, n bigint)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF n < 0 THEN
    RAISE EXCEPTION '% of % must not be negative, not %', what, chart, n USING ERRCODE = '22023';
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION apivalue._chart_count(text, text, bigint) IS
  'internal: returns n, or raises an error when it is negative';

-- ---------------------------------------------------------------------------
-- heatmap_svg(row_label, column_number, value [, cell_text] [, options])
--
-- A cohort retention triangle: rows sorted by label (byte order, so
-- '2026-03-02' < '2026-03-09'), columns by number, one cell per input row
-- coloured on a sequential scale with a legend.  A NULL value draws a grey
-- cell; rows with a NULL label or column are skipped.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._heatmap_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Retention"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "scheme": ["string", "viridis"], "x_label": ["string", "period"],
              "y_label": ["string", "cohort"], "max_label_chars": ["number", 24],
              "value_format": ["string", "auto"], "min": ["number", null],
              "max": ["number", null]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._heatmap_spec() IS
  'internal: options of heatmap_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer,
                                        value float8, cell_text text, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN row_label IS NOT NULL AND column_number IS NOT NULL THEN
      jsonb_build_object('r', row_label, 'c', column_number,
                         'v', apivalue._chart_finite('heatmap_svg', 'value', value), 't', cell_text) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8, text, jsonb) IS
  'internal: heatmap_svg transition function';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer, value float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._heatmap_accum(state, row_label, column_number, value, NULL, NULL) $$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8) IS
  'internal: heatmap_svg transition function (no cell text, default options)';

CREATE FUNCTION apivalue._heatmap_accum(state jsonb, row_label text, column_number integer, value float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._heatmap_accum(state, row_label, column_number, value, NULL, options) $$;
COMMENT ON FUNCTION apivalue._heatmap_accum(jsonb, text, integer, float8, jsonb) IS
  'internal: heatmap_svg transition function (no cell text)';

CREATE FUNCTION apivalue._heatmap_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('heatmap_svg', state -> 'o', apivalue._heatmap_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  nrows integer; ncols integer; ncells integer;
  vmin float8; vmax float8; pct boolean;
  lab integer; lft float8; top float8 := 70; cw float8; ch float8; h float8;
  out text;
BEGIN
  SELECT count(DISTINCT r), count(DISTINCT c), count(*),
         coalesce((o ->> 'min')::float8, min(v)), coalesce((o ->> 'max')::float8, max(v)),
         CASE o ->> 'value_format' WHEN 'percent' THEN true WHEN 'number' THEN false
              WHEN 'auto' THEN coalesce(bool_and(v BETWEEN 0 AND 1), true) END,
         least(coalesce(max(char_length(r)), 0), maxc)
    INTO nrows, ncols, ncells, vmin, vmax, pct, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(r text, c integer, v float8, t text);
  IF pct IS NULL THEN
    RAISE EXCEPTION 'unknown value_format "%" of heatmap_svg', o ->> 'value_format'
      USING ERRCODE = '22023', HINT = 'Valid formats: auto, percent, number.';
  END IF;
  IF ncells = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Heatmap');
  END IF;
  IF vmax < vmin THEN
    RAISE EXCEPTION 'option "min" of heatmap_svg (%) must not exceed "max" (%)', vmin, vmax USING ERRCODE = '22023';
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  cw := (w - lft - 16) / ncols;
  ch := coalesce(((o ->> 'height')::float8 - top - 64) / nrows, 26);
  IF ch < 4 OR cw < 2 THEN
    RAISE EXCEPTION 'heatmap_svg cannot fit % rows and % columns into % by % pixels', nrows, ncols, w, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger width or height (or none, for a height that fits the rows).';
  END IF;
  h := top + nrows * ch + 64;

  WITH x AS (
    SELECT r, c, v, t FROM jsonb_to_recordset(state -> 'r') AS x(r text, c integer, v float8, t text)),
  rr AS (SELECT r, (row_number() OVER (ORDER BY r COLLATE "C") - 1) AS i FROM (SELECT DISTINCT r FROM x) d),
  cc AS (SELECT c, (row_number() OVER (ORDER BY c) - 1) AS j FROM (SELECT DISTINCT c FROM x) d),
  cells AS (
    SELECT x.*, rr.i, cc.j,
           CASE WHEN v IS NULL THEN '#e0e0e0'
                ELSE apivalue._chart_colour(o ->> 'scheme',
                       CASE WHEN vmax > vmin THEN (v - vmin) / (vmax - vmin) ELSE 0.5 END) END AS fill,
           coalesce(t, CASE WHEN v IS NULL THEN '–' WHEN pct THEN apivalue._fmt_pct(v)
                            ELSE apivalue._fmt_count(v) END) AS label
    FROM x JOIN rr USING (r) JOIN cc USING (c))
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Heatmap of %s cells: %s rows (%s) by %s columns (%s); colour scale (%s) from %s to %s.',
                ncells, nrows, o ->> 'y_label', ncols, o ->> 'x_label', o ->> 'scheme',
                CASE WHEN pct THEN apivalue._fmt_pct(vmin) ELSE apivalue._fmt_count(vmin) END,
                CASE WHEN pct THEN apivalue._fmt_pct(vmax) ELSE apivalue._fmt_count(vmax) END))
    || apivalue._svg_label(o ->> 'x_label', lft + (w - lft - 16) / 2, 44, greatest(((w - lft) / 7)::int, 2),
                           ' text-anchor="middle" fill="#444444" class="axis-label"')
    || apivalue._svg_label(o ->> 'y_label', 8, top - 8, greatest(lab, 6),
                           ' fill="#444444" class="axis-label"')
    || (SELECT string_agg(apivalue._svg_label(c::text, lft + (j + 0.5) * cw, top - 8, greatest((cw / 7)::int, 2),
                                             ' text-anchor="middle" fill="#444444" class="column-label"'), '' ORDER BY j)
        FROM cc)
    || (SELECT string_agg(apivalue._svg_label(r, lft - 8, top + (i + 0.5) * ch + 4, maxc,
                                             ' text-anchor="end" fill="#222222" class="row-label"'), '' ORDER BY i)
        FROM rr)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="cell" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff" stroke-width="1"/>%s</g>',
                 apivalue._xml_escape(r || ', ' || (o ->> 'x_label') || ' ' || c || ': ' || label),
                 apivalue._n(lft + j * cw), apivalue._n(top + i * ch), apivalue._n(cw), apivalue._n(ch), fill,
                 CASE WHEN cw >= 22 AND ch >= 12 THEN
                   apivalue._svg_label(label, lft + (j + 0.5) * cw, top + (i + 0.5) * ch + 4,
                                       greatest(((cw - 4) / 6.5)::int, 2),
                                       format(' text-anchor="middle" font-size="11" fill="%s" class="cell-text"',
                                              CASE WHEN v IS NULL THEN '#444444' ELSE apivalue._chart_ink(fill) END))
                 ELSE '' END),
          '' ORDER BY i, j, v, t COLLATE "C")
        FROM cells)
    -- legend: ten swatches from min to max
    || (SELECT string_agg(format('<rect class="legend" x="%s" y="%s" width="18" height="12" fill="%s"/>',
                                 apivalue._n(lft + k * 18), apivalue._n(top + nrows * ch + 24),
                                 apivalue._chart_colour(o ->> 'scheme', k / 9.0)), '' ORDER BY k)
        FROM generate_series(0, 9) AS k)
    || format('<text x="%s" y="%s" text-anchor="end" font-size="11" fill="#444444">%s</text>',
              apivalue._n(lft - 4), apivalue._n(top + nrows * ch + 34),
              CASE WHEN pct THEN apivalue._fmt_pct(vmin) ELSE apivalue._fmt_count(vmin) END)
    || format('<text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
              apivalue._n(lft + 184), apivalue._n(top + nrows * ch + 34),
              CASE WHEN pct THEN apivalue._fmt_pct(vmax) ELSE apivalue._fmt_count(vmax) END)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._heatmap_final(jsonb) IS
  'internal: heatmap_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8) IS
  'SVG heatmap (cohort retention triangle): one cell per row at (row_label, column_number), sequential colour scale with legend';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8, options jsonb) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8, jsonb) IS
  'SVG heatmap with options (title, description, width, height, scheme viridis|blues, x_label, y_label, max_label_chars, value_format auto|percent|number, min, max)';

CREATE AGGREGATE apivalue.heatmap_svg(row_label text, column_number integer, value float8, cell_text text, options jsonb) (
  SFUNC = apivalue._heatmap_accum, STYPE = jsonb, FINALFUNC = apivalue._heatmap_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.heatmap_svg(text, integer, float8, text, jsonb) IS
  'SVG heatmap whose cells show cell_text instead of the formatted value; options as for heatmap_svg(text, integer, float8, jsonb)';

-- ---------------------------------------------------------------------------
-- funnel_svg(step, label, users [, options])
--
-- Horizontal bars in step order, length proportional to users, with the
-- count, the conversion from the first step and from the previous one, and
-- the drop-off from the previous step drawn as a grey extension.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._funnel_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Funnel"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "scheme": ["string", "viridis"], "x_label": ["string", "users"],
              "y_label": ["string", "step"], "max_label_chars": ["number", 24]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._funnel_spec() IS
  'internal: options of funnel_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._funnel_accum(state jsonb, step integer, label text, users bigint, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN step IS NOT NULL AND users IS NOT NULL THEN
      jsonb_build_object('s', step, 'l', label, 'u', apivalue._chart_count('funnel_svg', 'users', users)) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._funnel_accum(jsonb, integer, text, bigint, jsonb) IS
  'internal: funnel_svg transition function';

CREATE FUNCTION apivalue._funnel_accum(state jsonb, step integer, label text, users bigint)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._funnel_accum(state, step, label, users, NULL) $$;
COMMENT ON FUNCTION apivalue._funnel_accum(jsonb, integer, text, bigint) IS
  'internal: funnel_svg transition function (default options)';

CREATE FUNCTION apivalue._funnel_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('funnel_svg', state -> 'o', apivalue._funnel_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  n integer; umax bigint; lab integer; lft float8; bw float8; bh float8; gap float8; h float8;
  top float8 := 40;
  colour text := apivalue._chart_colour(o ->> 'scheme', CASE o ->> 'scheme' WHEN 'blues' THEN 0.8 ELSE 0.3 END);
  out text;
BEGIN
  SELECT count(*), max(u), least(coalesce(max(char_length(coalesce(l, 'step ' || s))), 0), maxc)
    INTO n, umax, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(s integer, l text, u bigint);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Funnel');
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  bw := w - lft - 16;
  IF bw < 40 THEN
    RAISE EXCEPTION 'funnel_svg cannot fit its labels into a width of %', w
      USING ERRCODE = '22023', HINT = 'Give a larger width or a smaller max_label_chars.';
  END IF;
  gap := 22;
  bh := coalesce(((o ->> 'height')::float8 - top - 10) / n - gap, 26);
  IF bh < 4 THEN
    RAISE EXCEPTION 'funnel_svg cannot fit % bars into a height of %', n, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger height (or none, for a height that fits the bars).';
  END IF;
  h := top + n * (bh + gap) + 10;

  WITH x AS (
    SELECT s, coalesce(l, 'step ' || s) AS l, u,
           row_number() OVER (ORDER BY s, l COLLATE "C", u) - 1 AS i
    FROM jsonb_to_recordset(state -> 'r') AS x(s integer, l text, u bigint)),
  y AS (
    SELECT x.*, first_value(u) OVER (ORDER BY i) AS u0, lag(u) OVER (ORDER BY i) AS up,
           CASE WHEN umax > 0 THEN bw * u / umax ELSE 0 END AS len,
           CASE WHEN umax > 0 THEN bw * lag(u) OVER (ORDER BY i) / umax END AS lenp
    FROM x)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Funnel of %s steps: ', n)
      || (SELECT string_agg(format('%s %s', l, apivalue._fmt_count(u)), ', ' ORDER BY i) FROM y)
      || '.')
    || (SELECT string_agg(
          apivalue._svg_label(l, lft - 8, top + i * (bh + gap) + bh / 2 + 4, maxc,
                              ' text-anchor="end" fill="#222222" class="step-label"')
          || CASE WHEN lenp > len THEN
               format('<g><title>%s</title><rect class="drop" x="%s" y="%s" width="%s" height="%s" fill="#dddddd"/></g>',
                      apivalue._xml_escape(format('%s: %s dropped after the previous step', l, apivalue._fmt_count(up - u))),
                      apivalue._n(lft + len), apivalue._n(top + i * (bh + gap)), apivalue._n(lenp - len), apivalue._n(bh))
             ELSE '' END
          || format('<g><title>%s</title><rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s"/></g>',
                    apivalue._xml_escape(format('%s: %s %s', l, apivalue._fmt_count(u), o ->> 'x_label')),
                    apivalue._n(lft), apivalue._n(top + i * (bh + gap)), apivalue._n(len), apivalue._n(bh), colour)
          || format('<text class="bar-text" x="%s" y="%s" font-size="11" fill="#333333">%s</text>',
                    apivalue._n(lft), apivalue._n(top + i * (bh + gap) + bh + 13),
                    apivalue._xml_escape(
                      apivalue._fmt_count(u) || ' ' || (o ->> 'x_label')
                      || CASE WHEN i > 0 THEN
                           ' · ' || apivalue._fmt_pct(u::float8 / nullif(u0, 0)) || ' of first step · '
                           || apivalue._fmt_pct(u::float8 / nullif(up, 0)) || ' of previous · '
                           || CASE WHEN up >= u THEN '−' || apivalue._fmt_count(up - u) || ' dropped'
                                   ELSE '+' || apivalue._fmt_count(u - up) END
                         ELSE '' END)),
          '' ORDER BY i)
        FROM y)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._funnel_final(jsonb) IS
  'internal: funnel_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.funnel_svg(step integer, label text, users bigint) (
  SFUNC = apivalue._funnel_accum, STYPE = jsonb, FINALFUNC = apivalue._funnel_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.funnel_svg(integer, text, bigint) IS
  'SVG funnel: one horizontal bar per row in step order with users, conversion from the first and the previous step, and drop-off';

CREATE AGGREGATE apivalue.funnel_svg(step integer, label text, users bigint, options jsonb) (
  SFUNC = apivalue._funnel_accum, STYPE = jsonb, FINALFUNC = apivalue._funnel_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.funnel_svg(integer, text, bigint, jsonb) IS
  'SVG funnel with options (title, description, width, height, scheme viridis|blues, x_label, y_label, max_label_chars)';

-- ---------------------------------------------------------------------------
-- sankey_svg(depth, from_step, to_step, users [, options])
--
-- Journey flows as journey_flows returns them: a link per row from node
-- (column depth - 1, from_step) to node (column depth, to_step), its width
-- proportional to users; a NULL to_step is a drop-off, drawn as a grey link
-- into a grey "drop-off" node at the bottom of the next column.  A node's
-- height is the larger of its inflow and outflow; in each column nodes are
-- stacked by size (then label), drop-off last.  Rows with a NULL depth,
-- from_step or users are skipped; labels of nodes thinner than 10 px are in
-- their tooltip only.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._sankey_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Journeys"], "description": ["string", ""],
              "width": ["number", 800], "height": ["number", null],
              "max_label_chars": ["number", 20], "drop_label": ["string", "drop-off"]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._sankey_spec() IS
  'internal: options of sankey_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._sankey_accum(state jsonb, depth integer, from_step text, to_step text,
                                       users bigint, options jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  IF depth < 1 OR depth > 100 THEN
    RAISE EXCEPTION 'depth of sankey_svg must be between 1 and 100, not %', depth USING ERRCODE = '22023';
  END IF;
  RETURN apivalue._chart_accum(state,
    CASE WHEN depth IS NOT NULL AND from_step IS NOT NULL AND users IS NOT NULL THEN
      jsonb_build_object('d', depth, 'f', from_step, 't', to_step,
                         'u', apivalue._chart_count('sankey_svg', 'users', users)) END,
    options);
END
$$;
COMMENT ON FUNCTION apivalue._sankey_accum(jsonb, integer, text, text, bigint, jsonb) IS
  'internal: sankey_svg transition function';

CREATE FUNCTION apivalue._sankey_accum(state jsonb, depth integer, from_step text, to_step text, users bigint)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._sankey_accum(state, depth, from_step, to_step, users, NULL) $$;
COMMENT ON FUNCTION apivalue._sankey_accum(jsonb, integer, text, text, bigint) IS
  'internal: sankey_svg transition function (default options)';

CREATE FUNCTION apivalue._sankey_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('sankey_svg', state -> 'o', apivalue._sankey_spec());
  w float8 := (o ->> 'width')::float8;
  h float8 := coalesce((o ->> 'height')::float8, 420);
  maxc integer := (o ->> 'max_label_chars')::integer;
  top float8 := 40; bottom float8 := 12; nodew float8 := 12;
  n integer; ncols integer; maxcnt integer; pad float8; k float8; colw float8;
  nodes jsonb;
  out text;
BEGIN
  SELECT count(*), max(d) + 1 INTO n, ncols
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS x(d integer, f text, t text, u bigint);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Sankey diagram');
  END IF;
  colw := (w - 16 - nodew) / greatest(ncols - 1, 1);

  -- nodes: (col, lab, drop) with value = greatest(inflow, outflow)
  WITH x AS (
    SELECT d, f, t, u FROM jsonb_to_recordset(state -> 'r') AS x(d integer, f text, t text, u bigint)),
  ends AS (
    SELECT d - 1 AS col, f AS lab, false AS dr, 0::bigint AS uin, u AS uout FROM x
    UNION ALL
    SELECT d, coalesce(t, ''), t IS NULL, u, 0 FROM x),
  nd AS (
    SELECT col, lab, dr, greatest(sum(uin), sum(uout))::float8 AS val, sum(uin) AS inflow, sum(uout) AS outflow
    FROM ends GROUP BY col, lab, dr)
  SELECT jsonb_agg(to_jsonb(nd)) INTO nodes FROM nd;

  SELECT max(cnt) INTO maxcnt FROM (
    SELECT count(*) AS cnt FROM jsonb_to_recordset(nodes) AS z(col integer) GROUP BY col) c;
  pad := least(10, (h - top - bottom) * 0.3 / greatest(maxcnt - 1, 1));
  SELECT min((h - top - bottom - pad * (cnt - 1)) / nullif(tot, 0)) INTO k
  FROM (SELECT col, count(*) AS cnt, sum(val) AS tot
        FROM jsonb_to_recordset(nodes) AS z(col integer, val float8) GROUP BY col) c;
  k := coalesce(k, 0);

  WITH x AS (
    SELECT d, f, t, u, row_number() OVER (ORDER BY d, f COLLATE "C", t COLLATE "C" NULLS LAST, u) AS id
    FROM jsonb_to_recordset(state -> 'r') AS x(d integer, f text, t text, u bigint)),
  nd AS (
    SELECT z.*,
           row_number() OVER (PARTITION BY col ORDER BY dr, val DESC, lab COLLATE "C") - 1 AS pos,
           coalesce(sum(val) OVER (PARTITION BY col ORDER BY dr, val DESC, lab COLLATE "C"
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM jsonb_to_recordset(nodes) AS z(col integer, lab text, dr boolean, val float8, inflow bigint, outflow bigint)),
  pal AS (
    SELECT lab, row_number() OVER (ORDER BY lab COLLATE "C")::integer AS ci
    FROM (SELECT DISTINCT lab FROM nd WHERE NOT dr) l),
  np AS (
    SELECT nd.*, 8 + col * colw AS nx, top + before * k + pos * pad AS ny, val * k AS nh,
           CASE WHEN nd.dr THEN '#9a9a9a' ELSE apivalue._chart_category(pal.ci) END AS colour,
           CASE WHEN nd.dr THEN o ->> 'drop_label' ELSE nd.lab END AS shown
    FROM nd LEFT JOIN pal ON pal.lab = nd.lab AND NOT nd.dr),
  lk AS (
    SELECT x.*, s.nx + nodew AS x0, tg.nx AS x1, s.colour, tg.dr AS to_drop,
           s.ny + coalesce(sum(x.u) OVER (PARTITION BY x.d, x.f ORDER BY tg.pos, x.id
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) * k AS y0,
           tg.ny + coalesce(sum(x.u) OVER (PARTITION BY x.d, tg.lab, tg.dr ORDER BY s.pos, x.id
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) * k AS y1,
           x.u * k AS lh
    FROM x
    JOIN np s ON s.col = x.d - 1 AND s.lab = x.f AND NOT s.dr
    JOIN np tg ON tg.col = x.d AND tg.lab = coalesce(x.t, '') AND tg.dr = (x.t IS NULL))
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Sankey diagram of %s links over %s steps; widths proportional to users.', n, ncols))
    || (SELECT coalesce(string_agg(
          format('<path class="%s" d="M%s %s C%s %s %s %s %s %s L%s %s C%s %s %s %s %s %s Z" fill="%s" fill-opacity="%s"><title>%s</title></path>',
                 CASE WHEN to_drop THEN 'drop' ELSE 'link' END,
                 apivalue._n(x0), apivalue._n(y0), apivalue._n((x0 + x1) / 2), apivalue._n(y0),
                 apivalue._n((x0 + x1) / 2), apivalue._n(y1), apivalue._n(x1), apivalue._n(y1),
                 apivalue._n(x1), apivalue._n(y1 + lh), apivalue._n((x0 + x1) / 2), apivalue._n(y1 + lh),
                 apivalue._n((x0 + x1) / 2), apivalue._n(y0 + lh), apivalue._n(x0), apivalue._n(y0 + lh),
                 CASE WHEN to_drop THEN '#9a9a9a' ELSE colour END,
                 CASE WHEN to_drop THEN '0.35' ELSE '0.45' END,
                 apivalue._xml_escape(format('step %s: %s → %s: %s users', d, f,
                   coalesce(t, o ->> 'drop_label'), apivalue._fmt_count(u)))),
          '' ORDER BY id), '') FROM lk)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="node" x="%s" y="%s" width="%s" height="%s" fill="%s"/></g>',
                 apivalue._xml_escape(format('%s (step %s): %s users', shown, col + 1, apivalue._fmt_count(val))),
                 apivalue._n(nx), apivalue._n(ny), apivalue._n(nodew), apivalue._n(greatest(nh, 1)), colour)
          || CASE WHEN nh >= 10 THEN
               apivalue._svg_label(shown, CASE WHEN col = ncols - 1 THEN nx - 4 ELSE nx + nodew + 4 END,
                                   ny + least(nh / 2, 12) + 4, maxc,
                                   CASE WHEN col = ncols - 1 THEN ' text-anchor="end"' ELSE '' END
                                   || ' font-size="11" fill="#111111" stroke="#ffffff" stroke-width="3" paint-order="stroke" class="node-label"')
             ELSE '' END,
          '' ORDER BY col, pos) FROM np)
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._sankey_final(jsonb) IS
  'internal: sankey_svg final function: lays out nodes and links and draws the SVG';

CREATE AGGREGATE apivalue.sankey_svg(depth integer, from_step text, to_step text, users bigint) (
  SFUNC = apivalue._sankey_accum, STYPE = jsonb, FINALFUNC = apivalue._sankey_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sankey_svg(integer, text, text, bigint) IS
  'SVG Sankey diagram of journey flows (rows shaped like journey_flows): one link per row, width proportional to users, NULL to_step = drop-off';

CREATE AGGREGATE apivalue.sankey_svg(depth integer, from_step text, to_step text, users bigint, options jsonb) (
  SFUNC = apivalue._sankey_accum, STYPE = jsonb, FINALFUNC = apivalue._sankey_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.sankey_svg(integer, text, text, bigint, jsonb) IS
  'SVG Sankey diagram with options (title, description, width, height, max_label_chars, drop_label)';

-- ---------------------------------------------------------------------------
-- line_svg(series, x, y [, y_low, y_high] [, options])
--
-- One curve per series (sorted by name), points joined in x order (then y),
-- as straight lines or, with {"step": true}, as a step function that holds
-- each value until the next x (Kaplan-Meier curves).  Where y_low and y_high
-- are both given a translucent band is drawn between them.  x may be epoch
-- seconds shown as UTC dates ({"x_format": "date"}).  Rows with a NULL x or
-- y are skipped; a NULL series is the series "".
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._line_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Trend"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", 320],
              "scheme": ["string", null], "x_label": ["string", ""], "y_label": ["string", ""],
              "max_label_chars": ["number", 24], "step": ["boolean", false],
              "x_format": ["string", "number"], "y_format": ["string", "auto"],
              "y_min": ["number", null], "y_max": ["number", null]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._line_spec() IS
  'internal: options of line_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8,
                                     y_low float8, y_high float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT apivalue._chart_accum(state,
    CASE WHEN x IS NOT NULL AND y IS NOT NULL THEN
      jsonb_build_object('s', coalesce(series, ''),
                         'x', apivalue._chart_finite('line_svg', 'x', x),
                         'y', apivalue._chart_finite('line_svg', 'y', y),
                         'l', apivalue._chart_finite('line_svg', 'y_low', y_low),
                         'u', apivalue._chart_finite('line_svg', 'y_high', y_high)) END,
    options)
$$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, float8, float8, jsonb) IS
  'internal: line_svg transition function';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, NULL, NULL, NULL) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8) IS
  'internal: line_svg transition function (no band, default options)';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8, options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, NULL, NULL, options) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, jsonb) IS
  'internal: line_svg transition function (no band)';

CREATE FUNCTION apivalue._line_accum(state jsonb, series text, x float8, y float8, y_low float8, y_high float8)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._line_accum(state, series, x, y, y_low, y_high, NULL) $$;
COMMENT ON FUNCTION apivalue._line_accum(jsonb, text, float8, float8, float8, float8) IS
  'internal: line_svg transition function (default options)';

-- An axis tick label: a number, a share, or epoch seconds as a UTC date.
CREATE FUNCTION apivalue._line_tick(v float8, fmt text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE fmt
    WHEN 'date' THEN to_char(to_timestamp(v) AT TIME ZONE 'UTC', 'YYYY-MM-DD')
    WHEN 'percent' THEN trim_scale(round((v * 100)::numeric, 1)) || '%'
    ELSE apivalue._fmt_count(v) END
$$;
COMMENT ON FUNCTION apivalue._line_tick(float8, text) IS
  'internal: tick label of line_svg axes (number, percent, or epoch seconds as a UTC date)';

CREATE FUNCTION apivalue._line_final(state jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('line_svg', state -> 'o', apivalue._line_spec());
  w float8 := (o ->> 'width')::float8;
  h float8 := (o ->> 'height')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  step boolean := (o ->> 'step')::boolean;
  xf text := o ->> 'x_format';
  yf text;
  n integer; ns integer;
  xmin float8; xmax float8; ymin float8; ymax float8;
  lft float8 := 64; rgt float8 := 16; top float8 := 56; bot float8;
  pw float8; ph float8;
  xticks float8[]; yticks float8[];
  out text;
BEGIN
  IF NOT xf = ANY (ARRAY['number', 'date']) THEN
    RAISE EXCEPTION 'unknown x_format "%" of line_svg', xf USING ERRCODE = '22023', HINT = 'Valid formats: number, date.';
  END IF;
  IF NOT (o ->> 'y_format') = ANY (ARRAY['auto', 'number', 'percent']) THEN
    RAISE EXCEPTION 'unknown y_format "%" of line_svg', o ->> 'y_format'
      USING ERRCODE = '22023', HINT = 'Valid formats: auto, number, percent.';
  END IF;
  SELECT count(*), count(DISTINCT s), min(x), max(x),
         least(min(y), min(l), min(u)), greatest(max(y), max(l), max(u))
    INTO n, ns, xmin, xmax, ymin, ymax
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS r(s text, x float8, y float8, l float8, u float8);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Line chart');
  END IF;
  yf := CASE WHEN o ->> 'y_format' <> 'auto' THEN o ->> 'y_format'
             WHEN ymin >= 0 AND ymax <= 1 THEN 'percent' ELSE 'number' END;
  IF ymin >= 0 THEN ymin := 0; END IF;              -- counts and shares start at zero
  ymin := coalesce((o ->> 'y_min')::float8, ymin);
  ymax := coalesce((o ->> 'y_max')::float8, ymax);
  IF ymax < ymin THEN
    RAISE EXCEPTION 'option "y_min" of line_svg (%) must not exceed "y_max" (%)', ymin, ymax USING ERRCODE = '22023';
  END IF;
  IF ymax = ymin THEN ymax := ymin + 1; END IF;
  IF xmax = xmin THEN xmin := xmin - 1; xmax := xmax + 1; END IF;
  IF xf = 'date' THEN
    xticks := ARRAY(SELECT t * 86400 FROM unnest(apivalue._nice_ticks(xmin / 86400, xmax / 86400, 5)) t
                    WHERE t = trunc(t));
  ELSE
    xticks := apivalue._nice_ticks(xmin, xmax, 6);
  END IF;
  yticks := apivalue._nice_ticks(ymin, ymax, 5);
  bot := 44;
  pw := w - lft - rgt;
  ph := h - top - bot;
  IF pw < 20 OR ph < 20 THEN
    RAISE EXCEPTION 'line_svg cannot fit its plot into % by % pixels', w, h
      USING ERRCODE = '22023', HINT = 'Give a larger width or height.';
  END IF;

  WITH r AS (
    SELECT s, x, y, l, u AS hi,
           lft + (x - xmin) / (xmax - xmin) * pw AS px,
           top + ph - (least(greatest(y, ymin), ymax) - ymin) / (ymax - ymin) * ph AS py,
           top + ph - (least(greatest(l, ymin), ymax) - ymin) / (ymax - ymin) * ph AS pl,
           top + ph - (least(greatest(u, ymin), ymax) - ymin) / (ymax - ymin) * ph AS ph_
    FROM jsonb_to_recordset(state -> 'r') AS r(s text, x float8, y float8, l float8, u float8)),
  sr AS (
    SELECT s, row_number() OVER (ORDER BY s COLLATE "C")::integer AS si, count(*) AS pts
    FROM (SELECT s FROM r) z GROUP BY s),
  c AS (
    SELECT sr.s, sr.si, sr.pts,
           CASE WHEN o ->> 'scheme' IS NULL THEN apivalue._chart_category(sr.si)
                ELSE apivalue._chart_colour(o ->> 'scheme', CASE WHEN ns > 1 THEN 0.85 * (sr.si - 1) / (ns - 1) ELSE 0.3 END)
           END AS colour
    FROM sr),
  pts AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.s ORDER BY r.x, r.y, r.l, r.hi) AS k FROM r),
  line AS (
    SELECT s, string_agg(CASE WHEN k = 1 THEN format('M%s %s', apivalue._n(px), apivalue._n(py))
                              WHEN step THEN format(' H%s V%s', apivalue._n(px), apivalue._n(py))
                              ELSE format(' L%s %s', apivalue._n(px), apivalue._n(py)) END, '' ORDER BY k) AS d
    FROM pts GROUP BY s),
  bpts AS (
    SELECT p.*, row_number() OVER (PARTITION BY s ORDER BY k) AS bk, count(*) OVER (PARTITION BY s) AS bn
    FROM pts p WHERE l IS NOT NULL AND hi IS NOT NULL),
  band AS (
    SELECT s,
           string_agg(CASE WHEN bk = 1 THEN format('M%s %s', apivalue._n(px), apivalue._n(ph_))
                           WHEN step THEN format(' H%s V%s', apivalue._n(px), apivalue._n(ph_))
                           ELSE format(' L%s %s', apivalue._n(px), apivalue._n(ph_)) END, '' ORDER BY bk)
           || format(' V%s', apivalue._n(max(pl) FILTER (WHERE bk = bn)))
           || coalesce(string_agg(CASE WHEN step THEN format(' V%s H%s', apivalue._n(pl_prev), apivalue._n(px_prev))
                                       ELSE format(' L%s %s', apivalue._n(px_prev), apivalue._n(pl_prev)) END,
                                  '' ORDER BY bk DESC) FILTER (WHERE bk > 1), '')
           || ' Z' AS d
    FROM (SELECT b.*, lag(px) OVER (PARTITION BY s ORDER BY bk) AS px_prev,
                      lag(pl) OVER (PARTITION BY s ORDER BY bk) AS pl_prev FROM bpts b) b
    GROUP BY s)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('%s chart of %s series, %s points; x from %s to %s, y from %s to %s.',
                CASE WHEN step THEN 'Step' ELSE 'Line' END, ns, n,
                apivalue._line_tick(xmin, xf), apivalue._line_tick(xmax, xf),
                apivalue._line_tick(ymin, yf), apivalue._line_tick(ymax, yf)))
    -- grid and y ticks
    || (SELECT coalesce(string_agg(
          format('<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s" stroke="#e5e5e5"/><text x="%s" y="%s" text-anchor="end" font-size="11" fill="#444444">%s</text>',
                 apivalue._n(lft), apivalue._n(lft + pw),
                 apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph), apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph),
                 apivalue._n(lft - 6), apivalue._n(top + ph - (t - ymin) / (ymax - ymin) * ph + 4),
                 apivalue._xml_escape(apivalue._line_tick(t, yf))), '' ORDER BY t), '')
        FROM unnest(yticks) t)
    || (SELECT coalesce(string_agg(
          format('<line class="tick" x1="%1$s" x2="%1$s" y1="%2$s" y2="%3$s" stroke="#888888"/><text x="%1$s" y="%4$s" text-anchor="middle" font-size="11" fill="#444444">%5$s</text>',
                 apivalue._n(lft + (t - xmin) / (xmax - xmin) * pw), apivalue._n(top + ph), apivalue._n(top + ph + 5),
                 apivalue._n(top + ph + 17), apivalue._xml_escape(apivalue._line_tick(t, xf))), '' ORDER BY t), '')
        FROM unnest(xticks) t)
    || format('<line class="axis" x1="%1$s" x2="%2$s" y1="%3$s" y2="%3$s" stroke="#888888"/>',
              apivalue._n(lft), apivalue._n(lft + pw), apivalue._n(top + ph))
    || apivalue._svg_label(o ->> 'x_label', lft + pw / 2, h - 6, greatest((pw / 7)::int, 2),
                           ' text-anchor="middle" fill="#444444" class="axis-label"')
    || CASE WHEN coalesce(o ->> 'y_label', '') = '' THEN ''
            ELSE format('<g transform="translate(14 %s) rotate(-90)">%s</g>', apivalue._n(top + ph / 2),
                        apivalue._svg_label(o ->> 'y_label', 0, 0, greatest((ph / 7)::int, 2),
                                            ' text-anchor="middle" fill="#444444" class="axis-label"')) END
    || coalesce((SELECT string_agg(format('<path class="band" d="%s" fill="%s" fill-opacity="0.2" stroke="none"/>', band.d, c.colour),
                                   '' ORDER BY c.si)
                 FROM band JOIN c USING (s)), '')
    || (SELECT string_agg(format('<path class="line" d="%s" fill="none" stroke="%s" stroke-width="2"><title>%s</title></path>',
                                 line.d, c.colour,
                                 apivalue._xml_escape(format('%s: %s points', nullif(c.s, ''), c.pts))),
                          '' ORDER BY c.si)
        FROM line JOIN c USING (s))
    -- legend (only when there is more than one series or the series is named)
    || CASE WHEN ns = 1 AND (SELECT min(s) FROM r) = '' THEN '' ELSE
         (SELECT string_agg(format('<rect class="legend" x="%s" y="36" width="12" height="4" fill="%s"/>',
                                   apivalue._n(lft + (si - 1) * (pw / ns)), colour)
                            || apivalue._svg_label(s, lft + (si - 1) * (pw / ns) + 16, 42,
                                                   least(maxc, greatest(((pw / ns - 20) / 7)::int, 2)),
                                                   ' font-size="11" fill="#222222" class="legend-label"'),
                            '' ORDER BY si)
          FROM c) END
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._line_final(jsonb) IS
  'internal: line_svg final function: draws the SVG';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8) IS
  'SVG line chart: one curve per series through (x, y) in x order';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, options jsonb) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, jsonb) IS
  'SVG line chart with options (title, description, width, height, scheme, x_label, y_label, max_label_chars, step, x_format number|date, y_format auto|number|percent, y_min, y_max)';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, y_low float8, y_high float8) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, float8, float8) IS
  'SVG line chart with a band between y_low and y_high (confidence interval)';

CREATE AGGREGATE apivalue.line_svg(series text, x float8, y float8, y_low float8, y_high float8, options jsonb) (
  SFUNC = apivalue._line_accum, STYPE = jsonb, FINALFUNC = apivalue._line_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.line_svg(text, float8, float8, float8, float8, jsonb) IS
  'SVG line chart with a band between y_low and y_high, with options as for line_svg(text, float8, float8, jsonb)';

-- ---------------------------------------------------------------------------
-- status_strip_svg(check_name, run_at, status [, options])
--
-- Quality-check history: one row per check (sorted by name), one cell per run
-- in time order, the latest run at the right edge; pass / warn / fail / error
-- in Okabe-Ito colours with a letter mark on non-pass cells wide enough for
-- one, anything else as grey "?".  Only the last max_runs runs of each check
-- are drawn.  Rows with a NULL check_name or run_at are skipped.
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._status_spec()
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"title": ["string", "Quality checks"], "description": ["string", ""],
              "width": ["number", 640], "height": ["number", null],
              "max_label_chars": ["number", 24], "max_runs": ["number", 60],
              "x_label": ["string", "runs, oldest to latest"]}'::jsonb $$;
COMMENT ON FUNCTION apivalue._status_spec() IS
  'internal: options of status_strip_svg with their JSON types and defaults';

CREATE FUNCTION apivalue._status_accum(state jsonb, check_name text, run_at timestamptz, status text, options jsonb)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  IF run_at IN ('infinity'::timestamptz, '-infinity'::timestamptz) THEN
    RAISE EXCEPTION 'run_at of status_strip_svg must be finite, not %', run_at USING ERRCODE = '22008';
  END IF;
  RETURN apivalue._chart_accum(state,
    CASE WHEN check_name IS NOT NULL AND run_at IS NOT NULL THEN
      jsonb_build_object('c', check_name, 't', extract(epoch FROM run_at), 's', status) END,
    options);
END
$$;
COMMENT ON FUNCTION apivalue._status_accum(jsonb, text, timestamptz, text, jsonb) IS
  'internal: status_strip_svg transition function';

CREATE FUNCTION apivalue._status_accum(state jsonb, check_name text, run_at timestamptz, status text)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT apivalue._status_accum(state, check_name, run_at, status, NULL) $$;
COMMENT ON FUNCTION apivalue._status_accum(jsonb, text, timestamptz, text) IS
  'internal: status_strip_svg transition function (default options)';

CREATE FUNCTION apivalue._status_final(state jsonb)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  o jsonb := apivalue._chart_options('status_strip_svg', state -> 'o', apivalue._status_spec());
  w float8 := (o ->> 'width')::float8;
  maxc integer := (o ->> 'max_label_chars')::integer;
  maxruns integer := (o ->> 'max_runs')::integer;
  n integer; nchecks integer; nmax integer; lab integer;
  lft float8; rgt float8 := 150; top float8 := 40; rh float8; cw float8; h float8;
  tmin timestamptz; tmax timestamptz;
  out text;
BEGIN
  IF maxruns < 1 OR maxruns > 1000 THEN
    RAISE EXCEPTION 'option "max_runs" of status_strip_svg must be between 1 and 1000, not %', maxruns USING ERRCODE = '22023';
  END IF;
  SELECT count(*), count(DISTINCT c), least(coalesce(max(char_length(c)), 0), maxc)
    INTO n, nchecks, lab
  FROM jsonb_to_recordset(coalesce(state -> 'r', '[]')) AS r(c text);
  IF n = 0 THEN
    RETURN apivalue._svg_no_data(o, 'Quality check history');
  END IF;
  lft := greatest(16 + (lab + 1) * 7, 60);
  rh := coalesce(((o ->> 'height')::float8 - top - 56) / nchecks, 22);
  IF rh < 4 THEN
    RAISE EXCEPTION 'status_strip_svg cannot fit % checks into a height of %', nchecks, o ->> 'height'
      USING ERRCODE = '22023', HINT = 'Give a larger height (or none, for a height that fits the checks).';
  END IF;
  h := top + nchecks * rh + 56;

  WITH r AS (
    SELECT c, to_timestamp(t) AS t,
           CASE WHEN lower(s) IN ('pass', 'warn', 'fail', 'error') THEN lower(s) ELSE 'unknown' END AS s,
           s AS raw,
           row_number() OVER (PARTITION BY c ORDER BY t DESC, s COLLATE "C" DESC) AS back
    FROM jsonb_to_recordset(state -> 'r') AS r(c text, t numeric, s text)),
  kept AS (SELECT * FROM r WHERE back <= maxruns),
  ck AS (
    SELECT c, row_number() OVER (ORDER BY c COLLATE "C") - 1 AS i, count(*) AS runs,
           count(*) FILTER (WHERE s <> 'pass') AS bad
    FROM kept GROUP BY c)
  SELECT max(back), min(t), max(t) INTO nmax, tmin, tmax FROM kept;
  cw := least(16, (w - lft - rgt) / nmax);
  IF cw < 1 THEN
    RAISE EXCEPTION 'status_strip_svg cannot fit % runs into a width of %', nmax, w
      USING ERRCODE = '22023', HINT = 'Give a larger width or a smaller max_runs.';
  END IF;

  WITH r AS (
    SELECT c, to_timestamp(t) AS t,
           CASE WHEN lower(s) IN ('pass', 'warn', 'fail', 'error') THEN lower(s) ELSE 'unknown' END AS s,
           s AS raw,
           row_number() OVER (PARTITION BY c ORDER BY t DESC, s COLLATE "C" DESC) AS back
    FROM jsonb_to_recordset(state -> 'r') AS r(c text, t numeric, s text)),
  kept AS (
    SELECT r.*,
           CASE s WHEN 'pass' THEN '#009e73' WHEN 'warn' THEN '#e69f00' WHEN 'fail' THEN '#d55e00'
                  WHEN 'error' THEN '#000000' ELSE '#bbbbbb' END AS colour,
           CASE s WHEN 'pass' THEN '' WHEN 'warn' THEN '!' WHEN 'fail' THEN 'x'
                  WHEN 'error' THEN 'E' ELSE '?' END AS mark
    FROM r WHERE back <= maxruns),
  ck AS (
    SELECT c, row_number() OVER (ORDER BY c COLLATE "C") - 1 AS i, count(*) AS runs,
           count(*) FILTER (WHERE s <> 'pass') AS bad,
           (array_agg(s ORDER BY back))[1] AS latest
    FROM kept GROUP BY c)
  SELECT
    apivalue._svg_open(w, h, o ->> 'title',
      coalesce(nullif(o ->> 'description', '') || ' ', '')
      || format('Status history of %s checks, %s runs drawn%s; latest: %s.', nchecks, (SELECT count(*) FROM kept),
                CASE WHEN n > (SELECT count(*) FROM kept) THEN format(' (%s older runs left out)', n - (SELECT count(*) FROM kept)) ELSE '' END,
                (SELECT string_agg(format('%s %s', c, latest), ', ' ORDER BY i) FROM ck)))
    || (SELECT string_agg(
          apivalue._svg_label(c, lft - 8, top + i * rh + rh / 2 + 4, maxc,
                              ' text-anchor="end" fill="#222222" class="check-label"')
          || format('<text class="summary" x="%s" y="%s" font-size="11" fill="#333333">%s</text>',
                    apivalue._n(w - rgt + 8), apivalue._n(top + i * rh + rh / 2 + 4),
                    apivalue._xml_escape(format('%s · %s of %s not pass', latest, bad, runs))),
          '' ORDER BY i) FROM ck)
    || (SELECT string_agg(
          format('<g><title>%s</title><rect class="run" x="%s" y="%s" width="%s" height="%s" fill="%s" stroke="#ffffff" stroke-width="1"/>%s</g>',
                 apivalue._xml_escape(format('%s · %s · %s', k.c, to_char(k.t, 'YYYY-MM-DD HH24:MI:SS TZ'), coalesce(k.raw, 'no status'))),
                 apivalue._n(w - rgt - k.back * cw), apivalue._n(top + ck.i * rh + 1), apivalue._n(cw), apivalue._n(rh - 2), k.colour,
                 CASE WHEN k.mark <> '' AND cw >= 9 AND rh >= 10 THEN
                   format('<text x="%s" y="%s" text-anchor="middle" font-size="10" font-weight="bold" fill="%s">%s</text>',
                          apivalue._n(w - rgt - k.back * cw + cw / 2), apivalue._n(top + ck.i * rh + rh / 2 + 4),
                          apivalue._chart_ink(k.colour), k.mark)
                 ELSE '' END),
          '' ORDER BY ck.i, k.back DESC)
        FROM kept k JOIN ck USING (c))
    || format('<text x="%s" y="%s" font-size="11" fill="#444444" text-anchor="end">%s</text>',
              apivalue._n(w - rgt), apivalue._n(top + nchecks * rh + 16), 'latest ' || to_char(tmax, 'YYYY-MM-DD HH24:MI'))
    || format('<text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
              apivalue._n(w - rgt - nmax * cw), apivalue._n(top + nchecks * rh + 16),
              CASE WHEN tmin < tmax AND nmax * cw >= 260 THEN to_char(tmin, 'YYYY-MM-DD HH24:MI') ELSE '' END)
    || (SELECT string_agg(format('<rect class="legend" x="%s" y="%s" width="12" height="12" fill="%s"/><text x="%s" y="%s" font-size="11" fill="#444444">%s</text>',
                                 apivalue._n(lft + j * 70), apivalue._n(top + nchecks * rh + 30), col,
                                 apivalue._n(lft + j * 70 + 16), apivalue._n(top + nchecks * rh + 40), name), '' ORDER BY j)
        FROM (VALUES (0, 'pass', '#009e73'), (1, 'warn', '#e69f00'), (2, 'fail', '#d55e00'), (3, 'error', '#000000'))
             AS lg(j, name, col))
    || '</svg>'
  INTO out;
  RETURN out;
END
$$;
COMMENT ON FUNCTION apivalue._status_final(jsonb) IS
  'internal: status_strip_svg final function: draws the SVG (times in the session time zone)';

CREATE AGGREGATE apivalue.status_strip_svg(check_name text, run_at timestamptz, status text) (
  SFUNC = apivalue._status_accum, STYPE = jsonb, FINALFUNC = apivalue._status_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.status_strip_svg(text, timestamptz, text) IS
  'SVG status strip of quality-check history: one row per check, one cell per run (pass/warn/fail/error), latest at the right';

CREATE AGGREGATE apivalue.status_strip_svg(check_name text, run_at timestamptz, status text, options jsonb) (
  SFUNC = apivalue._status_accum, STYPE = jsonb, FINALFUNC = apivalue._status_final,
  COMBINEFUNC = apivalue._chart_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE apivalue.status_strip_svg(text, timestamptz, text, jsonb) IS
  'SVG status strip with options (title, description, width, height, max_label_chars, max_runs, x_label)';
