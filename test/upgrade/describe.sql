-- Describe every object of the apivalue extension, free of OIDs, one line per
-- attribute: object <TAB> attribute <TAB> value (multi-line values, such as
-- function and view definitions, give one line per source line).  Run in a
-- database holding the extension; test/layers/upgrade.sh diffs the output of
-- an updated database against that of a fresh install.
--
-- What is described:
--   * the pg_extension row (version, owner, schema, relocatable) and its
--     config-table registration (extconfig/extcondition, as a set);
--   * the extension's schema (owner, ACL, comment);
--   * every member (pg_depend deptype 'e'): EVERY column of its catalog row,
--     OID references resolved to object descriptions through
--     pg_get_catalog_foreign_keys() (so a new catalog column or a new kind of
--     member is compared without changing this file); expression trees
--     through pg_get_expr / pg_get_*def; its comment and pg_init_privs;
--   * per kind: pg_aggregate row of aggregates, pg_get_functiondef of
--     functions and procedures, columns (by position among live columns;
--     defaults, ACLs, comments), constraints, indexes, triggers, policies,
--     rules and view definitions of relations and composite types, sequence
--     parameters and OWNED BY, enum labels, range and domain definitions,
--     operator-family members;
--   * the rows an extension table holds that are the extension's own (all
--     rows of a table that is not a config table; for a config table the
--     rows its extcondition excludes from dumps);
--   * objects in the extension's schema that are not members (should be none).
-- Physical state that legitimately differs between an updated and a fresh
-- database is left out: relfilenode, pages/tuples, frozen xids, attnums of
-- dropped columns, "has index/rules/triggers/subclass" hints (cleared lazily),
-- missing-value defaults of added columns, the toast table's name.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\o /dev/null
-- Object names print schema-qualified, the same way in every database.
SET search_path = pg_catalog, pg_temp;

CREATE TEMP TABLE fk AS
  SELECT fktable, fkcols[1] AS col, pktable, is_array
    FROM pg_catalog.pg_get_catalog_foreign_keys()
   WHERE array_length(fkcols, 1) = 1;

-- Columns left out per catalog (physical state, or attnums that depend on
-- dropped columns; the attnum-free form is described separately).
CREATE TEMP TABLE skip (cat regclass, col name);
INSERT INTO skip VALUES
  ('pg_class', 'relfilenode'), ('pg_class', 'relpages'), ('pg_class', 'reltuples'),
  ('pg_class', 'relallvisible'), ('pg_class', 'relfrozenxid'), ('pg_class', 'relminmxid'),
  ('pg_class', 'relhasindex'), ('pg_class', 'relhasrules'), ('pg_class', 'relhastriggers'),
  ('pg_class', 'relhassubclass'), ('pg_class', 'relnatts'), ('pg_class', 'reltoastrelid'),
  ('pg_attribute', 'attrelid'), ('pg_attribute', 'attnum'), ('pg_attribute', 'atthasmissing'),
  ('pg_attribute', 'attmissingval'), ('pg_attribute', 'attisdropped'),
  ('pg_constraint', 'conkey'), ('pg_constraint', 'confkey'), ('pg_constraint', 'confdelsetcols'),
  ('pg_index', 'indkey'), ('pg_index', 'indcheckxmin'),
  ('pg_trigger', 'tgattr'),
  ('pg_statistic_ext', 'stxkeys'),
  -- compared as a set of (table, condition) pairs: the order of registration
  -- is no definition
  ('pg_extension', 'extconfig'), ('pg_extension', 'extcondition');

-- Columns rendered by an expression of their own: this server stamps every
-- column with a per-database number in attoptions (pg_attver=N), which is
-- not a definition; every other attribute option is compared.
CREATE TEMP TABLE special (cat regclass, col name, expr text);
INSERT INTO special VALUES
  ('pg_attribute', 'attoptions',
   $$(SELECT array_agg(o ORDER BY o) FROM unnest(c.attoptions) o WHERE o NOT LIKE 'pg\_attver=%')::text$$);

