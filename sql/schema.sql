-- apivalue install script: schema-wide set-up.
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).

\echo Use "CREATE EXTENSION apivalue" to load this file. \quit

COMMENT ON SCHEMA apivalue IS
  'apivalue: API product analytics (funnels, journeys, time to value, retention, data quality, lineage)';
