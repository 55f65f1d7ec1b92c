-- apivalue 0.2.0 -> 0.3.0
--
-- Every change to an object of the extension since the frozen 0.2.0
-- install script is repeated here (append only, under a comment line
-- naming the branch); test/layers/upgrade.sh checks that ALTER EXTENSION
-- apivalue UPDATE yields exactly the objects of a fresh 0.3.0 install.
\echo Use "ALTER EXTENSION apivalue UPDATE TO '0.3.0'" to load this file. \quit