-- Every column of the rows of catalog cat that match cond (c is the row),
-- as (attribute, value) text pairs; OID references resolved to descriptions,
-- expression trees (pg_node_tree) left to the caller.  A bare OID column
-- without a known reference prints a marker rather than a raw OID.
CREATE FUNCTION pg_temp.fields(cat regclass, cond text)
RETURNS TABLE (attr text, val text)
LANGUAGE plpgsql AS $f$
DECLARE
  sel text;
BEGIN
  SELECT string_agg(
           CASE
             WHEN sp.expr IS NOT NULL THEN format('%s AS %I', sp.expr, a.attname)
             WHEN fk.pktable IS NOT NULL AND fk.is_array THEN
               format($s$(SELECT string_agg(coalesce(pg_catalog.pg_describe_object(%L::regclass, u.x, 0), '-'), ', ' ORDER BY u.n)
                            FROM unnest(c.%I::oid[]) WITH ORDINALITY u(x, n)) AS %I$s$,
                      fk.pktable, a.attname, a.attname)
             WHEN fk.pktable IS NOT NULL THEN
               format($s$coalesce(pg_catalog.pg_describe_object(%L::regclass, c.%I::oid, 0), '-') AS %I$s$,
                      fk.pktable, a.attname, a.attname)
             WHEN a.atttypid IN ('oid'::regtype, 'regproc'::regtype, 'oidvector'::regtype,
                                 'oid[]'::regtype, 'xid'::regtype) THEN
               format($s$'(not comparable: %s)'::text AS %I$s$, a.atttypid::regtype, a.attname)
             ELSE format('c.%I::text AS %I', a.attname, a.attname)
           END, ', ' ORDER BY a.attnum)
    INTO sel
    FROM pg_attribute a
    LEFT JOIN pg_temp.fk ON fk.fktable = fields.cat AND fk.col = a.attname::text
    LEFT JOIN pg_temp.special sp ON sp.cat = fields.cat AND sp.col = a.attname
   WHERE a.attrelid = fields.cat AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname <> 'oid' AND a.atttypid <> 'pg_node_tree'::regtype
     AND NOT EXISTS (SELECT FROM pg_temp.skip s WHERE s.cat = fields.cat AND s.col = a.attname);
  RETURN QUERY EXECUTE format(
    'SELECT j.key, coalesce(j.value, ''<null>'') FROM (SELECT %s FROM %s c WHERE %s) r, jsonb_each_text(to_jsonb(r)) j',
    sel, cat, cond);
END
$f$;

-- The description lines: obj, attr, value; one line per line of value.
CREATE TEMP TABLE d (obj text, attr text, val text, ord int DEFAULT 0);
CREATE FUNCTION pg_temp.put(o text, a text, v text) RETURNS void
LANGUAGE sql AS $$ INSERT INTO pg_temp.d VALUES (o, a, coalesce(v, '<null>')) $$;
CREATE FUNCTION pg_temp.put_fields(o text, prefix text, cat regclass, cond text) RETURNS void
LANGUAGE sql AS $$ INSERT INTO pg_temp.d SELECT o, prefix || f.attr, f.val FROM pg_temp.fields(cat, cond) f $$;
-- comment and initial privileges of one object or sub-object
CREATE FUNCTION pg_temp.put_meta(o text, cat regclass, id oid, sub int) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO pg_temp.d
  SELECT o, 'comment', coalesce((SELECT description FROM pg_description
                                  WHERE classoid = cat AND objoid = id AND objsubid = sub), '<none>')
  UNION ALL
  SELECT o, 'init_privs ' || privtype::text, initprivs::text
    FROM pg_init_privs WHERE classoid = cat AND objoid = id AND objsubid = sub;
$$;

CREATE TEMP TABLE ext AS SELECT * FROM pg_extension WHERE extname = 'apivalue';
DO $$ BEGIN
  IF (SELECT count(*) FROM pg_temp.ext) <> 1 THEN
    RAISE EXCEPTION 'extension apivalue is not installed in database %', current_database();
  END IF;
END $$;

