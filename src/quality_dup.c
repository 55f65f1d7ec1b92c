/*-------------------------------------------------------------------------
 *
 * quality_dup.c
 *	  Near duplicates: events that repeat an earlier event of the same
 *	  fingerprint within a tolerance.
 *
 * near_duplicate_count(fingerprint, ts, tolerance) counts the events that
 * have an earlier (or simultaneous) event of the same fingerprint at most
 * tolerance before them.  That is true exactly when the event's predecessor
 * in (fingerprint, ts) order is within tolerance, so the state keeps every
 * (fingerprint, ts), sorts once when read and compares neighbours.
 *
 * Fingerprints are compared exactly (64-bit hash, then length and bytes).
 * During aggregation the working state (quality_common.h; layout below,
 * DupWork) keeps each distinct fingerprint once, in an open-addressing
 * table inside the state, and per row only its time and fingerprint number
 * (16 bytes), appended in place with no palloc of its own; a full part of
 * the state doubles.  The final function distributes the times by
 * fingerprint number (a counting sort), sorts each fingerprint's times and
 * compares neighbours.  Stored values use the flat form below (a record
 * per row with the fingerprint's hash and bytes, records sharing bytes),
 * written from the working state when a state is output or sent.
 *
 * Flat form (SQL type apivalue.near_duplicate_state):
 *	 int32 vl_len_, uint8 version, uint8[3] unused, int32 n, int64 tolerance,
 *	 int64 arena_len, DupRecord records[n], char arena[arena_len]
 *
 * src/quality_dup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "port/pg_bitutils.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "quality_common.h"

typedef struct DupRecord
{
	uint64		hash;
	int64		ts;
	uint32		off;
	uint32		len;
} DupRecord;

typedef struct DupFlat
{
	int32		vl_len_;
	uint8		version;
	uint8		unused[3];
	int32		n;
	int64		tolerance;
	int64		arena_len;
	DupRecord	records[FLEXIBLE_ARRAY_MEMBER];
} DupFlat;

#define DUP_HDRSZ offsetof(DupFlat, records)
#define DUP_TYPE "apivalue.near_duplicate_state"

typedef struct DupView
{
	int64		tolerance;
	int32		n;
	const DupRecord *records;
	const char *arena;
	int64		arena_len;
} DupView;

static const DupFlat *
dup_check_flat(struct varlena *v)
{
	const DupFlat *f = (const DupFlat *) v;
	Size		size = VARSIZE(v);
	int32		i;

	if (size < DUP_HDRSZ)
		quality_corrupt(DUP_TYPE, "value is too short");
	if (f->version != QUALITY_STATE_VERSION)
		quality_corrupt(DUP_TYPE, psprintf("unknown version %d", f->version));
	if (f->n < 0 || f->arena_len < 0 || f->tolerance < 0 ||
		(Size) f->n > (size - DUP_HDRSZ) / sizeof(DupRecord) ||
		(Size) f->arena_len > size ||
		size != DUP_HDRSZ + (Size) f->n * sizeof(DupRecord) + (Size) f->arena_len)
		quality_corrupt(DUP_TYPE, "counts do not match the size");
	for (i = 0; i < f->n; i++)
		if ((int64) f->records[i].off + f->records[i].len > f->arena_len)
			quality_corrupt(DUP_TYPE, "fingerprint outside the value");
	return f;
}

/*
 * Working form: every distinct fingerprint once, in a small open-addressing
 * table, and per row only (time, fingerprint number), 16 bytes.  One
 * varlena whose size is its capacity (quality_common.h):
 *
 *	 header, DupFp fps[fcap], int32 slots[2 * fcap], char arena[acap],
 *	 DupRow rows[rcap] (to the end: the allocator's rounding up goes there)
 *
 * fcap is a power of two; a slot holds a fingerprint's number + 1 (0:
 * empty), so the table is at most half full.  Fingerprints are compared
 * exactly (hash, length, bytes).  The flat form (above) is written from it
 * by dup_work_flatten: its records then share the arena's bytes.
 */
