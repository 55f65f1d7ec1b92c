/*-------------------------------------------------------------------------
 *
 * usage_group.c
 *	  distinct_percentiles(value anyelement, latency float8, fractions
 *	  float8[]): count(DISTINCT value) and exact percentile_cont of the
 *	  latencies of one group, in one aggregate that hash aggregation can run.
 *
 * count(DISTINCT) and percentile_cont ... WITHIN GROUP each make PostgreSQL
 * sort the rows of every group (and force a sorted GroupAggregate), which is
 * where api_usage spent most of its time.  This aggregate keeps, per group:
 *
 *	- a hash set of the distinct non-NULL values: open addressing over
 *	  (hash, value) slots, the value hashed and compared with the type's own
 *	  hash function and equality operator (type cache, the aggregate's input
 *	  collation), so the count is exact; values of by-reference types are
 *	  copied (detoasted) into one growable byte arena of the group, slots
 *	  hold their offsets;
 *	- the non-NULL latencies in a growable float8 array; the final function
 *	  sorts them (PostgreSQL's sort template, float8 order: NaN last) and
 *	  interpolates exactly as percentile_cont does.
 *
 * The result is a float8 array: element 1 is the number of distinct values,
 * then one percentile per fraction (NULL for a NULL fraction, all NULL when
 * the group has no latency).  The fractions are read from the first row
 * (like percentile_cont's direct argument, they must not vary).
 *
 * Parallel plans: combine merges two states, serialize writes a version
 * byte, the value type, its collation, the fractions, the values and the
 * latencies; deserialize checks every count against the bytea's size.
 *
 * src/usage_group.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/typcache.h"

#define DPCT_VERSION		1
#define DPCT_MAX_FRACTIONS	1000

typedef struct DpctSlot
{
	uint64		ref;			/* by value: the Datum; else arena offset */
	uint32		hash;
	uint32		used;			/* 0 when the slot is free */
} DpctSlot;

/*
 * How values are hashed and compared: with the type's functions through
 * fmgr, or inline for the types the counted column usually has.  The inline
 * paths compute exactly what the type's functions compute (hashint2/4/8 and
 * int equality; hashtext and texteq under a deterministic collation, which
 * hash and compare the bytes), so states of either path combine.
 */
typedef enum DpctKind
{
	DPCT_GENERIC,
	DPCT_INT2,
	DPCT_INT4,
	DPCT_INT8,
	DPCT_BYTES					/* text, varchar: deterministic collation */
} DpctKind;

typedef struct DpctState
{
	/* the value type */
	Oid			typid;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
	DpctKind	kind;
	FmgrInfo   *hash_fn;		/* from the type cache */
	FmgrInfo   *eq_fn;
	MemoryContext mcxt;
	/* hash set of distinct values */
	DpctSlot   *slots;
	uint32		nslots;			/* power of two, or 0 */
	uint32		nvalues;
	/*
	 * The last value added (inserted or found), to skip the probe when the
	 * next row repeats it: tables are often stored user by user, so a
	 * user's rows of one group come together.
	 */
	bool		have_last;
	uint32		last_hash;
	uint64		last_ref;
	bool		flat;			/* deserialized: slots[0..nvalues) all used,
								 * no hashing structure (read-only) */
	char	   *arena;			/* copies of by-reference values */
	Size		arena_used;
	Size		arena_cap;
	/* latencies */
	float8	   *lat;
	int64		nlat;
	int64		latcap;
	/* fractions, from the first row */
	bool		have_fractions;
	int			nfrac;
	float8	   *frac;
	bool	   *frac_null;
} DpctState;

PG_FUNCTION_INFO_V1(apivalue_distinct_percentiles_accum);
PG_FUNCTION_INFO_V1(apivalue_distinct_percentiles_combine);
PG_FUNCTION_INFO_V1(apivalue_distinct_percentiles_serialize);
PG_FUNCTION_INFO_V1(apivalue_distinct_percentiles_deserialize);
PG_FUNCTION_INFO_V1(apivalue_distinct_percentiles_final);

/*
 * Find the hash and equality functions of the value type (type cache:
 * looked up once per backend and type).
 */
