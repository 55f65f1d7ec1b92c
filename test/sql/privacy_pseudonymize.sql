-- apivalue.pseudonymize: HMAC-SHA256 with keys no ordinary role can read.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- RFC 4231 test cases 1-4, 6 and 7 (case 5 truncates the output), with the
-- RFC's keys inserted as key material and its expected digests typed in.
CREATE TEMP TABLE rfc4231 (tc int, key bytea, data bytea, expected text);
INSERT INTO rfc4231 VALUES
  (1, '\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b', convert_to('Hi There', 'UTF8'),
   'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'),
  (2, convert_to('Jefe', 'UTF8'), convert_to('what do ya want for nothing?', 'UTF8'),
   '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'),
  (3, decode(repeat('aa', 20), 'hex'), decode(repeat('dd', 50), 'hex'),
   '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'),
  (4, '\x0102030405060708090a0b0c0d0e0f10111213141516171819', decode(repeat('cd', 50), 'hex'),
   '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'),
  (6, decode(repeat('aa', 131), 'hex'),
   convert_to('Test Using Larger Than Block-Size Key - Hash Key First', 'UTF8'),
   '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'),
  (7, decode(repeat('aa', 131), 'hex'),
   convert_to('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.', 'UTF8'),
   '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2');

SELECT apivalue.add_pseudonym_key('rfc4231_tc' || tc, key) FROM rfc4231 ORDER BY tc;

-- bytea form for every case; text form where the RFC data is text.
SELECT tc,
       apivalue.pseudonymize(data, 'rfc4231_tc' || tc) = expected AS bytea_ok,
       CASE WHEN tc IN (3, 4) THEN NULL
            ELSE apivalue.pseudonymize(convert_from(data, 'UTF8'), 'rfc4231_tc' || tc) = expected
       END AS text_ok,
       apivalue.hmac_sha256(data, key) = decode(expected, 'hex') AS primitive_ok
  FROM rfc4231 ORDER BY tc;
SELECT apivalue.pseudonymize('Hi There', 'rfc4231_tc1');

-- NULL in, NULL out; the same input gives the same pseudonym; text is hashed
-- as UTF-8.
SELECT apivalue.pseudonymize(NULL::text, 'rfc4231_tc1') IS NULL AS null_value,
       apivalue.pseudonymize('user-42', NULL) IS NULL AS null_key,
       apivalue.pseudonymize('user-42', 'rfc4231_tc2') = apivalue.pseudonymize('user-42', 'rfc4231_tc2') AS stable,
       apivalue.pseudonymize('user-42', 'rfc4231_tc2') <> apivalue.pseudonymize('user-43', 'rfc4231_tc2') AS distinct_inputs,
       apivalue.pseudonymize('müller', 'rfc4231_tc2')
         = apivalue.pseudonymize(convert_to('müller', 'UTF8'), 'rfc4231_tc2') AS utf8;

-- Rotation: the name alone moves to the new version; every old version stays
-- addressable as name:version.
SELECT apivalue.add_pseudonym_key('catpriv_users', convert_to('first secret', 'UTF8'));
SELECT apivalue.pseudonymize('user-42', 'catpriv_users') AS v1;
SELECT apivalue.rotate_pseudonym_key('catpriv_users', convert_to('second secret', 'UTF8'));
SELECT apivalue.rotate_pseudonym_key('catpriv_users');  -- random secret
SELECT apivalue.pseudonymize('user-42', 'catpriv_users:1')
         = encode(apivalue.hmac_sha256(convert_to('user-42', 'UTF8'), convert_to('first secret', 'UTF8')), 'hex') AS v1_still_addressable,
       apivalue.pseudonymize('user-42', 'catpriv_users:2')
         = encode(apivalue.hmac_sha256(convert_to('user-42', 'UTF8'), convert_to('second secret', 'UTF8')), 'hex') AS v2_addressable,
       apivalue.pseudonymize('user-42', 'catpriv_users') = apivalue.pseudonymize('user-42', 'catpriv_users:3') AS name_is_latest,
       apivalue.pseudonymize('user-42', 'catpriv_users:3') <> apivalue.pseudonymize('user-42', 'catpriv_users:2') AS rotated;