-- The members.
CREATE TEMP TABLE m AS
  SELECT dep.classid::regclass AS cat, dep.objid, dep.objsubid,
         pg_describe_object(dep.classid, dep.objid, dep.objsubid) AS obj
    FROM pg_depend dep, pg_temp.ext
   WHERE dep.refclassid = 'pg_extension'::regclass AND dep.refobjid = ext.oid
     AND dep.deptype = 'e';

-- Extension row and config registration.
SELECT pg_temp.put_fields('extension apivalue', '', 'pg_extension', 'c.extname = ''apivalue''');
INSERT INTO d
SELECT 'extension apivalue', 'config ' || c.tbl, 'condition: ' || coalesce(nullif(c.cond, ''), '<all rows>')
  FROM pg_temp.ext, unnest(ext.extconfig::regclass[]::text[], ext.extcondition) c(tbl, cond);
SELECT pg_temp.put_meta('extension apivalue', 'pg_extension', oid, 0) FROM pg_temp.ext;

-- The schema (created by CREATE EXTENSION, so not itself a member).
SELECT pg_temp.put_fields('schema ' || n.nspname, '', 'pg_namespace', format('c.oid = %s', n.oid)),
       pg_temp.put_meta('schema ' || n.nspname, 'pg_namespace', n.oid, 0)
  FROM pg_temp.ext JOIN pg_namespace n ON n.oid = ext.extnamespace;

-- Default privileges the extension set in its schema.
SELECT pg_temp.put_fields('schema ' || n.nspname || ' default privileges ' || a.defaclobjtype::text, '',
                          'pg_default_acl', format('c.oid = %s', a.oid))
  FROM pg_temp.ext JOIN pg_namespace n ON n.oid = ext.extnamespace
  JOIN pg_default_acl a ON a.defaclnamespace = n.oid;

-- Every member: its whole catalog row, comment, initial privileges.
SELECT pg_temp.put(m.obj, 'member of', m.cat::text),
       pg_temp.put_fields(m.obj, '', m.cat,
         format('c.%I = %s', CASE m.cat WHEN 'pg_aggregate'::regclass THEN 'aggfnoid' ELSE 'oid' END, m.objid)),
       pg_temp.put_meta(m.obj, m.cat, m.objid, m.objsubid)
  FROM pg_temp.m;

-- Functions, procedures, aggregates.
SELECT pg_temp.put(m.obj, 'arguments', pg_get_function_arguments(p.oid)),
       pg_temp.put(m.obj, 'result', pg_get_function_result(p.oid))
  FROM pg_temp.m JOIN pg_proc p ON m.cat = 'pg_proc'::regclass AND p.oid = m.objid;
INSERT INTO d
SELECT m.obj, 'definition', l, k
  FROM pg_temp.m JOIN pg_proc p ON m.cat = 'pg_proc'::regclass AND p.oid = m.objid AND p.prokind <> 'a',
       regexp_split_to_table(pg_get_functiondef(p.oid), E'\n') WITH ORDINALITY s(l, k);
SELECT pg_temp.put_fields(m.obj, 'aggregate ', 'pg_aggregate', format('c.aggfnoid = %s', m.objid))
  FROM pg_temp.m JOIN pg_proc p ON m.cat = 'pg_proc'::regclass AND p.oid = m.objid AND p.prokind = 'a';

-- Types: enum labels, range and domain definitions; composite types are
-- described with their columns below.
INSERT INTO d
SELECT m.obj, 'enum labels', string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
  FROM pg_temp.m JOIN pg_enum e ON m.cat = 'pg_type'::regclass AND e.enumtypid = m.objid
 GROUP BY m.obj;
SELECT pg_temp.put_fields(m.obj, 'range ', 'pg_range', format('c.rngtypid = %s', m.objid))
  FROM pg_temp.m JOIN pg_type t ON m.cat = 'pg_type'::regclass AND t.oid = m.objid AND t.typtype = 'r';
SELECT pg_temp.put(m.obj, 'default', t.typdefault)
  FROM pg_temp.m JOIN pg_type t ON m.cat = 'pg_type'::regclass AND t.oid = m.objid AND t.typtype = 'd';