static void
dpct_set_type(DpctState *st, Oid typid, Oid collation)
{
	TypeCacheEntry *tce;

	tce = lookup_type_cache(typid, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->hash_proc_finfo.fn_oid) || !OidIsValid(tce->eq_opr_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify hash and equality functions for type %s",
						format_type_be(typid)),
				 errhint("Count distinct users of a type with a hash operator class, e.g. cast them to text.")));
	if (tce->typlen == -2)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("values of type %s cannot be counted", format_type_be(typid)),
				 errhint("Cast them to text.")));
	st->typid = typid;
	st->collation = collation;
	st->typlen = tce->typlen;
	st->typbyval = tce->typbyval;
	st->hash_fn = &tce->hash_proc_finfo;
	st->eq_fn = &tce->eq_opr_finfo;
	st->kind = DPCT_GENERIC;
	if (typid == INT2OID && tce->hash_proc == F_HASHINT2)
		st->kind = DPCT_INT2;
	else if (typid == INT4OID && tce->hash_proc == F_HASHINT4)
		st->kind = DPCT_INT4;
	else if (typid == INT8OID && tce->hash_proc == F_HASHINT8)
		st->kind = DPCT_INT8;
	else if ((typid == TEXTOID || typid == VARCHAROID) &&
			 tce->hash_proc == F_HASHTEXT && tce->eq_opr == TextEqualOperator &&
			 OidIsValid(collation))
	{
		/* hashtext's and texteq's test: no locale (libc default) counts */
		pg_locale_t locale = 0;

		if (!lc_collate_is_c(collation))
			locale = pg_newlocale_from_collation(collation);
		if (!locale || locale->deterministic)
			st->kind = DPCT_BYTES;
	}
}

static DpctState *
dpct_new(MemoryContext mcxt)
{
	DpctState  *st = MemoryContextAllocZero(mcxt, sizeof(DpctState));

	st->mcxt = mcxt;
	return st;
}

/* The Datum a slot holds. */
static inline Datum
dpct_slot_datum(DpctState *st, DpctSlot *s)
{
	if (st->typbyval)
		return (Datum) s->ref;
	return PointerGetDatum(st->arena + s->ref);
}

static void dpct_insert(DpctState *st, Datum value, uint32 hash);

/*
 * The hash of a value (detoasted if a varlena), as the type's hash function
 * computes it.
 */
static inline uint32
dpct_hash(DpctState *st, Datum value)
{
	switch (st->kind)
	{
		case DPCT_INT2:
			return hash_bytes_uint32((uint32) (int32) DatumGetInt16(value));
		case DPCT_INT4:
			return hash_bytes_uint32((uint32) DatumGetInt32(value));
		case DPCT_INT8:
			{
				/* hashint8: equal to hashint4 for values that fit int4 */
				int64		v = DatumGetInt64(value);
				uint32		lohalf = (uint32) v;
				uint32		hihalf = (uint32) (v >> 32);

				lohalf ^= (v >= 0) ? hihalf : ~hihalf;
				return hash_bytes_uint32(lohalf);
			}
		case DPCT_BYTES:
			return hash_bytes((const unsigned char *) VARDATA_ANY(DatumGetPointer(value)),
							  VARSIZE_ANY_EXHDR(DatumGetPointer(value)));
		case DPCT_GENERIC:
			break;
	}
	return DatumGetUInt32(FunctionCall1Coll(st->hash_fn, st->collation, value));
}

/* Whether the value held at ref (a slot's ref) equals value. */
static inline bool
dpct_equal(DpctState *st, uint64 ref, Datum value)
{
	switch (st->kind)
	{
		case DPCT_INT2:
		case DPCT_INT4:
		case DPCT_INT8:
			return (Datum) ref == value;
		case DPCT_BYTES:
			{
				const char *a = st->arena + ref;
				const char *b = DatumGetPointer(value);
				Size		alen = VARSIZE_ANY_EXHDR(a);

				return alen == VARSIZE_ANY_EXHDR(b) &&
					memcmp(VARDATA_ANY(a), VARDATA_ANY(b), alen) == 0;
			}
		case DPCT_GENERIC:
			break;
	}
	return DatumGetBool(FunctionCall2Coll(st->eq_fn, st->collation,
										  st->typbyval ? (Datum) ref
										  : PointerGetDatum(st->arena + ref),
										  value));
}