SELECT key_name, version, active, created_by = current_user AS by_me
  FROM apivalue.pseudonym_key_versions WHERE key_name = 'catpriv_users' ORDER BY version;
SELECT octet_length(secret) FROM apivalue.pseudonym_keys
 WHERE key_name = 'catpriv_users' AND version = 3;

-- A key whose own name looks like name:version is still found by its name.
SELECT apivalue.add_pseudonym_key('catpriv_users:9', convert_to('odd name', 'UTF8'));
SELECT apivalue.pseudonymize('x', 'catpriv_users:9')
         = encode(apivalue.hmac_sha256('\x78', convert_to('odd name', 'UTF8')), 'hex') AS exact_name_wins;

-- Errors, as the caller sees them and by SQLSTATE.
SELECT apivalue.pseudonymize('user-42', 'catpriv_nope');
SELECT apivalue.pseudonymize('user-42', 'catpriv_users:7');
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT what, pg_temp.sqlstate_of(stmt) AS sqlstate
  FROM (VALUES
    ('unknown key', $$SELECT apivalue.pseudonymize('a', 'catpriv_nope')$$),
    ('unknown version', $$SELECT apivalue.pseudonymize('a', 'catpriv_users:7')$$),
    ('add existing key', $$SELECT apivalue.add_pseudonym_key('catpriv_users', '\x01')$$),
    ('rotate unknown key', $$SELECT apivalue.rotate_pseudonym_key('catpriv_nope', '\x01')$$),
    ('empty secret', $$SELECT apivalue.add_pseudonym_key('catpriv_empty', '\x')$$),
    ('blank key name', $$SELECT apivalue.add_pseudonym_key(' ', '\x01')$$),
    ('too many random bytes', $$SELECT apivalue.random_bytes(5000)$$),
    ('zero random bytes', $$SELECT apivalue.random_bytes(0)$$)
  ) AS t(what, stmt)
 ORDER BY what;

-- An ordinary role can pseudonymize and list key names, but cannot read a
-- secret or manage keys.
CREATE ROLE regress_catpriv_user;
SET ROLE regress_catpriv_user;
SELECT apivalue.pseudonymize('user-42', 'catpriv_users:1')
         = encode(apivalue.hmac_sha256(convert_to('user-42', 'UTF8'), convert_to('first secret', 'UTF8')), 'hex') AS can_pseudonymize;
SELECT key_name, version FROM apivalue.pseudonym_key_versions
 WHERE key_name LIKE 'catpriv%' ORDER BY 1, 2;
SELECT secret FROM apivalue.pseudonym_keys;
SELECT what, pg_temp.sqlstate_of(stmt) AS sqlstate
  FROM (VALUES
    ('select secrets', $$SELECT secret FROM apivalue.pseudonym_keys$$),
    ('count keys', $$SELECT count(*) FROM apivalue.pseudonym_keys$$),
    ('update secrets', $$UPDATE apivalue.pseudonym_keys SET active = true$$),
    ('add key', $$SELECT apivalue.add_pseudonym_key('catpriv_mine', '\x01')$$),
    ('rotate key', $$SELECT apivalue.rotate_pseudonym_key('catpriv_users', '\x01')$$),
    ('internal secret lookup', $$SELECT apivalue.pseudonym_key_secret('catpriv_users')$$)
  ) AS t(what, stmt)
 ORDER BY what;
RESET ROLE;
DROP ROLE regress_catpriv_user;

-- The definer functions pin their search_path.
SELECT p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'apivalue'
   AND p.proname IN ('pseudonymize', 'add_pseudonym_key', 'rotate_pseudonym_key')
 ORDER BY p.proname, p.oid;

DELETE FROM apivalue.pseudonym_keys WHERE key_name LIKE 'rfc4231\_tc%' OR key_name LIKE 'catpriv%';