typedef struct DupFp
{
	uint64		hash;
	uint32		off;
	uint32		len;
} DupFp;

typedef struct DupRow
{
	int64		ts;
	uint32		fp;
	uint32		unused;
} DupRow;

typedef struct DupWork
{
	int32		vl_len_;		/* the capacity, not the content */
	uint8		version;		/* QUALITY_WORK_DUP */
	uint8		unused[3];
	int32		n;				/* rows */
	int32		rcap;
	int32		nfp;			/* distinct fingerprints */
	int32		fcap;			/* a power of two */
	int64		tolerance;
	int64		arena_len;
	int64		acap;			/* a multiple of 8 */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} DupWork;

#define DUP_WORK_HDRSZ offsetof(DupWork, data)
#define DUP_FPS(w) ((DupFp *) (w)->data)
#define DUP_SLOTS(w) ((int32 *) (DUP_FPS(w) + (w)->fcap))
#define DUP_ARENA(w) ((char *) (DUP_SLOTS(w) + 2 * (Size) (w)->fcap))
#define DUP_ROWS(w) ((DupRow *) (DUP_ARENA(w) + (w)->acap))
#define DUP_FIXED_SIZE(fcap, acap) \
	(DUP_WORK_HDRSZ + (sizeof(DupFp) + 2 * sizeof(int32)) * (Size) (fcap) + (Size) (acap))

/* The checks of a working state, counts bounded by the capacities. */
static const DupWork *
dup_check_work(struct varlena *v)
{
	const DupWork *w = (const DupWork *) v;
	const DupFp *fps;
	const DupRow *rows;
	Size		size = VARSIZE(v);
	int32		i;

	if (size < DUP_WORK_HDRSZ)
		quality_corrupt(DUP_TYPE, "value is too short");
	if (w->n < 0 || w->rcap < w->n || w->nfp < 0 || w->fcap < 1 ||
		w->fcap < w->nfp || (w->fcap & (w->fcap - 1)) != 0 ||
		w->arena_len < 0 || w->acap < w->arena_len || w->tolerance < 0 ||
		w->acap % 8 != 0 || (Size) w->fcap > size || (Size) w->acap > size ||
		DUP_FIXED_SIZE(w->fcap, w->acap) + sizeof(DupRow) * (Size) w->rcap > size)
		quality_corrupt(DUP_TYPE, "counts do not match the size");
	fps = DUP_FPS(w);
	for (i = 0; i < w->nfp; i++)
		if ((int64) fps[i].off + fps[i].len > w->arena_len)
			quality_corrupt(DUP_TYPE, "fingerprint outside the value");
	rows = DUP_ROWS(w);
	for (i = 0; i < w->n; i++)
		if (rows[i].fp >= (uint32) w->nfp)
			quality_corrupt(DUP_TYPE, "unknown fingerprint number");
	return w;
}

/*
 * A state argument: a working state (checked) in *work, or a flat value
 * (checked) in *view; the other NULL.
 */
static void
dup_view(Datum d, DupView *view, const DupWork **work)
{
	struct varlena *v = PG_DETOAST_DATUM(d);

	if (VARSIZE(v) > VARHDRSZ && ((uint8 *) VARDATA(v))[0] == QUALITY_WORK_DUP)
	{
		*work = dup_check_work(v);
		return;
	}
	else
	{
		const DupFlat *f = dup_check_flat(v);

		*work = NULL;
		view->tolerance = f->tolerance;
		view->n = f->n;
		view->records = f->records;
		view->arena = (const char *) f->records + sizeof(DupRecord) * f->n;
		view->arena_len = f->arena_len;
	}
}