/*
 * Grow the slot array to hold at least nvalues values at a load of at most
 * 3/4 (a power of two, at least double the old size or 16) and re-insert.
 */
static void
dpct_grow_slots(DpctState *st, uint64 nvalues)
{
	DpctSlot   *old = st->slots;
	uint32		oldn = st->nslots;
	uint64		newn = oldn ? (uint64) oldn * 2 : 16;

	while (nvalues * 4 > newn * 3)
		newn *= 2;
	if (newn > PG_UINT32_MAX / 2 + 1 ||
		(Size) newn * sizeof(DpctSlot) > MaxAllocHugeSize / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct values in one group")));
	st->slots = MemoryContextAllocHuge(st->mcxt, (Size) newn * sizeof(DpctSlot));
	memset(st->slots, 0, (Size) newn * sizeof(DpctSlot));
	st->nslots = newn;
	for (uint32 i = 0; i < oldn; i++)
	{
		uint32		j;

		if (!old[i].used)
			continue;
		j = old[i].hash & (newn - 1);
		while (st->slots[j].used)
			j = (j + 1) & (newn - 1);
		st->slots[j] = old[i];
	}
	if (old)
		pfree(old);
}

static uint64 dpct_arena_append(DpctState *st, const char *bytes, Size len);

/* Copy a by-reference value to the arena; returns its offset. */
static uint64
dpct_arena_copy(DpctState *st, Datum value)
{
	return dpct_arena_append(st, DatumGetPointer(value),
							 datumGetSize(value, false, st->typlen));
}

/* Append len bytes at a MAXALIGNed offset of the arena; returns it. */
static uint64
dpct_arena_append(DpctState *st, const char *bytes, Size len)
{
	Size		off = MAXALIGN(st->arena_used);

	if (off + len > st->arena_cap)
	{
		Size		cap = st->arena_cap ? st->arena_cap : 256;

		while (cap < off + len)
			cap *= 2;
		if (st->arena == NULL)
			st->arena = MemoryContextAllocHuge(st->mcxt, cap);
		else
			st->arena = repalloc_huge(st->arena, cap);
		st->arena_cap = cap;
	}
	memcpy(st->arena + off, bytes, len);
	st->arena_used = off + len;
	return (uint64) off;
}

/*
 * Add a value (already detoasted) with its hash, unless an equal value is
 * in the set.
 */
static void
dpct_insert(DpctState *st, Datum value, uint32 hash)
{
	uint32		j;

	if (st->flat)
		elog(ERROR, "distinct_percentiles: insert into a deserialized state");
	if (st->have_last && st->last_hash == hash && dpct_equal(st, st->last_ref, value))
		return;
	if ((uint64) (st->nvalues + 1) * 4 > (uint64) st->nslots * 3)
		dpct_grow_slots(st, (uint64) st->nvalues + 1);
	j = hash & (st->nslots - 1);
	for (;;)
	{
		DpctSlot   *s = &st->slots[j];

		if (!s->used)
			break;
		if (s->hash == hash && dpct_equal(st, s->ref, value))
		{
			st->have_last = true;
			st->last_hash = hash;
			st->last_ref = s->ref;
			return;
		}
		j = (j + 1) & (st->nslots - 1);
	}
	st->slots[j].hash = hash;
	st->slots[j].used = 1;
	if (st->typbyval)
		st->slots[j].ref = (uint64) value;
	else
		st->slots[j].ref = dpct_arena_copy(st, value);
	st->nvalues++;
	st->have_last = true;
	st->last_hash = hash;
	st->last_ref = st->slots[j].ref;
}

static void
dpct_add_value(DpctState *st, Datum value)
{
	uint32		hash;

	if (st->typlen == -1)
		value = PointerGetDatum(PG_DETOAST_DATUM_PACKED(value));
	hash = dpct_hash(st, value);
	dpct_insert(st, value, hash);
}

/* Make room for at least n latencies (geometric growth). */
static void
dpct_reserve_latencies(DpctState *st, int64 n)
{
	if (n > st->latcap)
	{
		int64		cap = st->latcap ? st->latcap * 2 : 16;

		while (cap < n)
			cap *= 2;
		if ((Size) cap * sizeof(float8) > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many latencies in one group")));
		if (st->lat == NULL)
			st->lat = MemoryContextAllocHuge(st->mcxt, (Size) cap * sizeof(float8));
		else
			st->lat = repalloc_huge(st->lat, (Size) cap * sizeof(float8));
		st->latcap = cap;
	}
}

static inline void
dpct_add_latency(DpctState *st, float8 v)
{
	if (st->nlat == st->latcap)
		dpct_reserve_latencies(st, st->nlat + 1);
	st->lat[st->nlat++] = v;
}

/* Keep the fractions of the first row (checked in the final function). */
static void
dpct_set_fractions(DpctState *st, ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("fractions must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (n > DPCT_MAX_FRACTIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many fractions: %d", n),
				 errhint("At most %d fractions are allowed.", DPCT_MAX_FRACTIONS)));
	st->nfrac = n;
	st->frac = MemoryContextAlloc(st->mcxt, sizeof(float8) * Max(n, 1));
	st->frac_null = MemoryContextAlloc(st->mcxt, sizeof(bool) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		st->frac_null[i] = nulls[i];
		st->frac[i] = nulls[i] ? 0 : DatumGetFloat8(elems[i]);
		if (!nulls[i] && (st->frac[i] < 0 || st->frac[i] > 1 || isnan(st->frac[i])))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("percentile value %g is not between 0 and 1", st->frac[i])));
	}
	st->have_fractions = true;
}