SELECT pg_temp.put_fields(m.obj || ' constraint ' || c.conname, '', 'pg_constraint', format('c.oid = %s', c.oid)),
       pg_temp.put(m.obj || ' constraint ' || c.conname, 'definition', pg_get_constraintdef(c.oid)),
       pg_temp.put_meta(m.obj || ' constraint ' || c.conname, 'pg_constraint', c.oid, 0)
  FROM pg_temp.m JOIN pg_constraint c ON m.cat = 'pg_type'::regclass AND c.contypid = m.objid;

-- Relations: member tables, views, materialized views, sequences, foreign
-- tables, and the relations behind composite types.
CREATE TEMP TABLE rel AS
  SELECT m.obj, m.objid AS relid FROM pg_temp.m WHERE m.cat = 'pg_class'::regclass
  UNION ALL
  SELECT m.obj, t.typrelid
    FROM pg_temp.m JOIN pg_type t ON m.cat = 'pg_type'::regclass AND t.oid = m.objid AND t.typrelid <> 0;

SELECT pg_temp.put(r.obj, 'has toast table', (c.reltoastrelid <> 0)::text)
  FROM pg_temp.rel r JOIN pg_class c ON c.oid = r.relid WHERE c.relkind IN ('r', 'p', 'm');
-- the relation row of a composite type (the type itself is the member)
SELECT pg_temp.put_fields(r.obj, 'relation ', 'pg_class', format('c.oid = %s', r.relid))
  FROM pg_temp.rel r JOIN pg_temp.m ON m.obj = r.obj AND m.cat = 'pg_type'::regclass;

-- columns, by position among the live columns
CREATE TEMP TABLE col AS
  SELECT r.obj || ' column ' || quote_ident(a.attname) AS obj, r.relid, a.attnum,
         row_number() OVER (PARTITION BY r.relid ORDER BY a.attnum) AS position
    FROM pg_temp.rel r JOIN pg_attribute a ON a.attrelid = r.relid AND a.attnum > 0 AND NOT a.attisdropped;
SELECT pg_temp.put(c.obj, 'position', c.position::text),
       pg_temp.put(c.obj, 'type', format_type(a.atttypid, a.atttypmod)),
       pg_temp.put(c.obj, 'default', pg_get_expr(ad.adbin, ad.adrelid)),
       pg_temp.put_fields(c.obj, '', 'pg_attribute', format('c.attrelid = %s AND c.attnum = %s', c.relid, c.attnum)),
       pg_temp.put_meta(c.obj, 'pg_class', c.relid, c.attnum)
  FROM pg_temp.col c
  JOIN pg_attribute a ON a.attrelid = c.relid AND a.attnum = c.attnum
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.relid AND ad.adnum = c.attnum;

-- constraints
SELECT pg_temp.put_fields(r.obj || ' constraint ' || c.conname, '', 'pg_constraint', format('c.oid = %s', c.oid)),
       pg_temp.put(r.obj || ' constraint ' || c.conname, 'definition', pg_get_constraintdef(c.oid)),
       pg_temp.put_meta(r.obj || ' constraint ' || c.conname, 'pg_constraint', c.oid, 0)
  FROM pg_temp.rel r JOIN pg_constraint c ON c.conrelid = r.relid;

-- indexes (their own pg_class row too)
SELECT pg_temp.put_fields(r.obj || ' index ' || i.indexrelid::regclass, '', 'pg_index', format('c.indexrelid = %s', i.indexrelid)),
       pg_temp.put_fields(r.obj || ' index ' || i.indexrelid::regclass, 'relation ', 'pg_class', format('c.oid = %s', i.indexrelid)),
       pg_temp.put(r.obj || ' index ' || i.indexrelid::regclass, 'definition', pg_get_indexdef(i.indexrelid)),
       pg_temp.put_meta(r.obj || ' index ' || i.indexrelid::regclass, 'pg_class', i.indexrelid, 0)
  FROM pg_temp.rel r JOIN pg_index i ON i.indrelid = r.relid;