struct varlena *
dup_work_flatten(struct varlena *work)
{
	const DupWork *w = dup_check_work(work);
	const DupFp *fps = DUP_FPS(w);
	const DupRow *rows = DUP_ROWS(w);
	Size		size;
	DupFlat    *f;
	int32		i;

	size = DUP_HDRSZ + sizeof(DupRecord) * (Size) w->n + (Size) w->arena_len;
	f = palloc(size);
	memset(f, 0, DUP_HDRSZ);
	SET_VARSIZE(f, size);
	f->version = QUALITY_STATE_VERSION;
	f->n = w->n;
	f->tolerance = w->tolerance;
	f->arena_len = w->arena_len;
	for (i = 0; i < w->n; i++)
	{
		const DupFp *fp = &fps[rows[i].fp];

		f->records[i].hash = fp->hash;
		f->records[i].ts = rows[i].ts;
		f->records[i].off = fp->off;
		f->records[i].len = fp->len;
	}
	if (w->arena_len > 0)
		memcpy((char *) f->records + sizeof(DupRecord) * w->n, DUP_ARENA(w),
			   w->arena_len);
	return (struct varlena *) f;
}

/*
 * A new working state (current memory context) with room for fcap
 * fingerprints (rounded up to a power of two), acap fingerprint bytes and
 * at least rcap rows: what the allocator rounds up goes to the rows.
 */
static DupWork *
dup_work_new(int64 tolerance, int64 fcap, int64 acap, int64 rcap)
{
	DupWork    *w;
	int64		f = 1;
	Size		need;

	while (f < fcap)
		f *= 2;
	acap = TYPEALIGN64(8, acap);
	if (f > PG_INT32_MAX / 2 || acap > (int64) PG_UINT32_MAX ||
		rcap > PG_INT32_MAX ||
		(double) DUP_FIXED_SIZE(f, acap) + (double) sizeof(DupRow) * rcap > (double) MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s state would exceed 1 GB", DUP_TYPE),
				 errhint("Aggregate smaller groups.")));
	need = DUP_FIXED_SIZE(f, acap) + sizeof(DupRow) * (Size) rcap;
	/* Zeroed: the header and the table (empty slots); the rest is written. */
	w = (DupWork *) quality_work_alloc_ext(need, need, QUALITY_WORK_DUP, DUP_TYPE,
										   DUP_FIXED_SIZE(f, 0));
	w->fcap = (int32) f;
	w->acap = acap;
	w->rcap = (int32) Min((VARSIZE(w) - DUP_FIXED_SIZE(f, acap)) / sizeof(DupRow),
						  (Size) PG_INT32_MAX);
	w->tolerance = tolerance;
	return w;
}

/*
 * Working state w with room for at least nfp_more more fingerprints of
 * arena_more bytes and rows_more more rows: w itself, or a larger copy (in
 * the current memory context) where each full part is doubled, or near the
 * 1 GB limit made just large enough.
 */