/*
 * accum(state, value anyelement, latency float8, fractions float8[]):
 * NULL values are not counted, NULL latencies not kept.
 */
Datum
apivalue_distinct_percentiles_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	DpctState  *st;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distinct_percentiles_accum called in non-aggregate context")));
	if (PG_ARGISNULL(0))
	{
		Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 1);

		if (!OidIsValid(typid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("could not determine the type of the counted values")));
		st = dpct_new(aggcxt);
		dpct_set_type(st, typid, PG_GET_COLLATION());
	}
	else
		st = (DpctState *) PG_GETARG_POINTER(0);

	if (!st->have_fractions && !PG_ARGISNULL(3))
		dpct_set_fractions(st, PG_GETARG_ARRAYTYPE_P(3));
	if (!PG_ARGISNULL(1))
		dpct_add_value(st, PG_GETARG_DATUM(1));
	if (!PG_ARGISNULL(2))
		dpct_add_latency(st, PG_GETARG_FLOAT8(2));
	PG_RETURN_POINTER(st);
}

/* Copy the fractions of src into dst (dst has none yet). */
static void
dpct_copy_fractions(DpctState *dst, DpctState *src)
{
	int			n = Max(src->nfrac, 1);

	dst->nfrac = src->nfrac;
	dst->frac = MemoryContextAlloc(dst->mcxt, sizeof(float8) * n);
	dst->frac_null = MemoryContextAlloc(dst->mcxt, sizeof(bool) * n);
	memcpy(dst->frac, src->frac, sizeof(float8) * src->nfrac);
	memcpy(dst->frac_null, src->frac_null, sizeof(bool) * src->nfrac);
	dst->have_fractions = true;
}

/*
 * combine(a, b): the values and latencies of b added to a (a is modified
 * in place when it is already an aggregate state).
 */
Datum
apivalue_distinct_percentiles_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	DpctState  *a = PG_ARGISNULL(0) ? NULL : (DpctState *) PG_GETARG_POINTER(0);
	DpctState  *b = PG_ARGISNULL(1) ? NULL : (DpctState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distinct_percentiles_combine called in non-aggregate context")));
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
	{
		a = dpct_new(aggcxt);
		dpct_set_type(a, b->typid, b->collation);
	}
	else if (a->typid != b->typid)
		elog(ERROR, "distinct_percentiles: combining states of different types");
	if (!a->have_fractions && b->have_fractions)
		dpct_copy_fractions(a, b);
	/* room for all of b at once: no growing and re-inserting on the way */
	if (((uint64) a->nvalues + b->nvalues) * 4 > (uint64) a->nslots * 3)
		dpct_grow_slots(a, (uint64) a->nvalues + b->nvalues);
	for (uint32 i = 0; i < b->nslots; i++)
	{
		DpctSlot   *s = &b->slots[i];

		if (s->used)
			dpct_insert(a, dpct_slot_datum(b, s), s->hash);
	}
	if (b->nlat > 0)
	{
		dpct_reserve_latencies(a, a->nlat + b->nlat);
		memcpy(a->lat + a->nlat, b->lat, sizeof(float8) * b->nlat);
		a->nlat += b->nlat;
	}
	PG_RETURN_POINTER(a);
}