-- triggers
SELECT pg_temp.put_fields(r.obj || ' trigger ' || t.tgname, '', 'pg_trigger', format('c.oid = %s', t.oid)),
       pg_temp.put(r.obj || ' trigger ' || t.tgname, 'definition', pg_get_triggerdef(t.oid)),
       pg_temp.put_meta(r.obj || ' trigger ' || t.tgname, 'pg_trigger', t.oid, 0)
  FROM pg_temp.rel r JOIN pg_trigger t ON t.tgrelid = r.relid AND NOT t.tgisinternal;

-- row-level security policies
SELECT pg_temp.put_fields(r.obj || ' policy ' || p.polname, '', 'pg_policy', format('c.oid = %s', p.oid)),
       pg_temp.put(r.obj || ' policy ' || p.polname, 'using', pg_get_expr(p.polqual, p.polrelid)),
       pg_temp.put(r.obj || ' policy ' || p.polname, 'with check', pg_get_expr(p.polwithcheck, p.polrelid)),
       pg_temp.put_meta(r.obj || ' policy ' || p.polname, 'pg_policy', p.oid, 0)
  FROM pg_temp.rel r JOIN pg_policy p ON p.polrelid = r.relid;

-- rules, and the definitions of views and materialized views
SELECT pg_temp.put_fields(r.obj || ' rule ' || w.rulename, '', 'pg_rewrite', format('c.oid = %s', w.oid)),
       pg_temp.put_meta(r.obj || ' rule ' || w.rulename, 'pg_rewrite', w.oid, 0)
  FROM pg_temp.rel r JOIN pg_rewrite w ON w.ev_class = r.relid;
INSERT INTO d
SELECT r.obj || ' rule ' || w.rulename, 'definition', l, k
  FROM pg_temp.rel r JOIN pg_rewrite w ON w.ev_class = r.relid AND w.rulename <> '_RETURN',
       regexp_split_to_table(pg_get_ruledef(w.oid), E'\n') WITH ORDINALITY s(l, k);
INSERT INTO d
SELECT r.obj, 'view definition', l, k
  FROM pg_temp.rel r JOIN pg_class c ON c.oid = r.relid AND c.relkind IN ('v', 'm'),
       regexp_split_to_table(pg_get_viewdef(c.oid), E'\n') WITH ORDINALITY s(l, k);

-- extended statistics
SELECT pg_temp.put_fields(r.obj || ' statistics ' || s.stxname, '', 'pg_statistic_ext', format('c.oid = %s', s.oid)),
       pg_temp.put(r.obj || ' statistics ' || s.stxname, 'definition', pg_get_statisticsobjdef(s.oid))
  FROM pg_temp.rel r JOIN pg_statistic_ext s ON s.stxrelid = r.relid;

-- sequences: parameters and the column that owns them
SELECT pg_temp.put_fields(r.obj, 'sequence ', 'pg_sequence', format('c.seqrelid = %s', r.relid))
  FROM pg_temp.rel r JOIN pg_class c ON c.oid = r.relid AND c.relkind = 'S';
INSERT INTO d
SELECT r.obj, 'owned by ' || dep.deptype::text, pg_describe_object(dep.refclassid, dep.refobjid, dep.refobjsubid)
  FROM pg_temp.rel r JOIN pg_class c ON c.oid = r.relid AND c.relkind = 'S'
  JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                    AND dep.deptype IN ('a', 'i') AND dep.refclassid = 'pg_class'::regclass;

-- operator families: their operators and support functions
INSERT INTO d
SELECT m.obj, 'member', pg_describe_object('pg_amop'::regclass, o.oid, 0)
  FROM pg_temp.m JOIN pg_amop o ON m.cat = 'pg_opfamily'::regclass AND o.amopfamily = m.objid
UNION ALL
SELECT m.obj, 'member', pg_describe_object('pg_amproc'::regclass, p.oid, 0)
  FROM pg_temp.m JOIN pg_amproc p ON m.cat = 'pg_opfamily'::regclass AND p.amprocfamily = m.objid;

