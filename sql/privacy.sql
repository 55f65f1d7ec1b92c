-- apivalue install script: keyed pseudonyms (SPEC section 8).
-- Part of the files concatenated into apivalue--<version>.sql (see Makefile).
--
-- pseudonymize(value, key) = hex(HMAC-SHA256(secret, value)).  Secrets live
-- in apivalue.pseudonym_keys, which no ordinary role can read; the only way
-- to use a secret is pseudonymize(), a SECURITY DEFINER function with a
-- pinned search_path that reads the one key it needs and returns the HMAC.

------------------------------------------------------------------------------
-- Primitives (C, PostgreSQL's own HMAC and strong random source)
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.hmac_sha256(data bytea, key bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_hmac_sha256'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.hmac_sha256(bytea, bytea) IS
  'HMAC-SHA256 (RFC 2104) of data under key, computed by PostgreSQL''s own HMAC implementation';

CREATE FUNCTION apivalue.random_bytes(n integer)
RETURNS bytea
AS 'MODULE_PATHNAME', 'apivalue_random_bytes'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.random_bytes(integer) IS
  'n (1..1024) bytes from the cryptographically strong random source PostgreSQL uses (pg_strong_random)';

------------------------------------------------------------------------------
-- Keys
------------------------------------------------------------------------------

CREATE TABLE apivalue.pseudonym_keys (
  key_name   text NOT NULL
             CHECK (key_name = btrim(key_name) AND key_name <> '' AND length(key_name) <= 200),
  version    integer NOT NULL CHECK (version >= 1),
  secret     bytea NOT NULL CHECK (octet_length(secret) >= 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  active     boolean NOT NULL,
  PRIMARY KEY (key_name, version)
);

-- At most one active (current) version per key name.
CREATE UNIQUE INDEX pseudonym_keys_one_active
  ON apivalue.pseudonym_keys (key_name) WHERE active;

COMMENT ON TABLE apivalue.pseudonym_keys IS
  'Secret keys of apivalue.pseudonymize, one row per key version; readable by no ordinary role. Kept by pg_dump: losing a key changes every pseudonym made with it';
COMMENT ON COLUMN apivalue.pseudonym_keys.active IS
  'The version that key_name alone resolves to; older versions stay usable as key_name:version';

SELECT pg_catalog.pg_extension_config_dump('apivalue.pseudonym_keys', '');

REVOKE ALL ON apivalue.pseudonym_keys FROM PUBLIC;

-- Key names and versions are not secret: a definer view shows them without
-- the secret, so users can tell which versions exist.
CREATE VIEW apivalue.pseudonym_key_versions AS
SELECT key_name, version, created_at, created_by, active
  FROM apivalue.pseudonym_keys;

COMMENT ON VIEW apivalue.pseudonym_key_versions IS
  'Pseudonym keys and their versions, without the secrets';
REVOKE ALL ON apivalue.pseudonym_key_versions FROM PUBLIC;
GRANT SELECT ON apivalue.pseudonym_key_versions TO PUBLIC;

-- Resolves 'name' (its active version) or 'name:version'.  An exact key name
-- wins, so a key whose own name contains ':' stays reachable.
CREATE FUNCTION apivalue.pseudonym_key_secret(key_ref text)
RETURNS bytea
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  secret bytea;
  parts  text[];
BEGIN
  SELECT k.secret INTO secret
    FROM apivalue.pseudonym_keys k
   WHERE k.key_name = key_ref AND k.active;
  IF FOUND THEN
    RETURN secret;
  END IF;
  parts := regexp_match(key_ref, '^(.+):([0-9]{1,9})$');
  IF parts IS NOT NULL THEN
    SELECT k.secret INTO secret
      FROM apivalue.pseudonym_keys k
     WHERE k.key_name = parts[1] AND k.version = parts[2]::integer;
    IF FOUND THEN
      RETURN secret;
    END IF;
  END IF;
  RAISE EXCEPTION 'pseudonym key "%" does not exist', key_ref
    USING ERRCODE = 'undefined_object',
          HINT = 'Use a name from apivalue.pseudonym_key_versions, optionally as name:version; keys are created with apivalue.add_pseudonym_key.';
END;
$$;

COMMENT ON FUNCTION apivalue.pseudonym_key_secret(text) IS
  'Internal: the secret of key_name (active version) or key_name:version; callable only by the extension owner';
REVOKE ALL ON FUNCTION apivalue.pseudonym_key_secret(text) FROM PUBLIC;

CREATE FUNCTION apivalue.add_pseudonym_key(
  key_name text,
  secret   bytea DEFAULT apivalue.random_bytes(32))
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF key_name IS NULL OR key_name <> btrim(key_name) OR key_name = '' OR length(key_name) > 200 THEN
    RAISE EXCEPTION 'invalid pseudonym key name "%"', left(key_name, 60)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A key name must be 1 to 200 characters without leading or trailing blanks.';
  END IF;
  IF secret IS NULL OR octet_length(secret) = 0 THEN
    RAISE EXCEPTION 'secret of pseudonym key "%" must not be empty', key_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Omit the secret to get 32 random bytes.';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('apivalue.pseudonym_keys'), hashtext(key_name));
  IF EXISTS (SELECT 1 FROM apivalue.pseudonym_keys k WHERE k.key_name = add_pseudonym_key.key_name) THEN
    RAISE EXCEPTION 'pseudonym key "%" already exists', key_name
      USING ERRCODE = 'duplicate_object',
            HINT = 'Use apivalue.rotate_pseudonym_key to add a new version.';
  END IF;
  INSERT INTO apivalue.pseudonym_keys (key_name, version, secret, created_by, active)
    VALUES (key_name, 1, secret, apivalue.session_role()::text, true);
  RETURN 1;
END;
$$;

COMMENT ON FUNCTION apivalue.add_pseudonym_key(text, bytea) IS
  'Create pseudonym key key_name (version 1) with the given secret or 32 strong random bytes; EXECUTE is not granted to PUBLIC';
REVOKE ALL ON FUNCTION apivalue.add_pseudonym_key(text, bytea) FROM PUBLIC;

CREATE FUNCTION apivalue.rotate_pseudonym_key(
  key_name text,
  secret   bytea DEFAULT apivalue.random_bytes(32))
RETURNS integer
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_version integer;
BEGIN
  IF secret IS NULL OR octet_length(secret) = 0 THEN
    RAISE EXCEPTION 'secret of pseudonym key "%" must not be empty', key_name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Omit the secret to get 32 random bytes.';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('apivalue.pseudonym_keys'), hashtext(key_name));
  SELECT max(k.version) + 1 INTO new_version
    FROM apivalue.pseudonym_keys k WHERE k.key_name = rotate_pseudonym_key.key_name;
  IF new_version IS NULL THEN
    RAISE EXCEPTION 'pseudonym key "%" does not exist', key_name
      USING ERRCODE = 'undefined_object',
            HINT = 'Create it with apivalue.add_pseudonym_key.';
  END IF;
  UPDATE apivalue.pseudonym_keys k SET active = false
   WHERE k.key_name = rotate_pseudonym_key.key_name AND k.active;
  INSERT INTO apivalue.pseudonym_keys (key_name, version, secret, created_by, active)
    VALUES (key_name, new_version, secret, apivalue.session_role()::text, true);
  RETURN new_version;
END;
$$;

COMMENT ON FUNCTION apivalue.rotate_pseudonym_key(text, bytea) IS
  'Add a new active version of a pseudonym key and return its number; older versions stay usable as key_name:version; EXECUTE is not granted to PUBLIC';
REVOKE ALL ON FUNCTION apivalue.rotate_pseudonym_key(text, bytea) FROM PUBLIC;

------------------------------------------------------------------------------
-- pseudonymize
------------------------------------------------------------------------------

CREATE FUNCTION apivalue.pseudonymize(value bytea, key_name text)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.encode(
           apivalue.hmac_sha256(value, apivalue.pseudonym_key_secret(key_name)), 'hex')
$$;

COMMENT ON FUNCTION apivalue.pseudonymize(bytea, text) IS
  'Hex HMAC-SHA256 of the bytes under pseudonym key key_name (active version) or key_name:version';

-- Text is hashed as UTF-8 whatever the database encoding, so one identifier
-- gets the same pseudonym in every database that shares the key.
CREATE FUNCTION apivalue.pseudonymize(value text, key_name text)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT pg_catalog.encode(
           apivalue.hmac_sha256(pg_catalog.convert_to(value, 'UTF8'),
                                apivalue.pseudonym_key_secret(key_name)), 'hex')
$$;

COMMENT ON FUNCTION apivalue.pseudonymize(text, text) IS
  'Stable pseudonym of an identifier: hex HMAC-SHA256 of its UTF-8 bytes under pseudonym key key_name (active version) or key_name:version; NULL value gives NULL';