/*
 * serialize(state) → bytea: version byte, type oid, collation oid, nfrac,
 * fractions (null flag + float8 each), nvalues, the values (each: its hash,
 * then by value 8 bytes, else a 4-byte length and the bytes), nlat, the
 * latencies.
 */
Datum
apivalue_distinct_percentiles_serialize(PG_FUNCTION_ARGS)
{
	DpctState  *st = (DpctState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distinct_percentiles_serialize called in non-aggregate context")));
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, DPCT_VERSION);
	pq_sendint32(&buf, st->typid);
	pq_sendint32(&buf, st->collation);
	pq_sendint32(&buf, st->have_fractions ? st->nfrac : -1);
	for (int i = 0; st->have_fractions && i < st->nfrac; i++)
	{
		pq_sendbyte(&buf, st->frac_null[i] ? 1 : 0);
		pq_sendfloat8(&buf, st->frac[i]);
	}
	pq_sendint32(&buf, st->nvalues);
	for (uint32 i = 0; i < st->nslots; i++)
	{
		DpctSlot   *s = &st->slots[i];

		if (!s->used)
			continue;
		pq_sendint32(&buf, s->hash);
		if (st->typbyval)
			pq_sendint64(&buf, (int64) s->ref);
		else
		{
			Datum		d = dpct_slot_datum(st, s);
			Size		len = datumGetSize(d, false, st->typlen);

			pq_sendint32(&buf, (uint32) len);
			pq_sendbytes(&buf, DatumGetPointer(d), len);
		}
	}
	pq_sendint64(&buf, st->nlat);
	for (int64 i = 0; i < st->nlat; i++)
		pq_sendfloat8(&buf, st->lat[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
dpct_corrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid distinct_percentiles state: %s", what)));
}

/*
 * deserialize(bytea, internal) → state; every count is checked against the
 * bytes left before anything is read or allocated.  The state is built in
 * the current (per-input-tuple) memory context: the combine function copies
 * what it needs into the group's state, so a partial state from a worker
 * does not stay in memory for the rest of the aggregation.
 */
Datum
apivalue_distinct_percentiles_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData buf;
	DpctState  *st;
	Oid			typid,
				collation;
	int32		nfrac;
	uint32		nvalues;
	int64		nlat;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distinct_percentiles_deserialize called in non-aggregate context")));
	/* a read-only StringInfo over the bytes, read with pq_getmsg* (memcpy) */
	buf.data = VARDATA_ANY(b);
	buf.len = VARSIZE_ANY_EXHDR(b);
	buf.maxlen = buf.len;
	buf.cursor = 0;

	if (buf.len < 13 || pq_getmsgbyte(&buf) != DPCT_VERSION)
		dpct_corrupt("unknown version");
	typid = pq_getmsgint(&buf, 4);
	collation = pq_getmsgint(&buf, 4);
	st = dpct_new(cxt);
	dpct_set_type(st, typid, collation);
	nfrac = (int32) pq_getmsgint(&buf, 4);
	if (nfrac >= 0)
	{
		if (nfrac > DPCT_MAX_FRACTIONS || (int64) nfrac * 9 > buf.len - buf.cursor)
			dpct_corrupt("fraction count");
		st->nfrac = nfrac;
		st->frac = MemoryContextAlloc(cxt, sizeof(float8) * Max(nfrac, 1));
		st->frac_null = MemoryContextAlloc(cxt, sizeof(bool) * Max(nfrac, 1));
		for (int i = 0; i < nfrac; i++)
		{
			st->frac_null[i] = pq_getmsgbyte(&buf) != 0;
			st->frac[i] = pq_getmsgfloat8(&buf);
		}
		st->have_fractions = true;
	}
	else if (nfrac != -1)
		dpct_corrupt("fraction count");

	if (buf.len - buf.cursor < 4)
		dpct_corrupt("truncated");
	nvalues = pq_getmsgint(&buf, 4);
	if ((int64) nvalues * (st->typbyval ? 12 : 8) > buf.len - buf.cursor)
		dpct_corrupt("value count");

	/*
	 * The values of a set are distinct and come with their hashes: keep them
	 * as a flat list, which only the combine function reads (it inserts them
	 * into the group's set with these hashes).
	 */
	st->slots = MemoryContextAllocHuge(cxt, (Size) Max(nvalues, 1) * sizeof(DpctSlot));
	st->nslots = nvalues;
	st->flat = true;
	for (uint32 i = 0; i < nvalues; i++)
	{
		DpctSlot   *slot = &st->slots[i];

		if (buf.len - buf.cursor < (st->typbyval ? 12 : 8))
			dpct_corrupt("truncated value");
		slot->hash = pq_getmsgint(&buf, 4);
		slot->used = 1;
		if (st->typbyval)
			slot->ref = (uint64) pq_getmsgint64(&buf);
		else
		{
			uint32		len = pq_getmsgint(&buf, 4);

			if (len > (uint32) (buf.len - buf.cursor) || len == 0 ||
				(st->typlen > 0 && len != (uint32) st->typlen))
				dpct_corrupt("value length");
			/* to the (aligned) arena before the type's functions look at it */
			slot->ref = dpct_arena_append(st, pq_getmsgbytes(&buf, len), len);
			if (st->typlen == -1)
			{
				/* plain (detoasted) varlenas only, their header saying len */
				char	   *v = st->arena + slot->ref;
				bool		ok;

				if (VARATT_IS_1B(v))
					ok = !VARATT_IS_1B_E(v) && VARSIZE_1B(v) == len;
				else
					ok = len >= VARHDRSZ && VARATT_IS_4B_U(v) && VARSIZE_4B(v) == len;
				if (!ok)
					dpct_corrupt("value length");
			}
		}
	}
	st->nvalues = nvalues;
	if (buf.len - buf.cursor < 8)
		dpct_corrupt("truncated");
	nlat = pq_getmsgint64(&buf);
	if (nlat < 0 || nlat > (buf.len - buf.cursor) / 8 || nlat * 8 != buf.len - buf.cursor)
		dpct_corrupt("latency count");
	dpct_reserve_latencies(st, nlat);
	for (int64 i = 0; i < nlat; i++)
		st->lat[i] = pq_getmsgfloat8(&buf);
	st->nlat = nlat;
	PG_RETURN_POINTER(st);
}

/*
 * float8 order of PostgreSQL's sorts (float8_cmp_internal: NaN after
 * everything else), inlined into PostgreSQL's sort template.
 */
static inline int
dpct_cmp_float8(const float8 *a, const float8 *b)
{
	if (isnan(*a))
		return isnan(*b) ? 0 : 1;
	if (isnan(*b))
		return -1;
	return (*a > *b) - (*a < *b);
}

#define ST_SORT dpct_sort_float8
#define ST_ELEMENT_TYPE float8
#define ST_COMPARE(a, b) dpct_cmp_float8(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static inline void
dpct_swap(float8 *a, int64 i, int64 j)
{
	float8		t = a[i];

	a[i] = a[j];
	a[j] = t;
}

/*
 * Rearrange a[0..n) so that a[k] is the element a sort would put there
 * (every element before it is not greater, every element after it not
 * less, in the float8 order above): quickselect with a median-of-three
 * pivot, expected O(n).  After a bounded number of rounds the part left is
 * sorted instead, so the worst case stays O(n log n).
 */
static void
dpct_select(float8 *a, int64 n, int64 k)
{
	int64		lo = 0,
				hi = n - 1;
	int			budget = 64;

	while (hi > lo)
	{
		int64		mid,
					i,
					j;
		float8		pivot;

		if (hi - lo < 16 || --budget == 0)
		{
			dpct_sort_float8(a + lo, hi - lo + 1);
			return;
		}
		/* median of a[lo], a[mid], a[hi] to a[mid], with a[lo] <= it <= a[hi] */
		mid = lo + (hi - lo) / 2;
		if (dpct_cmp_float8(&a[mid], &a[lo]) < 0)
			dpct_swap(a, mid, lo);
		if (dpct_cmp_float8(&a[hi], &a[lo]) < 0)
			dpct_swap(a, hi, lo);
		if (dpct_cmp_float8(&a[hi], &a[mid]) < 0)
			dpct_swap(a, hi, mid);
		pivot = a[mid];
		/* Hoare partition of a[lo..hi]: a[lo] and a[hi] are sentinels */
		i = lo;
		j = hi;
		for (;;)
		{
			do
				i++;
			while (dpct_cmp_float8(&a[i], &pivot) < 0);
			do
				j--;
			while (dpct_cmp_float8(&a[j], &pivot) > 0);
			if (i >= j)
				break;
			dpct_swap(a, i, j);
		}
		/* now a[lo..j] <= pivot <= a[j+1..hi] */
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
}

/*
 * Put the elements at the rows percentile_cont reads (each fraction's
 * floor and ceiling row) where a sort would put them, selecting them in
 * increasing order: after a[k] is in place, the rows after it are
 * a[k+1..n), so the next row is selected from those alone.
 */
static void
dpct_select_rows(DpctState *st, int nfrac)
{
	int64	   *rows = palloc(sizeof(int64) * 2 * Max(nfrac, 1));
	int			nrows = 0;
	int64		done = 0;		/* a[0..done) hold their final elements */

	for (int i = 0; i < nfrac; i++)
	{
		float8		pos;

		if (st->frac_null[i])
			continue;
		pos = st->frac[i] * (st->nlat - 1);
		rows[nrows++] = (int64) floor(pos);
		rows[nrows++] = (int64) ceil(pos);
	}
	/* few rows: insertion sort */
	for (int i = 1; i < nrows; i++)
	{
		int64		r = rows[i];
		int			j = i;

		for (; j > 0 && rows[j - 1] > r; j--)
			rows[j] = rows[j - 1];
		rows[j] = r;
	}
	for (int i = 0; i < nrows; i++)
	{
		int64		r = rows[i];

		if (r < done)
			continue;			/* a repeated row */
		dpct_select(st->lat + done, st->nlat - done, r - done);
		done = r + 1;
	}
	pfree(rows);
}

/*
 * final(state) → float8[]: {distinct values, percentile per fraction}.
 * Interpolation is percentile_cont's: with n sorted latencies and fraction
 * f, rows floor(f (n - 1)) and ceil(f (n - 1)) (0-based), lo + (hi - lo) *
 * (f (n - 1) - floor(f (n - 1))).
 */
Datum
apivalue_distinct_percentiles_final(PG_FUNCTION_ARGS)
{
	DpctState  *st;
	int			nfrac;
	Datum	   *elems;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("distinct_percentiles_final called in non-aggregate context")));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (DpctState *) PG_GETARG_POINTER(0);
	nfrac = st->have_fractions ? st->nfrac : 0;
	elems = palloc(sizeof(Datum) * (nfrac + 1));
	nulls = palloc(sizeof(bool) * (nfrac + 1));
	elems[0] = Float8GetDatum((float8) st->nvalues);
	nulls[0] = false;
	/*
	 * Reordering in place is fine: the order of the array is not state.
	 * Few fractions: select their rows; many: sort once.
	 */
	if (st->nlat > 1)
	{
		if (nfrac <= 8)
			dpct_select_rows(st, nfrac);
		else
			dpct_sort_float8(st->lat, st->nlat);
	}
	for (int i = 0; i < nfrac; i++)
	{
		nulls[i + 1] = st->nlat == 0 || st->frac_null[i];
		elems[i + 1] = (Datum) 0;
		if (!nulls[i + 1])
		{
			float8		p = st->frac[i];
			float8		pos = p * (st->nlat - 1);
			int64		first = (int64) floor(pos);
			int64		second = (int64) ceil(pos);
			float8		lo = st->lat[first];
			float8		r = lo;

			if (second > first)
			{
				float8		hi = st->lat[second];

				r = lo + ((pos - first) * (hi - lo));
			}
			elems[i + 1] = Float8GetDatum(r);
		}
	}
	dims[0] = nfrac + 1;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, 1, dims, lbs, FLOAT8OID,
											 sizeof(float8), FLOAT8PASSBYVAL,
											 TYPALIGN_DOUBLE));
}