-- The extension's own rows in its tables.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT m.obj, m.objid::regclass AS tbl, cfg.cond
      FROM pg_temp.m JOIN pg_class c ON m.cat = 'pg_class'::regclass AND c.oid = m.objid
                                    AND c.relkind IN ('r', 'p')
      LEFT JOIN (SELECT t.tbl, t.cond
                   FROM pg_temp.ext, unnest(ext.extconfig, ext.extcondition) t(tbl, cond)) cfg
             ON cfg.tbl = m.objid
  LOOP
    IF r.cond = '' THEN
      CONTINUE;      -- every row is user data
    END IF;
    EXECUTE format(
      'INSERT INTO pg_temp.d SELECT %L, ''row'', x FROM (SELECT t::text FROM %s t %s) r(x)',
      r.obj, r.tbl,
      CASE WHEN r.cond IS NULL THEN '' ELSE 'EXCEPT ALL SELECT t::text FROM ' || r.tbl || ' t ' || r.cond END);
  END LOOP;
END $$;

-- Objects in the extension's schema that are not members of it (nor parts of
-- a member: array types, row types, indexes, toast).
INSERT INTO d
SELECT 'schema ' || n.nspname, 'non-member', pg_describe_object(o.cat, o.oid, 0)
  FROM pg_temp.ext JOIN pg_namespace n ON n.oid = ext.extnamespace,
  LATERAL (SELECT 'pg_proc'::regclass AS cat, oid FROM pg_proc WHERE pronamespace = n.oid
           UNION ALL SELECT 'pg_type', oid FROM pg_type WHERE typnamespace = n.oid
           UNION ALL SELECT 'pg_class', oid FROM pg_class WHERE relnamespace = n.oid
           UNION ALL SELECT 'pg_operator', oid FROM pg_operator WHERE oprnamespace = n.oid
           UNION ALL SELECT 'pg_collation', oid FROM pg_collation WHERE collnamespace = n.oid
           UNION ALL SELECT 'pg_conversion', oid FROM pg_conversion WHERE connamespace = n.oid
           UNION ALL SELECT 'pg_opclass', oid FROM pg_opclass WHERE opcnamespace = n.oid
           UNION ALL SELECT 'pg_opfamily', oid FROM pg_opfamily WHERE opfnamespace = n.oid
           UNION ALL SELECT 'pg_ts_config', oid FROM pg_ts_config WHERE cfgnamespace = n.oid
           UNION ALL SELECT 'pg_statistic_ext', oid FROM pg_statistic_ext WHERE stxnamespace = n.oid) o
 WHERE NOT EXISTS (SELECT FROM pg_depend dep
                    WHERE dep.classid = o.cat AND dep.objid = o.oid
                      AND dep.deptype IN ('e', 'i', 'a'))
   AND NOT EXISTS (SELECT FROM pg_index i WHERE o.cat = 'pg_class'::regclass AND i.indexrelid = o.oid)
   AND NOT EXISTS (SELECT FROM pg_class c WHERE o.cat = 'pg_type'::regclass AND c.reltype = o.oid);

-- Counts (part of the diff too).
INSERT INTO d
SELECT '~counts', 'members ' || cat::text, count(*)::text FROM pg_temp.m GROUP BY cat
UNION ALL SELECT '~counts', 'members', count(*)::text FROM pg_temp.m
UNION ALL SELECT '~counts', 'aggregates', count(*)::text
  FROM pg_temp.m JOIN pg_proc p ON m.cat = 'pg_proc'::regclass AND p.oid = m.objid AND p.prokind = 'a'
UNION ALL SELECT '~counts', 'sub-objects (columns, constraints, indexes, triggers, policies, rules)',
  ((SELECT count(DISTINCT obj) FROM pg_temp.d) - (SELECT count(*) FROM pg_temp.m) - 2)::text;

\o
\pset format unaligned
\pset tuples_only on
\pset fieldsep '\t'
\pset null '<null>'
-- Equal (object, attribute) pairs with several values (table rows, family
-- members) sort by value; split definitions keep their line order.
SELECT obj, attr, l
  FROM pg_temp.d, regexp_split_to_table(d.val, E'\n') WITH ORDINALITY s(l, k)
 ORDER BY obj COLLATE "C", attr COLLATE "C", d.ord, d.val COLLATE "C", s.k;