static DupWork *
dup_reserve(DupWork *w, int64 nfp_more, int64 arena_more, int64 rows_more)
{
	int64		fcap = w->fcap;
	int64		acap = w->acap;
	int64		rcap = w->rcap;
	DupWork    *nw;
	DupFp	   *fps;
	int32	   *slots;
	uint32		mask;
	int32		i;

	if (w->nfp + nfp_more <= fcap && w->arena_len + arena_more <= acap &&
		w->n + rows_more <= rcap)
		return w;
	if (w->nfp + nfp_more > fcap)
		fcap = Max(2 * fcap, w->nfp + nfp_more);
	if (w->arena_len + arena_more > acap)
		acap = Max(2 * acap, w->arena_len + arena_more);

	/*
	 * The rows: doubled when full, else only the rows in use (and those to
	 * come) are asked for.  Their free room is what the allocator's rounding
	 * up leaves (dup_work_new); carrying it over as a requirement would
	 * double the whole state each time the fingerprints or their bytes
	 * grow, so that a group of many distinct fingerprints reached 1 GB
	 * from a few MB of content (and a worker's partial state, passed on
	 * in a tuple, failed with "tuple is too big").
	 */
	if (w->n + rows_more > rcap)
		rcap = Max(2 * rcap, w->n + rows_more);
	else
		rcap = w->n + rows_more;
	if ((double) DUP_FIXED_SIZE(fcap, acap) + (double) sizeof(DupRow) * rcap > (double) MaxAllocSize)
	{
		/* Near the limit: just what is needed. */
		fcap = Max(w->fcap, w->nfp + nfp_more);
		acap = Max(w->acap, w->arena_len + arena_more);
		rcap = w->n + rows_more;
	}
	nw = dup_work_new(w->tolerance, fcap, acap, rcap);
	nw->n = w->n;
	nw->nfp = w->nfp;
	nw->arena_len = w->arena_len;
	memcpy(DUP_FPS(nw), DUP_FPS(w), sizeof(DupFp) * w->nfp);
	memcpy(DUP_ARENA(nw), DUP_ARENA(w), w->arena_len);
	memcpy(DUP_ROWS(nw), DUP_ROWS(w), sizeof(DupRow) * w->n);
	/* The table again, for the new size. */
	fps = DUP_FPS(nw);
	slots = DUP_SLOTS(nw);
	mask = (uint32) (2 * nw->fcap - 1);
	for (i = 0; i < nw->nfp; i++)
	{
		uint32		s = (uint32) fps[i].hash & mask;

		while (slots[s] != 0)
			s = (s + 1) & mask;
		slots[s] = i + 1;
	}
	return nw;
}

/*
 * The number of fingerprint (hash, bytes, len) in *wp, added when new
 * (*wp may then become a larger copy, in the current memory context).
 */
static inline uint32
dup_intern(DupWork **wp, uint64 hash, const char *bytes, int32 len)
{
	DupWork    *w = *wp;
	const DupFp *fps = DUP_FPS(w);
	int32	   *slots = DUP_SLOTS(w);
	uint32		mask = (uint32) (2 * w->fcap - 1);
	uint32		s = (uint32) hash & mask;
	DupFp	   *fp;

	while (slots[s] != 0)
	{
		const DupFp *c = &fps[slots[s] - 1];

		if (c->hash == hash && c->len == (uint32) len &&
			memcmp(DUP_ARENA(w) + c->off, bytes, len) == 0)
			return (uint32) (slots[s] - 1);
		s = (s + 1) & mask;
	}
	if (w->nfp >= w->fcap || w->arena_len + len > w->acap)
	{
		w = *wp = dup_reserve(w, 1, len, 0);
		slots = DUP_SLOTS(w);
		mask = (uint32) (2 * w->fcap - 1);
		s = (uint32) hash & mask;
		while (slots[s] != 0)
			s = (s + 1) & mask;
	}
	fp = &DUP_FPS(w)[w->nfp];
	fp->hash = hash;
	fp->off = (uint32) w->arena_len;
	fp->len = (uint32) len;
	if (len > 0)
		memcpy(DUP_ARENA(w) + w->arena_len, bytes, len);
	w->arena_len += len;
	slots[s] = ++w->nfp;
	return (uint32) (w->nfp - 1);
}

/* Append one row; returns the state to keep (w or a larger copy). */
static inline DupWork *
dup_add(DupWork *w, uint64 hash, int64 ts, const char *bytes, int32 len)
{
	uint32		fp = dup_intern(&w, hash, bytes, len);
	DupRow	   *r;

	if (unlikely(w->n >= w->rcap))
		w = dup_reserve(w, 0, 0, 1);
	r = &DUP_ROWS(w)[w->n++];
	r->ts = ts;
	r->fp = fp;
	r->unused = 0;
	return w;
}

/*
 * Append every row of a working state (src) or a flat value (v) to w;
 * returns the state (w, or a larger copy, in the current memory context).
 */
