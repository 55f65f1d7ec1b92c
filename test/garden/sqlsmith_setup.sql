-- Database set-up for test/layers/sqlsmith.sh (run as superuser after
-- test/garden/setup.sql).  SQLsmith reads pg_proc without a schema, so
-- the role "smith" gets a search_path with a schema "shadow" before
-- pg_catalog, whose view pg_proc shows SQLsmith a smaller catalog: every
-- function of apivalue (pg_depend deptype 'e' members) that smith may
-- execute, and one core function in 8 (fixed by oid) that smith may execute
-- and that is not polymorphic (SQLsmith can only feed anyrange & co with
-- casts of NULL to the pseudo-type, which always fail), so that most
-- generated queries reach apivalue.  (pg_type cannot be shadowed the same
-- way: SQLsmith crashes when an operator's type is missing.)
CREATE ROLE smith LOGIN PASSWORD 'smith';
CREATE SCHEMA shadow;

CREATE VIEW shadow.pg_proc AS
  SELECT p.* FROM pg_catalog.pg_proc p
  WHERE has_function_privilege('smith', p.oid, 'EXECUTE')
    AND (EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                 WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                   AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'apivalue'))
         OR p.oid::bigint % 8 = 0)
    AND (p.pronamespace = 'apivalue'::regnamespace
         OR NOT EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[] || p.prorettype) a(t)
                        JOIN pg_catalog.pg_type t ON t.oid = a.t
                        WHERE t.typtype = 'p' AND t.typname NOT IN ('any', 'void', 'record')));

GRANT USAGE ON SCHEMA shadow TO smith;
GRANT SELECT ON shadow.pg_proc TO smith;
ALTER ROLE smith SET search_path = shadow, pg_catalog, public;

GRANT USAGE ON SCHEMA garden TO smith;
GRANT SELECT ON ALL TABLES IN SCHEMA garden TO smith;
DO $$
BEGIN
  IF to_regnamespace('sample') IS NOT NULL THEN
    EXECUTE 'GRANT USAGE ON SCHEMA sample TO smith';
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA sample TO smith';
  END IF;
END
$$;
