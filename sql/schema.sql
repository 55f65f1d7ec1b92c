-- apivalue install script: schema-wide set-up.
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).

\echo Use "CREATE EXTENSION apivalue" to load this file. \quit

-- Every role may use the extension's functions and views; what they can read
-- is still decided by their privileges on the events and catalog tables.
GRANT USAGE ON SCHEMA apivalue TO PUBLIC;

COMMENT ON SCHEMA apivalue IS
  'apivalue: API product analytics (funnels, journeys, time to value, retention, data quality, lineage)';

-- ---------------------------------------------------------------------------
-- Shared validation for table functions.
--
-- Table functions take a relation, column names and SQL expressions as text.
-- These helpers check them before anything runs and return the piece of SQL
-- that is safe to interpolate: a quoted identifier, or a parenthesized
-- expression (the newline before ')' ends a trailing "--" comment).
-- ---------------------------------------------------------------------------

CREATE FUNCTION apivalue._expression_type(rel regclass, expr text, what text DEFAULT 'expression')
RETURNS regtype
AS 'MODULE_PATHNAME', 'apivalue_expression_type'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION apivalue._expression_type(regclass, text, text) IS
  'internal: type of one SQL expression over rel, planned but never run; rejects anything that is not exactly one expression';

CREATE FUNCTION apivalue._expression(rel regclass, expr text, what text DEFAULT 'expression',
                                     expected regtype DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
-- No pinned search_path: the expression is the caller's and must resolve the
-- way it will when the calling table function runs it.
AS $$
DECLARE
  t regtype;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'relation for % must not be NULL', what USING ERRCODE = '22004';
  END IF;
  IF expr IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
  END IF;
  t := apivalue._expression_type(rel, expr, what);
  IF expected IS NOT NULL AND t <> expected THEN
    RAISE EXCEPTION '% must be of type %, not %', what, expected, t
      USING ERRCODE = '42804',
            DETAIL = format('The expression is: %s', expr);
  END IF;
  RETURN '(' || expr || E'\n)';
END
$$;

COMMENT ON FUNCTION apivalue._expression(regclass, text, text, regtype) IS
  'internal: validates one SQL expression over rel (optionally of an expected type) and returns it parenthesized, safe to interpolate';

CREATE FUNCTION apivalue._condition(rel regclass, expr text, what text DEFAULT 'condition')
RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
AS $$ SELECT apivalue._expression(rel, expr, what, 'boolean'::regtype) $$;

COMMENT ON FUNCTION apivalue._condition(regclass, text, text) IS
  'internal: validates a boolean SQL condition over rel and returns it parenthesized, safe to interpolate';

CREATE FUNCTION apivalue._column(rel regclass, col text, what text DEFAULT 'column',
                                 allowed regtype[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t regtype;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'relation for % must not be NULL', what USING ERRCODE = '22004';
  END IF;
  IF col IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', what USING ERRCODE = '22004';
  END IF;
  SELECT a.atttypid::regtype INTO t
  FROM pg_attribute a
  WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'column "%" of relation % does not exist', col, rel
      USING ERRCODE = '42703',
            HINT = format('%s names a column of %s.', initcap(what), rel);
  END IF;
  IF allowed IS NOT NULL AND NOT t = ANY (allowed) THEN
    RAISE EXCEPTION '% "%" has type %, expected one of %', what, col, t, allowed
      USING ERRCODE = '42804';
  END IF;
  RETURN quote_ident(col);
END
$$;

COMMENT ON FUNCTION apivalue._column(regclass, text, text, regtype[]) IS
  'internal: checks that col is a column of rel (optionally of an allowed type) and returns it quoted';