static DupWork *
dup_add_state(DupWork *w, const DupWork *src, const DupView *v)
{
	int32		i;

	if (src)
	{
		const DupFp *sfps = DUP_FPS(src);
		const DupRow *srows = DUP_ROWS(src);
		uint32	   *map;
		DupRow	   *r;

		if (src->n == 0)
			return w;
		w = dup_reserve(w, src->nfp, src->arena_len, src->n);
		map = palloc_array(uint32, Max(src->nfp, 1));
		for (i = 0; i < src->nfp; i++)
			map[i] = dup_intern(&w, sfps[i].hash, DUP_ARENA(src) + sfps[i].off,
								(int32) sfps[i].len);
		r = DUP_ROWS(w) + w->n;
		for (i = 0; i < src->n; i++)
		{
			r[i].ts = srows[i].ts;
			r[i].fp = map[srows[i].fp];
			r[i].unused = 0;
		}
		w->n += src->n;
		pfree(map);
		return w;
	}
	if (v->n == 0)
		return w;
	if (w->n + (int64) v->n > w->rcap)
		w = dup_reserve(w, 0, 0, v->n);
	for (i = 0; i < v->n; i++)
	{
		const DupRecord *rec = &v->records[i];

		w = dup_add(w, rec->hash, rec->ts, v->arena + rec->off, (int32) rec->len);
	}
	return w;
}

/*
 * The state of argument argno, ready to be modified in place: the
 * aggregate's working state, or a new one (current memory context) when
 * the argument is NULL or a flat value (or a working state from elsewhere).
 */
static DupWork *
dup_for_update(FunctionCallInfo fcinfo, int argno, int64 tolerance,
			   int32 first_len)
{
	DupWork    *w;
	const DupWork *src;
	DupView		v;

	w = (DupWork *) quality_work_arg(fcinfo, argno, QUALITY_WORK_DUP);
	if (w)
		return (DupWork *) dup_check_work((struct varlena *) w);
	if (PG_ARGISNULL(argno))
		return dup_work_new(tolerance, 1, first_len, 1);
	dup_view(PG_GETARG_DATUM(argno), &v, &src);
	if (src)
		w = dup_work_new(src->tolerance, src->nfp, src->arena_len, src->n);
	else
		w = dup_work_new(v.tolerance, 1, 0, v.n);
	return dup_add_state(w, src, &v);
}

static void
check_tolerance(int64 state_tol, int64 tol)
{
	if (state_tol != tol)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tolerance must be the same for every row of a group"),
				 errhint("Pass a constant tolerance.")));
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_state_in);
Datum
apivalue_near_duplicate_state_in(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(byteain, PG_GETARG_DATUM(0));

	dup_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_state_recv);
Datum
apivalue_near_duplicate_state_recv(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(bytearecv, PG_GETARG_DATUM(0));

	dup_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

/*
 * near_duplicate_count(fingerprint text, ts timestamptz, tolerance interval)
 * transition.  Rows with a NULL fingerprint or time are skipped.
 */
PG_FUNCTION_INFO_V1(apivalue_near_duplicate_accum);
Datum
apivalue_near_duplicate_accum(PG_FUNCTION_ARGS)
{
	DupWork    *w;
	text	   *fp;
	TimestampTz ts;
	int64		tol;

	/* The checks of every row, inline; the calls only to raise errors. */
	if (unlikely(fcinfo->context == NULL ||
				 !(IsA(fcinfo->context, AggState) ||
				   IsA(fcinfo->context, WindowAggState))))
		quality_agg_context(fcinfo, "near_duplicate_count");
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tolerance must not be NULL"),
				 errhint("Pass how close two events must be to count as one, e.g. interval '2 seconds'.")));
	{
		const Interval *iv = PG_GETARG_INTERVAL_P(3);

		/* A tolerance of seconds needs no overflow checks. */
		if (iv->month == 0 && iv->day == 0)
			tol = iv->time;
		else
			tol = quality_interval_usec(iv, "tolerance");
	}
	if (tol < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tolerance must not be negative, got \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															PG_GETARG_DATUM(3))))));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ts = PG_GETARG_TIMESTAMPTZ(2);
	if (unlikely(TIMESTAMP_NOT_FINITE(ts)))
		quality_check_finite(ts, "event time");
	fp = PG_GETARG_TEXT_PP(1);

	/* The aggregate's own working state (quality_work_arg, inline). */
	w = NULL;
	if (!PG_ARGISNULL(0))
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));

		if (VARATT_IS_4B_U(v) && VARSIZE(v) >= DUP_WORK_HDRSZ &&
			((uint8 *) VARDATA(v))[0] == QUALITY_WORK_DUP)
			w = (DupWork *) v;
	}
	if (w == NULL)
		w = dup_for_update(fcinfo, 0, tol, VARSIZE_ANY_EXHDR(fp));
	check_tolerance(w->tolerance, tol);
	w = dup_add(w,
				hash_bytes_extended((const unsigned char *) VARDATA_ANY(fp),
									VARSIZE_ANY_EXHDR(fp), 0),
				ts, VARDATA_ANY(fp), VARSIZE_ANY_EXHDR(fp));
	PG_RETURN_POINTER(w);
}

