/*-------------------------------------------------------------------------
 *
 * privacy.c
 *	  Keyed pseudonyms and the small C helpers the metric catalog needs.
 *
 * apivalue.pseudonymize() turns an identifier into HMAC-SHA256(key, value).
 * The HMAC is PostgreSQL's own (src/common/hmac.c, or the OpenSSL-backed
 * hmac_openssl.c when the server is built with OpenSSL); nothing here
 * implements a hash.  Key material comes from pg_strong_random(), the same
 * source gen_random_uuid() and SCRAM salts use.
 *
 * The catalog functions are SECURITY DEFINER (they write tables ordinary
 * roles cannot write); inside such a function current_user is the function
 * owner, so apivalue_outer_role() reports the role the session is acting as
 * (SET ROLE or session authorization), which is who really called.
 *
 * src/privacy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(apivalue_hmac_sha256);
PG_FUNCTION_INFO_V1(apivalue_random_bytes);
PG_FUNCTION_INFO_V1(apivalue_outer_role);

/* Upper bound for apivalue.random_bytes(): key material, not bulk data. */
#define APIVALUE_RANDOM_BYTES_MAX	1024

/*
 * apivalue_hmac_sha256(data bytea, key bytea) returns bytea
 *
 * RFC 2104 HMAC with SHA-256 through pg_hmac_*.  Keys longer than the
 * 64-byte block are hashed first by pg_hmac_init itself, as the RFC asks.
 * The context is released on every path; on an error thrown by ereport the
 * resource owner releases it (the OpenSSL implementation registers it).
 */
Datum
apivalue_hmac_sha256(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	bytea	   *key = PG_GETARG_BYTEA_PP(1);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_hmac_ctx *ctx;
	bytea	   *result;

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while creating an HMAC context")));

	if (pg_hmac_init(ctx, (const uint8 *) VARDATA_ANY(key),
					 VARSIZE_ANY_EXHDR(key)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) VARDATA_ANY(data),
					   VARSIZE_ANY_EXHDR(data)) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *reason = pg_hmac_error(ctx);

		pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute HMAC-SHA256: %s", reason)));
	}
	pg_hmac_free(ctx);

	result = (bytea *) palloc(VARHDRSZ + sizeof(digest));
	SET_VARSIZE(result, VARHDRSZ + sizeof(digest));
	memcpy(VARDATA(result), digest, sizeof(digest));

	PG_RETURN_BYTEA_P(result);
}

/*
 * apivalue_random_bytes(n int) returns bytea
 *
 * n bytes from the operating system's cryptographically strong source, for
 * new pseudonym keys when the caller does not supply the secret.
 */
Datum
apivalue_random_bytes(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	bytea	   *result;

	if (n < 1 || n > APIVALUE_RANDOM_BYTES_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of random bytes must be between 1 and %d, got %d",
						APIVALUE_RANDOM_BYTES_MAX, n)));

	result = (bytea *) palloc(VARHDRSZ + n);
	SET_VARSIZE(result, VARHDRSZ + n);
	if (!pg_strong_random(VARDATA(result), n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate %d random bytes", n)));

	PG_RETURN_BYTEA_P(result);
}

/*
 * apivalue_outer_role() returns oid
 *
 * The role the session acts as (after SET ROLE), which SECURITY DEFINER does
 * not change: the catalog's definer functions use it to check the caller's
 * rights and to record who changed a definition.
 */
Datum
apivalue_outer_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