PG_FUNCTION_INFO_V1(apivalue_near_duplicate_combine);
Datum
apivalue_near_duplicate_combine(PG_FUNCTION_ARGS)
{
	DupWork    *w;
	const DupWork *src;
	DupView		v;
	int64		tol;

	quality_agg_context(fcinfo, "near_duplicate_count");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		struct varlena *first = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));

		/*
		 * The first state of a group becomes the transition value as it is:
		 * the executor copies it into the aggregate context (it differs from
		 * the NULL before), the one copy it needs.  Checked first.
		 */
		dup_view(PointerGetDatum(first), &v, &src);
		PG_RETURN_POINTER(first);
	}
	dup_view(PG_GETARG_DATUM(1), &v, &src);
	tol = src ? src->tolerance : v.tolerance;
	w = dup_for_update(fcinfo, 0, tol, 0);
	check_tolerance(w->tolerance, tol);
	w = dup_add_state(w, src, &v);
	PG_RETURN_POINTER(w);
}

/* Full order of records: fingerprint (hash, length, bytes), then time. */
static int
cmp_record(const void *a, const void *b, void *arg)
{
	const DupRecord *x = a;
	const DupRecord *y = b;
	const char *arena = arg;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(arena + x->off, arena + y->off, x->len);
	if (c != 0)
		return c;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

/*
 * Records by (hash, time) only, from PostgreSQL's sort template with the
 * comparison inlined: fingerprints of equal hash are then almost always
 * equal, and a run of one hash holding several fingerprints is sorted
 * again in full (cmp_record).
 */
static inline int
dup_cmp_hash_ts(const DupRecord *x, const DupRecord *y)
{
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

#define ST_SORT dup_sort_hash_ts
#define ST_ELEMENT_TYPE DupRecord
#define ST_COMPARE(a, b) dup_cmp_hash_ts(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * dst[0..n-1]: the records of src in (hash, time) order.  Large states are
 * first distributed by the top bits of the hash (uniform: a counting sort,
 * two passes) into buckets of about eight records, each then sorted; the
 * order is the same as one sort of the whole.
 */
static void
dup_sort_records(DupRecord *dst, const DupRecord *src, int32 n)
{
	int			bits;
	int32		nb;
	int32	   *pos;
	int32		b;
	int32		i;
	int32		from;

	if (n < 64)
	{
		memcpy(dst, src, sizeof(DupRecord) * n);
		dup_sort_hash_ts(dst, n);
		return;
	}
	bits = Min(pg_leftmost_one_pos32((uint32) n) - 2, 20);
	nb = (int32) 1 << bits;
	pos = palloc0_array(int32, nb + 1);
	for (i = 0; i < n; i++)
		pos[(src[i].hash >> (64 - bits)) + 1]++;
	for (b = 0; b < nb; b++)
		pos[b + 1] += pos[b];
	/* pos[b]: where bucket b's next record goes; at the end, its end. */
	for (i = 0; i < n; i++)
		dst[pos[src[i].hash >> (64 - bits)]++] = src[i];
	from = 0;
	for (b = 0; b < nb; b++)
	{
		if (pos[b] - from > 1)
			dup_sort_hash_ts(dst + from, pos[b] - from);
		from = pos[b];
	}
	pfree(pos);
}

static inline bool
dup_same_fingerprint(const DupRecord *x, const DupRecord *y, const char *arena)
{
	return x->hash == y->hash && x->len == y->len &&
		memcmp(arena + x->off, arena + y->off, x->len) == 0;
}

#define ST_SORT dup_sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * The count of a working state: the rows' times distributed by fingerprint
 * number (a counting sort, two passes), each fingerprint's times sorted,
 * and neighbours compared.  The difference of two finite times in order
 * is computed unsigned: it cannot overflow.
 */
static int64
dup_work_count(const DupWork *w)
{
	const DupRow *rows = DUP_ROWS(w);
	int32	   *pos;
	int64	   *t;
	int64		count = 0;
	int32		i;
	int32		b;
	int32		from;

	if (w->n < 2)
		return 0;
	pos = palloc0_array(int32, w->nfp + 1);
	for (i = 0; i < w->n; i++)
		pos[rows[i].fp + 1]++;
	for (b = 0; b < w->nfp; b++)
		pos[b + 1] += pos[b];
	t = palloc_array(int64, w->n);
	for (i = 0; i < w->n; i++)
		t[pos[rows[i].fp]++] = rows[i].ts;
	/* pos[b]: the end of fingerprint b's times. */
	from = 0;
	for (b = 0; b < w->nfp; b++)
	{
		if (pos[b] - from > 1)
		{
			dup_sort_int64(t + from, pos[b] - from);
			for (i = from + 1; i < pos[b]; i++)
				if ((uint64) t[i] - (uint64) t[i - 1] <= (uint64) w->tolerance)
					count++;
		}
		from = pos[b];
	}
	pfree(t);
	pfree(pos);
	return count;
}

/* The count: events whose predecessor of the same fingerprint is near. */
PG_FUNCTION_INFO_V1(apivalue_near_duplicate_final);
Datum
apivalue_near_duplicate_final(PG_FUNCTION_ARGS)
{
	DupView		v;
	const DupWork *work;
	DupRecord  *r;
	int64		count = 0;
	int32		i;
	int32		start;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	dup_view(PG_GETARG_DATUM(0), &v, &work);
	if (work)
		PG_RETURN_INT64(dup_work_count(work));
	if (v.n < 2)
		PG_RETURN_INT64(0);
	/* Sort a copy: the state stays as the executor handed it. */
	r = palloc_array(DupRecord, v.n);
	dup_sort_records(r, v.records, v.n);

	/*
	 * Runs of one hash: when every record of the run has the first one's
	 * fingerprint, it is in time order; else (two fingerprints with one
	 * 64-bit hash) sort the run by fingerprint, then time.
	 */
	for (start = 0; start < v.n; start = i)
	{
		bool		mixed = false;
		int32		j;

		for (i = start + 1; i < v.n && r[i].hash == r[start].hash; i++)
			if (!mixed && !dup_same_fingerprint(&r[i], &r[start], v.arena))
				mixed = true;
		if (mixed)
			qsort_arg(r + start, i - start, sizeof(DupRecord), cmp_record,
					  (void *) v.arena);
		for (j = start + 1; j < i; j++)
			if (r[j].ts - r[j - 1].ts <= v.tolerance &&
				(!mixed || dup_same_fingerprint(&r[j], &r[j - 1], v.arena)))
				count++;
	}
	pfree(r);
	PG_RETURN_INT64(count);
}
