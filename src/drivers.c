/*-------------------------------------------------------------------------
 *
 * drivers.c
 *	  Per-user features for value drivers: what a user did in the first
 *	  days after their first event, and whether the outcome came later.
 *
 * Two aggregates share one state:
 *
 *	 apivalue.behavior_counts(ts, behavior, observation) -> jsonb
 *		{behavior: events} over [first event, first event + observation);
 *	 apivalue.driver_features(ts, behavior, outcome, server_error, latency,
 *		observation, ...) -> apivalue.driver_features
 *		the behaviours done at least min_times times in that window, the
 *		experience signals (>= k server errors, p95 latency above x ms) and
 *		whether the outcome held on an event after the window.
 *
 * and a third, across users, on driver_features' fields:
 *
 *	 apivalue.behavior_tally(behaviors, outcome, server_errors, slow)
 *		-> apivalue.behavior_tally_result
 *		per behaviour the users who have it and how many of them had the
 *		outcome (the 2x2 tables of value_drivers), counted on interned ids.
 *
 * The window depends on the group's first event, which is known only when
 * every row has been seen: the first event only moves earlier, so the window
 * end only moves earlier too, and a row at or after the running window end
 * can never count.  What the final needs is therefore kept as small sorted
 * "slots" of timestamps, not as one record per row:
 *
 *	 - per behaviour, its min_times smallest timestamps: the behaviour counts
 *	   when the min_times-th of them lies before the final window end (with
 *	   the default min_times = 1 a single int64 kept inside the slot, so no
 *	   allocation at all);
 *	 - for the error signal, the error_threshold smallest error timestamps;
 *	 - for the latency signal, the timestamps of the rows with a latency and
 *	   of the slow ones (all of them still inside the running window, pruned
 *	   when a slot fills), as its p95 needs both counts;
 *	 - with an outcome window, the outcome timestamps still before the
 *	   running outcome window end; without one, the latest outcome suffices.
 *
 * behavior_counts (every count in the window) keeps every behaviour
 * timestamp still inside the running window.  Memory per user is thus about
 * 32 bytes per distinct behaviour of the first days plus a 208-byte header
 * with the default options (the names are kept once per call site, not per
 * user), and bounded by the rows of the observation (and outcome) window
 * otherwise, never by the user's history.
 *
 * Behaviour names are interned once per call site, not per user: each
 * transition, combine and deserialize function keeps a dictionary of the
 * names it has seen (in fn_extra, for the whole query: a string arena and an
 * open addressing index on hash_bytes; the previous row's name is tried
 * first, without hashing), and a state refers to its dictionary and keeps
 * only the name ids of its behaviours (the previous row's id tried first,
 * then a linear scan over a few, an index over many).  A row thus costs no
 * allocation and touches no per-user string, and a user's state is small.
 * Options that are constants or query parameters are parsed once per call
 * site (fn_extra), not per row.  Serialized states carry the names and the
 * slots' timestamps still inside the window; deserialized states live in
 * the per-row context and the combine function copies them into the
 * group's state, re-interning the names when the dictionaries differ.  Windows are fixed lengths in microseconds (months
 * of 30 days, days of 24 hours, as in window_funnel), so timestamp and
 * timestamptz behave alike and no time zone is involved.
 *
 * src/drivers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_behavior_counts_accum);
PG_FUNCTION_INFO_V1(apivalue_behavior_counts_final);
PG_FUNCTION_INFO_V1(apivalue_driver_features_accum);
PG_FUNCTION_INFO_V1(apivalue_driver_features_final);
PG_FUNCTION_INFO_V1(apivalue_driver_features_combine);
PG_FUNCTION_INFO_V1(apivalue_driver_features_serialize);
PG_FUNCTION_INFO_V1(apivalue_driver_features_deserialize);
PG_FUNCTION_INFO_V1(apivalue_behavior_tally_accum);
PG_FUNCTION_INFO_V1(apivalue_behavior_tally_combine);
PG_FUNCTION_INFO_V1(apivalue_behavior_tally_serialize);
PG_FUNCTION_INFO_V1(apivalue_behavior_tally_deserialize);
PG_FUNCTION_INFO_V1(apivalue_behavior_tally_final);

#define DRV_MODE_COUNTS		1
#define DRV_MODE_FEATURES	2

#define DRV_SERIAL_VERSION	2

/* a slot that keeps every timestamp still inside its bound */
#define DRV_KEEP_ALL		PG_INT32_MAX

/* index capacity limit: 2^27 slots (512 MB), so at most 2^26 names */
#define DRV_MAX_INDEX		(1 << 27)

/* a state finds its behaviours by a linear scan up to this many, an index above */
#define DRV_LINEAR_NAMES	8

/*
 * Behaviours room of a new state: as many as fit a 256-byte allocation (most
 * users do a handful of distinct things in their first days).
 */
#define DRV_FIRST_BEHS		((int32) (256 / sizeof(DrvBeh)))

/* Options of one aggregate call; every row of a group must agree. */
typedef struct DrvParams
{
	int64		obs_usec;		/* observation window, > 0 */
	int64		ow_usec;		/* outcome window, > 0, or -1 for none */
	int64		as_of;			/* rows at or after it are ignored; INT64_MAX: none */
	double		latency_threshold;	/* when has_latency */
	int32		min_times;		/* >= 1 */
	int32		error_threshold;	/* >= 1, or 0 for no error signal */
	uint8		mode;
	bool		exclude_early;
	bool		has_latency;
} DrvParams;

/*
 * The smallest timestamps of one kind of row, ascending, at most "keep" of
 * them (DRV_KEEP_ALL: all below the slot's bound).  The first one lives in
 * the slot itself, so a slot that keeps one timestamp never allocates.
 */
typedef struct DrvSlot
{
	int64		one;			/* the timestamp while arr is NULL */
	int64	   *arr;			/* NULL, or cap timestamps (n used) */
	int32		n;
	int32		cap;
} DrvSlot;

/* A name of a dictionary: its bytes in the dictionary's arena. */
typedef struct DrvName
{
	uint32		hash;
	uint32		len;
	Size		off;
} DrvName;

/*
 * The behaviour names one call site has seen, ids 0..nnames-1, for the
 * whole query (allocated in fn_mcxt, which outlives the states).
 */
typedef struct DrvDict
{
	MemoryContext cxt;
	DrvName    *names;
	int32		nnames;
	int32		names_cap;
	int32		last;			/* the id of the previous lookup, -1: none */
	int32		index_cap;		/* a power of two */
	int32	   *index;			/* id + 1, 0 = empty slot */
	char	   *arena;
	Size		arena_len;
	Size		arena_cap;
} DrvDict;

/* A behaviour of a state: its name id (in the state's dictionary) and slot. */
typedef struct DrvBeh
{
	DrvSlot		slot;
	int32		id;
} DrvBeh;

/*
 * A user's state.  What every row reads comes first (64 bytes, about one
 * cache line: over many users each row's state is a cache miss); the
 * transition function reads the options from its call site's cache, not
 * from here.
 */
typedef struct DrvState
{
	int64		first_ts;		/* INT64_MAX until a row arrives */
	int64		min_outcome;	/* INT64_MAX: no outcome event */
	int64		max_outcome;	/* INT64_MIN: no outcome event */
	DrvBeh	   *behs;
	int32		nbehs;
	int32		behs_cap;
	int32		last;			/* the behaviour of the previous row, -1: none */
	int32		index_cap;		/* 0, or a power of two */
	int32	   *index;			/* behs position + 1 by name id, 0 = empty */
	DrvDict    *dict;			/* the names of behs[].id */
	DrvSlot		err;			/* server errors in the window, keep error_threshold */
	DrvSlot		lat;			/* rows with a latency in the window, keep all */
	DrvSlot		slow;			/* rows above the latency threshold, keep all */
	DrvSlot		out;			/* outcome rows, only with an outcome window, keep all */
	DrvParams	p;
} DrvState;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------
 */

static inline int64
sat_add(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		return b > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return r;
}

static char *
interval_text(Interval *iv)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));
}

/* A positive window length in microseconds. */
static int64
window_arg(Interval *iv, const char *what)
{
	int64		usec;

	/* the sign as interval_cmp sees it (30-day months, 24-hour days) */
	if (((int128) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive: \"%s\"", what, interval_text(iv)),
				 errhint("Give a positive interval such as '7 days'.")));
	usec = av_window_usec(iv, what);
	if (usec <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive: \"%s\"", what, interval_text(iv)),
				 errhint("Give a positive interval such as '7 days'.")));
	return usec;
}

static bool
params_equal(const DrvParams *a, const DrvParams *b)
{
	return a->obs_usec == b->obs_usec &&
		a->ow_usec == b->ow_usec &&
		a->as_of == b->as_of &&
		a->min_times == b->min_times &&
		a->error_threshold == b->error_threshold &&
		a->mode == b->mode &&
		a->exclude_early == b->exclude_early &&
		a->has_latency == b->has_latency &&
		(!a->has_latency || a->latency_threshold == b->latency_threshold);
}

static void
params_must_match(const DrvParams *a, const DrvParams *b)
{
	if (!params_equal(a, b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the options of apivalue.%s must be the same for all rows",
						a->mode == DRV_MODE_COUNTS ? "behavior_counts" : "driver_features"),
				 errhint("Pass constants for observation, outcome_window, thresholds and as_of.")));
}

/* A new state in the current memory context, its names in dict. */
static DrvState *
drv_new(const DrvParams *p, DrvDict *dict)
{
	DrvState   *s = palloc0(sizeof(DrvState));

	s->p = *p;
	s->dict = dict;
	s->first_ts = PG_INT64_MAX;
	s->min_outcome = PG_INT64_MAX;
	s->max_outcome = PG_INT64_MIN;
	s->last = -1;
	return s;
}

/* End of the observation window for the current first event. */
static inline int64
drv_obs_end(const DrvState *s)
{
	return sat_add(s->first_ts, s->p.obs_usec);
}

/* Rows at or after this can no longer matter to the slot of outcome rows. */
static inline int64
drv_out_end(const DrvState *s)
{
	return sat_add(drv_obs_end(s), s->p.ow_usec);
}

static inline int32
drv_beh_keep(const DrvState *s)
{
	return s->p.mode == DRV_MODE_COUNTS ? DRV_KEEP_ALL : s->p.min_times;
}

/* ------------------------------------------------------------------------
 * Slots
 * ------------------------------------------------------------------------
 */

static inline int64 *
slot_data(DrvSlot *sl)
{
	return sl->arr ? sl->arr : &sl->one;
}

static inline const int64 *
slot_cdata(const DrvSlot *sl)
{
	return sl->arr ? sl->arr : &sl->one;
}

/* How many timestamps of the (ascending) slot lie before bound. */
static int32
slot_count_before(const DrvSlot *sl, int64 bound)
{
	const int64 *d = slot_cdata(sl);
	int32		lo = 0,
				hi = sl->n;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (d[mid] < bound)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Add ts to a slot that already holds a timestamp or keeps more than one:
 * the slot stays ascending and at most keep long.  When an unbounded slot
 * is full, the timestamps at or after bound are dropped first (they can no
 * longer count, as the first event only moves earlier), and the array
 * doubles only when that freed less than half of it.  The memory comes from
 * the context of the state.
 */
static void
slot_add_slow(DrvState *s, DrvSlot *sl, int64 ts, int32 keep, int64 bound)
{
	int64	   *d = slot_data(sl);
	int32		n = sl->n;
	int32		cap = sl->arr ? sl->cap : 1;
	int32		pos;

	if (n >= keep)
	{
		if (ts >= d[n - 1])
			return;				/* not among the keep smallest */
		n--;					/* the largest makes room */
	}
	else if (n >= cap)
	{
		if (keep == DRV_KEEP_ALL)
			n = sl->n = slot_count_before(sl, bound);
		if (n > cap / 2)
		{
			int64		newcap = Min(Max((int64) cap * 2, 4), (int64) keep);
			int64	   *arr;

			if (newcap > (int64) (MaxAllocSize / sizeof(int64)))
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many events in one user's window: %d", n)));
			arr = MemoryContextAlloc(GetMemoryChunkContext(s), sizeof(int64) * newcap);
			memcpy(arr, d, sizeof(int64) * n);
			if (sl->arr)
				pfree(sl->arr);
			sl->arr = arr;
			sl->cap = (int32) newcap;
			d = arr;
		}
	}

	/* insert after equal timestamps; in-order input appends */
	pos = n;
	while (pos > 0 && d[pos - 1] > ts)
		pos--;
	if (pos < n)
		memmove(d + pos + 1, d + pos, sizeof(int64) * (n - pos));
	d[pos] = ts;
	sl->n = n + 1;
}

/* Add ts to a slot (see slot_add_slow); the common cases inline. */
static inline void
slot_add(DrvState *s, DrvSlot *sl, int64 ts, int32 keep, int64 bound)
{
	if (sl->n == 0)
	{
		slot_data(sl)[0] = ts;
		sl->n = 1;
	}
	else if (keep == 1)
	{
		if (ts < sl->one)
			sl->one = ts;
	}
	else
		slot_add_slow(s, sl, ts, keep, bound);
}

/* ------------------------------------------------------------------------
 * Behaviour names
 * ------------------------------------------------------------------------
 */

/* A new, empty dictionary in cxt. */
static DrvDict *
dict_new(MemoryContext cxt)
{
	DrvDict    *d = MemoryContextAllocZero(cxt, sizeof(DrvDict));

	d->cxt = cxt;
	d->last = -1;
	d->index_cap = 64;
	d->index = MemoryContextAllocZero(cxt, sizeof(int32) * d->index_cap);
	return d;
}

/* The dictionary kept in *slot (a call site's fn_extra), made on first use. */
static DrvDict *
dict_of(FunctionCallInfo fcinfo, DrvDict **slot)
{
	if (*slot == NULL)
		*slot = dict_new(fcinfo->flinfo->fn_mcxt);
	return *slot;
}

static inline const char *
dict_name(const DrvDict *d, int32 id, int *len)
{
	*len = (int) d->names[id].len;
	return d->arena + d->names[id].off;
}

static void
dict_index_rebuild(DrvDict *d, int32 cap)
{
	int32		mask = cap - 1;
	int32	   *index = MemoryContextAllocZero(d->cxt, sizeof(int32) * cap);
	int32		i;

	for (i = 0; i < d->nnames; i++)
	{
		int32		slot = d->names[i].hash & mask;

		while (index[slot] != 0)
			slot = (slot + 1) & mask;
		index[slot] = i + 1;
	}
	pfree(d->index);
	d->index = index;
	d->index_cap = cap;
}

/*
 * The id of a behaviour name, adding it when new.  The previous lookup's
 * name is tried first, without hashing.
 */
static int32
dict_lookup(DrvDict *d, const char *data, int len)
{
	uint32		h;
	int32		mask;
	int32		slot;
	int32		k;
	DrvName    *n;

	if (d->last >= 0)
	{
		n = &d->names[d->last];
		if (n->len == (uint32) len && memcmp(d->arena + n->off, data, len) == 0)
			return d->last;
	}

	h = hash_bytes((const unsigned char *) data, len);
	mask = d->index_cap - 1;
	slot = h & mask;
	while (d->index[slot] != 0)
	{
		k = d->index[slot] - 1;
		n = &d->names[k];
		if (n->hash == h && n->len == (uint32) len &&
			memcmp(d->arena + n->off, data, len) == 0)
			return d->last = k;
		slot = (slot + 1) & mask;
	}

	/* a new name */
	if (d->nnames == d->names_cap)
	{
		int32		cap = d->names_cap == 0 ? 16 : d->names_cap * 2;

		if ((Size) cap * sizeof(DrvName) > MaxAllocSize || cap > DRV_MAX_INDEX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct behaviours: %d", d->nnames),
					 errhint("Normalize the behaviour column (normalize_behaviors => true) or group it more coarsely.")));
		if (d->names == NULL)
			d->names = MemoryContextAlloc(d->cxt, sizeof(DrvName) * cap);
		else
			d->names = repalloc(d->names, sizeof(DrvName) * cap);
		d->names_cap = cap;
	}
	if (d->arena_len + len > d->arena_cap)
	{
		Size		cap = Max(Max(d->arena_cap * 2, d->arena_len + len), 1024);

		if (d->arena == NULL)
			d->arena = MemoryContextAllocHuge(d->cxt, cap);
		else
			d->arena = repalloc_huge(d->arena, cap);
		d->arena_cap = cap;
	}
	memcpy(d->arena + d->arena_len, data, len);
	n = &d->names[d->nnames];
	n->hash = h;
	n->len = len;
	n->off = d->arena_len;
	d->arena_len += len;
	k = d->nnames++;
	d->index[slot] = k + 1;

	/* at most half full */
	if (d->nnames * 2 > d->index_cap)
		dict_index_rebuild(d, d->index_cap * 2);
	return d->last = k;
}

static inline uint32
drv_id_hash(int32 id)
{
	return murmurhash32((uint32) id);
}

static void
drv_index_rebuild(DrvState *s, int32 cap)
{
	int32		mask = cap - 1;
	int32		i;

	if (s->index)
		pfree(s->index);
	s->index = MemoryContextAllocZero(GetMemoryChunkContext(s), sizeof(int32) * cap);
	s->index_cap = cap;
	for (i = 0; i < s->nbehs; i++)
	{
		int32		slot = drv_id_hash(s->behs[i].id) & mask;

		while (s->index[slot] != 0)
			slot = (slot + 1) & mask;
		s->index[slot] = i + 1;
	}
}

/*
 * The position in s->behs of the behaviour with name id "id" (of s->dict),
 * adding it when new (in the context of the state).  The previous row's
 * behaviour is tried first; then a linear scan over a few, or the index
 * over many.
 */
static int32
drv_beh(DrvState *s, int32 id)
{
	int32		k;
	DrvBeh	   *b;

	if (s->last >= 0 && s->behs[s->last].id == id)
		return s->last;
	if (s->index == NULL)
	{
		for (k = 0; k < s->nbehs; k++)
			if (s->behs[k].id == id)
				return s->last = k;
	}
	else
	{
		int32		mask = s->index_cap - 1;
		int32		slot = drv_id_hash(id) & mask;

		while (s->index[slot] != 0)
		{
			k = s->index[slot] - 1;
			if (s->behs[k].id == id)
				return s->last = k;
			slot = (slot + 1) & mask;
		}
	}

	/* a new behaviour of this state */
	if (s->nbehs == s->behs_cap)
	{
		int32		cap = s->behs_cap == 0 ? DRV_FIRST_BEHS : s->behs_cap * 2;

		if ((Size) cap * sizeof(DrvBeh) > MaxAllocSize || cap > DRV_MAX_INDEX / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct behaviours for one user: %d", s->nbehs),
					 errhint("Normalize the behaviour column (normalize_behaviors => true) or group it more coarsely.")));
		if (s->behs == NULL)
			s->behs = MemoryContextAlloc(GetMemoryChunkContext(s), sizeof(DrvBeh) * cap);
		else
			s->behs = repalloc(s->behs, sizeof(DrvBeh) * cap);
		s->behs_cap = cap;
	}
	b = &s->behs[s->nbehs];
	memset(&b->slot, 0, sizeof(DrvSlot));
	b->id = id;
	k = s->nbehs++;

	/* an index once the behaviours outgrow a linear scan, at most half full */
	if (s->nbehs > DRV_LINEAR_NAMES && s->nbehs * 2 > s->index_cap)
		drv_index_rebuild(s, s->index_cap == 0 ? 32 : s->index_cap * 2);
	else if (s->index != NULL)
	{
		int32		mask = s->index_cap - 1;
		int32		slot = drv_id_hash(id) & mask;

		while (s->index[slot] != 0)
			slot = (slot + 1) & mask;
		s->index[slot] = k + 1;
	}
	return s->last = k;
}

/* The position in s->behs of a behaviour name, adding it when new. */
static inline int32
drv_intern(DrvState *s, const char *data, int len)
{
	return drv_beh(s, dict_lookup(s->dict, data, len));
}

static void
drv_note_first(DrvState *s, int64 ts)
{
	if (ts < s->first_ts)
		s->first_ts = ts;
}

/* ------------------------------------------------------------------------
 * Transition functions
 * ------------------------------------------------------------------------
 */

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fname)));
	return aggctx;
}

/*
 * Options parsed once per aggregate call site (in fn_extra) when every
 * option argument is the same for all rows of the execution: constants,
 * query parameters and expressions of them without volatile functions.
 */
typedef struct DrvOptCache
{
	DrvParams	p;
	DrvDict    *dict;			/* the names of this call site's states */
	bool		checked;		/* stable has been decided */
	bool		stable;
	bool		parsed;			/* p holds the options */
} DrvOptCache;

static bool
drv_varying_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return ((Param *) node)->paramkind != PARAM_EXTERN;
	if (IsA(node, Var) || IsA(node, Aggref) || IsA(node, WindowFunc) ||
		IsA(node, GroupingFunc) || IsA(node, SubLink) || IsA(node, SubPlan) ||
		IsA(node, AlternativeSubPlan) || IsA(node, PlaceHolderVar))
		return true;
	return expression_tree_walker(node, drv_varying_walker, context);
}

/* Are fcinfo arguments first..last the same for every row of this execution? */
static bool
drv_options_stable(FunctionCallInfo fcinfo, int first, int last)
{
	Aggref	   *ag = AggGetAggref(fcinfo);
	ListCell   *lc;
	int			argno = 0;

	if (ag == NULL)
		return false;
	foreach(lc, ag->args)
	{
		TargetEntry *te = lfirst_node(TargetEntry, lc);
		Node	   *e = (Node *) te->expr;

		argno++;				/* argument 0 is the state */
		if (argno < first || argno > last)
			continue;
		if (drv_varying_walker(e, NULL) || contain_volatile_functions(e))
			return false;
	}
	return argno >= last;
}

/*
 * The options of this row: parsed by "parse" into *buf, or the cached copy
 * when they cannot vary.  *cached tells which.
 */
static const DrvParams *
drv_options(FunctionCallInfo fcinfo, DrvParams *buf, int first, int last,
			void (*parse) (FunctionCallInfo, DrvParams *), bool *cached)
{
	DrvOptCache *c = (DrvOptCache *) fcinfo->flinfo->fn_extra;

	if (c != NULL && c->parsed)
	{
		*cached = true;
		return &c->p;
	}
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DrvOptCache));
		fcinfo->flinfo->fn_extra = c;
	}
	if (!c->checked)
	{
		c->stable = drv_options_stable(fcinfo, first, last);
		c->checked = true;
	}
	parse(fcinfo, buf);
	if (c->stable)
	{
		c->p = *buf;
		c->parsed = true;
		*cached = true;
		return &c->p;
	}
	*cached = false;
	return buf;
}

static void
drv_parse_counts(FunctionCallInfo fcinfo, DrvParams *p)
{
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("observation must not be NULL")));
	memset(p, 0, sizeof(*p));
	p->mode = DRV_MODE_COUNTS;
	p->obs_usec = window_arg(PG_GETARG_INTERVAL_P(3), "observation");
	p->ow_usec = -1;
	p->as_of = PG_INT64_MAX;
	p->min_times = 1;
}

/* Arguments 6..12 of driver_features (see its transition function). */
static void
drv_parse_features(FunctionCallInfo fcinfo, DrvParams *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = DRV_MODE_FEATURES;
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("observation must not be NULL")));
	p->obs_usec = window_arg(PG_GETARG_INTERVAL_P(6), "observation");
	p->ow_usec = PG_ARGISNULL(7) ? -1 : window_arg(PG_GETARG_INTERVAL_P(7), "outcome_window");
	if (PG_ARGISNULL(8))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("min_times must not be NULL")));
	p->min_times = PG_GETARG_INT32(8);
	if (p->min_times < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_times must be at least 1: %d", p->min_times)));
	p->error_threshold = PG_ARGISNULL(9) ? 0 : PG_GETARG_INT32(9);
	if (!PG_ARGISNULL(9) && p->error_threshold < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("error_threshold must be at least 1: %d", p->error_threshold)));
	p->has_latency = !PG_ARGISNULL(10);
	if (p->has_latency)
	{
		p->latency_threshold = PG_GETARG_FLOAT8(10);
		if (isnan(p->latency_threshold) || isinf(p->latency_threshold))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("latency_threshold_ms must be a finite number: %g",
							p->latency_threshold)));
	}
	p->exclude_early = !PG_ARGISNULL(11) && PG_GETARG_BOOL(11);
	p->as_of = PG_ARGISNULL(12) ? PG_INT64_MAX : av_timestamp_arg(PG_GETARG_TIMESTAMP(12));
}

/*
 * A text argument, detoasted only when compressed or out of line (as
 * PG_GETARG_TEXT_PP, without a function call per row for the usual short
 * inline value).
 */
static inline text *
drv_text_arg(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		v = pg_detoast_datum_packed(v);
	return (text *) v;
}

/*
 * The group's state, created in the aggregate context on its first row, its
 * names in the call site's dictionary (drv_options made the cache).
 */
static DrvState *
drv_state(FunctionCallInfo fcinfo, DrvState *s, const DrvParams *p, bool cached,
		  const char *fname)
{
	if (s == NULL)
	{
		DrvOptCache *c = (DrvOptCache *) fcinfo->flinfo->fn_extra;
		MemoryContext old = MemoryContextSwitchTo(agg_context(fcinfo, fname));

		s = drv_new(p, dict_of(fcinfo, &c->dict));
		MemoryContextSwitchTo(old);
	}
	else if (!cached)
		params_must_match(&s->p, p);
	return s;
}

/*
 * apivalue.behavior_counts(ts, behavior text, observation interval)
 * transition: the first event, and the timestamps of each behaviour that may
 * fall in the window.  Rows with a NULL timestamp are skipped; rows with a
 * NULL behaviour still count as events (they can be the first one).
 */
Datum
apivalue_behavior_counts_accum(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvParams	buf;
	const DrvParams *p;
	bool		cached;
	int64		ts;
	int64		obs_end;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	p = drv_options(fcinfo, &buf, 3, 3, drv_parse_counts, &cached);
	ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(1));
	s = drv_state(fcinfo, s, p, cached, "behavior_counts");

	drv_note_first(s, ts);
	obs_end = sat_add(s->first_ts, p->obs_usec);
	if (!PG_ARGISNULL(2) && ts < obs_end)
	{
		text	   *b = drv_text_arg(PG_GETARG_DATUM(2));
		int32		k = drv_intern(s, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));

		slot_add(s, &s->behs[k].slot, ts, DRV_KEEP_ALL, obs_end);
	}
	PG_RETURN_POINTER(s);
}

/*
 * apivalue.driver_features(ts, behavior text, outcome boolean,
 *		server_error boolean, latency_ms float8, observation interval,
 *		outcome_window interval, min_times integer, error_threshold integer,
 *		latency_threshold_ms float8, exclude_early_outcome boolean,
 *		as_of timestamp[tz]) transition.
 *
 * Arguments 6..12 are options (constant per call); NULL error_threshold or
 * latency_threshold_ms turn that signal off, NULL outcome_window means "any
 * time after the window", NULL as_of means no cut-off.  A behaviour keeps
 * only its min_times smallest timestamps, the error signal its
 * error_threshold smallest: enough to decide "at least that many before the
 * window end" whatever the final first event.
 */
Datum
apivalue_driver_features_accum(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvParams	buf;
	const DrvParams *p;
	bool		cached;
	int64		ts;
	int64		obs_end;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	p = drv_options(fcinfo, &buf, 6, 12, drv_parse_features, &cached);
	ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(1));
	s = drv_state(fcinfo, s, p, cached, "driver_features");

	/* p equals s->p (cached, or checked): the state's copy is not read */
	if (ts >= p->as_of)
		PG_RETURN_POINTER(s);	/* after the cut-off: as if the row did not exist */
	drv_note_first(s, ts);
	obs_end = sat_add(s->first_ts, p->obs_usec);

	if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
	{
		if (ts < s->min_outcome)
			s->min_outcome = ts;
		if (ts > s->max_outcome)
			s->max_outcome = ts;
		if (p->ow_usec >= 0)
		{
			int64		out_end = sat_add(obs_end, p->ow_usec);

			if (ts < out_end)
				slot_add(s, &s->out, ts, DRV_KEEP_ALL, out_end);
		}
	}

	/* behaviour and experience only matter inside the (running) window */
	if (ts < obs_end)
	{
		if (p->error_threshold > 0 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4))
			slot_add(s, &s->err, ts, p->error_threshold, obs_end);
		if (p->has_latency && !PG_ARGISNULL(5))
		{
			double		lat = PG_GETARG_FLOAT8(5);

			slot_add(s, &s->lat, ts, DRV_KEEP_ALL, obs_end);
			/* NaN sorts above every number in PostgreSQL */
			if (isnan(lat) || lat > p->latency_threshold)
				slot_add(s, &s->slow, ts, DRV_KEEP_ALL, obs_end);
		}
		if (!PG_ARGISNULL(2))
		{
			text	   *b = drv_text_arg(PG_GETARG_DATUM(2));
			int32		k = drv_intern(s, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));

			slot_add(s, &s->behs[k].slot, ts, p->min_times, obs_end);
		}
	}
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * Combine, serialize, deserialize
 * ------------------------------------------------------------------------
 */

/* Add src's timestamps before bound to the slot d of state s. */
static void
slot_merge(DrvState *s, DrvSlot *d, const DrvSlot *src, int32 keep, int64 bound)
{
	const int64 *x = slot_cdata(src);
	int32		i;

	for (i = 0; i < src->n && x[i] < bound; i++)
		slot_add(s, d, x[i], keep, bound);
}

/*
 * Add src's first event, outcome times, behaviours and signals to dst (in
 * the context of dst).  Timestamps are re-filtered against the merged first
 * event.
 */
static void
drv_merge(DrvState *dst, const DrvState *src)
{
	int64		obs_end;
	int32		k;

	drv_note_first(dst, src->first_ts);
	if (src->min_outcome < dst->min_outcome)
		dst->min_outcome = src->min_outcome;
	if (src->max_outcome > dst->max_outcome)
		dst->max_outcome = src->max_outcome;
	obs_end = drv_obs_end(dst);

	slot_merge(dst, &dst->err, &src->err, Max(dst->p.error_threshold, 1), obs_end);
	slot_merge(dst, &dst->lat, &src->lat, DRV_KEEP_ALL, obs_end);
	slot_merge(dst, &dst->slow, &src->slow, DRV_KEEP_ALL, obs_end);
	if (dst->p.ow_usec >= 0)
		slot_merge(dst, &dst->out, &src->out, DRV_KEEP_ALL, drv_out_end(dst));
	for (k = 0; k < src->nbehs; k++)
	{
		const DrvBeh *b = &src->behs[k];
		int32		id;

		if (b->slot.n == 0 || slot_cdata(&b->slot)[0] >= obs_end)
			continue;
		if (src->dict == dst->dict)
			id = drv_beh(dst, b->id);
		else
		{
			int			len;
			const char *name = dict_name(src->dict, b->id, &len);

			id = drv_intern(dst, name, len);
		}
		slot_merge(dst, &dst->behs[id].slot, &b->slot, drv_beh_keep(dst), obs_end);
	}
}

Datum
apivalue_driver_features_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "driver_features_combine");
	DrvState   *s1 = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvState   *s2 = PG_ARGISNULL(1) ? NULL : (DrvState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		s1 = drv_new(&s2->p, dict_of(fcinfo, (DrvDict **) &fcinfo->flinfo->fn_extra));
		MemoryContextSwitchTo(old);
	}
	else
		params_must_match(&s1->p, &s2->p);
	drv_merge(s1, s2);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialized form (native byte order, as parallel workers and the leader
 * share a machine):
 *		uint8 version, uint8 mode, uint8 exclude_early, uint8 has_latency,
 *		int64 obs_usec, ow_usec, as_of, float8 latency_threshold,
 *		int32 min_times, error_threshold,
 *		int64 first_ts, min_outcome, max_outcome,
 *		int32 nbehs, then per behaviour int32 length, the name's bytes,
 *		int32 n and n int64 timestamps,
 *		then the error, latency, slow and outcome slots (int32 n, n int64).
 * Only timestamps that can still count are written.
 */
#define DRV_PUT(p, v) (memcpy((p), &(v), sizeof(v)), (p) += sizeof(v))

static char *
slot_put(char *p, const DrvSlot *sl, int32 n)
{
	DRV_PUT(p, n);
	if (n > 0)
	{
		memcpy(p, slot_cdata(sl), sizeof(int64) * n);
		p += sizeof(int64) * n;
	}
	return p;
}

Datum
apivalue_driver_features_serialize(PG_FUNCTION_ARGS)
{
	DrvState   *s = (DrvState *) PG_GETARG_POINTER(0);
	Size		size;
	bytea	   *out;
	char	   *p;
	uint8		hdr[4];
	int64		obs_end;
	int64		out_end;
	int32		n_err,
				n_lat,
				n_slow,
				n_out;
	int32		k;
	Size		names_len = 0;

	(void) agg_context(fcinfo, "driver_features_serialize");
	obs_end = drv_obs_end(s);
	out_end = s->p.ow_usec >= 0 ? drv_out_end(s) : PG_INT64_MIN;
	n_err = slot_count_before(&s->err, obs_end);
	n_lat = slot_count_before(&s->lat, obs_end);
	n_slow = slot_count_before(&s->slow, obs_end);
	n_out = slot_count_before(&s->out, out_end);

	for (k = 0; k < s->nbehs; k++)
		names_len += s->dict->names[s->behs[k].id].len;
	size = VARHDRSZ + sizeof(hdr) + 3 * sizeof(int64) + sizeof(double) +
		2 * sizeof(int32) + 3 * sizeof(int64) + sizeof(int32) +
		names_len + 4 * sizeof(int32) +
		sizeof(int64) * ((Size) n_err + n_lat + n_slow + n_out);
	for (k = 0; k < s->nbehs; k++)
		size += 2 * sizeof(int32) +
			sizeof(int64) * slot_count_before(&s->behs[k].slot, obs_end);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("apivalue driver_features state of %zu bytes is too large to serialize", size)));
	out = palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);

	hdr[0] = DRV_SERIAL_VERSION;
	hdr[1] = s->p.mode;
	hdr[2] = s->p.exclude_early ? 1 : 0;
	hdr[3] = s->p.has_latency ? 1 : 0;
	memcpy(p, hdr, sizeof(hdr));
	p += sizeof(hdr);
	DRV_PUT(p, s->p.obs_usec);
	DRV_PUT(p, s->p.ow_usec);
	DRV_PUT(p, s->p.as_of);
	DRV_PUT(p, s->p.latency_threshold);
	DRV_PUT(p, s->p.min_times);
	DRV_PUT(p, s->p.error_threshold);
	DRV_PUT(p, s->first_ts);
	DRV_PUT(p, s->min_outcome);
	DRV_PUT(p, s->max_outcome);
	DRV_PUT(p, s->nbehs);
	for (k = 0; k < s->nbehs; k++)
	{
		const DrvBeh *b = &s->behs[k];
		int			nlen;
		const char *name = dict_name(s->dict, b->id, &nlen);
		int32		len = (int32) nlen;

		DRV_PUT(p, len);
		memcpy(p, name, len);
		p += len;
		p = slot_put(p, &b->slot, slot_count_before(&b->slot, obs_end));
	}
	p = slot_put(p, &s->err, n_err);
	p = slot_put(p, &s->lat, n_lat);
	p = slot_put(p, &s->slow, n_slow);
	p = slot_put(p, &s->out, n_out);
	Assert(p == (char *) out + size);

	PG_RETURN_BYTEA_P(out);
}

static void
bad_state(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid apivalue driver_features state: %s", why)));
}

static const char *
drv_get(const char *p, const char *end, void *dst, Size n)
{
	if ((Size) (end - p) < n)
		bad_state("truncated");
	memcpy(dst, p, n);
	return p + n;
}

/*
 * Read a serialized slot into the slot d of s (which may already hold
 * timestamps: a forged state may repeat a name), checking the count against
 * the bytes left and every timestamp against the first event.
 */
static const char *
slot_get(DrvState *s, int32 slotno, const char *p, const char *end,
		 int32 keep, int64 bound)
{
	int32		n;
	int32		i;

	p = drv_get(p, end, &n, sizeof(int32));
	if (n < 0 || (Size) n > (Size) (end - p) / sizeof(int64))
		bad_state("timestamp count exceeds the data");
	for (i = 0; i < n; i++)
	{
		int64		ts;
		DrvSlot    *d;

		memcpy(&ts, p, sizeof(int64));
		p += sizeof(int64);
		if (s->first_ts == PG_INT64_MAX || ts < s->first_ts)
			bad_state("record before the first event");
		if (ts >= bound)
			continue;
		/* the slot's address is taken anew: interning may move behaviours */
		switch (slotno)
		{
			case -1:
				d = &s->err;
				break;
			case -2:
				d = &s->lat;
				break;
			case -3:
				d = &s->slow;
				break;
			case -4:
				d = &s->out;
				break;
			default:
				d = &s->behs[slotno].slot;
				break;
		}
		slot_add(s, d, ts, keep, bound);
	}
	return p;
}

Datum
apivalue_driver_features_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	uint8		hdr[4];
	DrvParams	prm;
	DrvState   *s;
	int32		nbehs;
	int32		k;
	int64		obs_end;
	int64		out_end;

	(void) agg_context(fcinfo, "driver_features_deserialize");
	memset(&prm, 0, sizeof(prm));
	p = drv_get(p, end, hdr, sizeof(hdr));
	if (hdr[0] != DRV_SERIAL_VERSION)
		bad_state("unknown version");
	if (hdr[1] != DRV_MODE_COUNTS && hdr[1] != DRV_MODE_FEATURES)
		bad_state("unknown mode");
	prm.mode = hdr[1];
	prm.exclude_early = hdr[2] != 0;
	prm.has_latency = hdr[3] != 0;
	p = drv_get(p, end, &prm.obs_usec, sizeof(int64));
	p = drv_get(p, end, &prm.ow_usec, sizeof(int64));
	p = drv_get(p, end, &prm.as_of, sizeof(int64));
	p = drv_get(p, end, &prm.latency_threshold, sizeof(double));
	p = drv_get(p, end, &prm.min_times, sizeof(int32));
	p = drv_get(p, end, &prm.error_threshold, sizeof(int32));
	if (prm.obs_usec <= 0 || prm.ow_usec < -1 || prm.ow_usec == 0 ||
		prm.min_times < 1 || prm.error_threshold < 0)
		bad_state("invalid options");

	/*
	 * The state lives in the current (per-input-row) context: the combine
	 * function copies what it needs into the group's state.
	 */
	s = drv_new(&prm, dict_of(fcinfo, (DrvDict **) &fcinfo->flinfo->fn_extra));
	p = drv_get(p, end, &s->first_ts, sizeof(int64));
	p = drv_get(p, end, &s->min_outcome, sizeof(int64));
	p = drv_get(p, end, &s->max_outcome, sizeof(int64));
	obs_end = drv_obs_end(s);
	out_end = s->p.ow_usec >= 0 ? drv_out_end(s) : PG_INT64_MIN;

	p = drv_get(p, end, &nbehs, sizeof(int32));
	if (nbehs < 0 || (Size) nbehs > (Size) (end - p) / (2 * sizeof(int32)))
		bad_state("behaviour count exceeds the data");
	for (k = 0; k < nbehs; k++)
	{
		int32		len;
		int32		id;

		p = drv_get(p, end, &len, sizeof(int32));
		if (len < 0 || len > end - p)
			bad_state("name length exceeds the data");
		/* interning also collapses duplicate names of a forged state */
		id = drv_intern(s, p, len);
		p += len;
		p = slot_get(s, id, p, end, drv_beh_keep(s), obs_end);
	}
	p = slot_get(s, -1, p, end, Max(s->p.error_threshold, 1), obs_end);
	p = slot_get(s, -2, p, end, DRV_KEEP_ALL, obs_end);
	p = slot_get(s, -3, p, end, DRV_KEEP_ALL, obs_end);
	p = slot_get(s, -4, p, end, DRV_KEEP_ALL, out_end);
	if (p != end)
		bad_state("trailing bytes");
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * Final functions
 * ------------------------------------------------------------------------
 */

/* Does the slot hold at least k timestamps before bound? */
static inline bool
slot_at_least(const DrvSlot *sl, int32 k, int64 bound)
{
	return sl->n >= k && slot_cdata(sl)[k - 1] < bound;
}

static int
name_cmp(const void *a, const void *b, void *arg)
{
	const DrvState *s = (const DrvState *) arg;
	int			xlen,
				ylen;
	const char *x = dict_name(s->dict, s->behs[*(const int32 *) a].id, &xlen);
	const char *y = dict_name(s->dict, s->behs[*(const int32 *) b].id, &ylen);
	int			r = memcmp(x, y, Min(xlen, ylen));

	if (r != 0)
		return r;
	return (xlen > ylen) - (xlen < ylen);
}

/*
 * apivalue.behavior_counts final: {behavior: events in the window}; an empty
 * object when the user has no behaviour in it, NULL for a group without rows.
 */
Datum
apivalue_behavior_counts_final(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	JsonbParseState *js = NULL;
	JsonbValue *res;
	int64		obs_end;
	int32		k;

	if (s == NULL || s->first_ts == PG_INT64_MAX)
		PG_RETURN_NULL();
	obs_end = drv_obs_end(s);
	pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
	for (k = 0; k < s->nbehs; k++)
	{
		const DrvBeh *b = &s->behs[k];
		int32		count = slot_count_before(&b->slot, obs_end);
		JsonbValue	key,
					val;
		int			len;

		if (count == 0)
			continue;
		key.type = jbvString;
		key.val.string.val = unconstify(char *, dict_name(s->dict, b->id, &len));
		key.val.string.len = len;
		val.type = jbvNumeric;
		val.val.numeric = int64_to_numeric(count);
		pushJsonbValue(&js, WJB_KEY, &key);
		pushJsonbValue(&js, WJB_VALUE, &val);
	}
	res = pushJsonbValue(&js, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/*
 * apivalue.driver_features final: (behaviors text[], server_errors boolean,
 * slow boolean, outcome boolean) for a user who counts, NULL for one who
 * does not:
 *	 - behaviors: behaviours done at least min_times times in
 *	   [first, first + observation), in byte order;
 *	 - server_errors: at least error_threshold server errors in the window
 *	   (NULL when that signal is off);
 *	 - slow: the 95th percentile (percentile_disc) of the latencies in the
 *	   window is above the threshold, i.e. fewer than ceil(0.95 n) of the n
 *	   latencies are at or below it; false without latencies (NULL when off);
 *	 - outcome: an outcome event at or after first + observation (and before
 *	   first + observation + outcome_window when given).
 * A user is left out (NULL) when as_of cuts the window (or the outcome
 * window) short, or, with exclude_early_outcome, when the outcome already
 * held inside the observation window.
 */
/*
 * The behaviours done at least min_times times before obs_end, in byte
 * order, as a text[] built in one allocation.
 */
static ArrayType *
drv_behavior_array(const DrvState *s, int64 obs_end)
{
	int32		ids_buf[16];
	int32	   *ids;
	int32		nids = 0;
	int32		k;
	Size		nbytes = 0;
	Size		size;
	ArrayType  *arr;
	char	   *p;
	int			dims[1];
	int			lbs[1] = {1};

	ids = s->nbehs <= (int32) lengthof(ids_buf) ? ids_buf : palloc(sizeof(int32) * s->nbehs);
	for (k = 0; k < s->nbehs; k++)
		if (slot_at_least(&s->behs[k].slot, s->p.min_times, obs_end))
		{
			ids[nids++] = k;
			nbytes += INTALIGN(VARHDRSZ + s->dict->names[s->behs[k].id].len);
		}
	if (nids == 0)
		return construct_empty_array(TEXTOID);
	if (nids > 1)
		qsort_arg(ids, nids, sizeof(int32), name_cmp, (void *) s);

	size = ARR_OVERHEAD_NONULLS(1) + nbytes;
	if (!AllocSizeIsValid(size))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("array size exceeds the maximum allowed (%d)", (int) MaxAllocSize)));
	arr = (ArrayType *) palloc0(size);
	SET_VARSIZE(arr, size);
	arr->ndim = 1;
	arr->dataoffset = 0;
	arr->elemtype = TEXTOID;
	dims[0] = nids;
	memcpy(ARR_DIMS(arr), dims, sizeof(dims));
	memcpy(ARR_LBOUND(arr), lbs, sizeof(lbs));
	p = ARR_DATA_PTR(arr);
	for (k = 0; k < nids; k++)
	{
		int			len;
		const char *name = dict_name(s->dict, s->behs[ids[k]].id, &len);

		SET_VARSIZE(p, VARHDRSZ + len);
		memcpy(VARDATA(p), name, len);
		p += INTALIGN(VARHDRSZ + len);
	}
	Assert(p == (char *) arr + size);
	return arr;
}

Datum
apivalue_driver_features_final(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int64		obs_end,
				out_end;
	bool		outcome;

	if (s == NULL || s->first_ts == PG_INT64_MAX)
		PG_RETURN_NULL();

	/* the blessed result descriptor, looked up once per call site */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning record called in context that cannot accept type record")));
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}

	obs_end = drv_obs_end(s);
	out_end = s->p.ow_usec >= 0 ? sat_add(obs_end, s->p.ow_usec) : PG_INT64_MAX;

	/* censored: the data end before the user's windows do */
	if (s->p.as_of != PG_INT64_MAX &&
		(s->p.ow_usec >= 0 ? out_end : obs_end) > s->p.as_of)
		PG_RETURN_NULL();
	if (s->p.exclude_early && s->min_outcome < obs_end)
		PG_RETURN_NULL();

	if (s->p.ow_usec < 0)
		outcome = s->max_outcome >= obs_end;
	else
		outcome = slot_count_before(&s->out, out_end) > slot_count_before(&s->out, obs_end);

	values[0] = PointerGetDatum(drv_behavior_array(s, obs_end));

	if (s->p.error_threshold > 0)
		values[1] = BoolGetDatum(slot_at_least(&s->err, s->p.error_threshold, obs_end));
	else
		nulls[1] = true;

	if (s->p.has_latency)
	{
		/* the row percentile_disc(0.95) picks, computed as PostgreSQL does */
		int64		lat_n = slot_count_before(&s->lat, obs_end);
		int64		slow_n = slot_count_before(&s->slow, obs_end);
		int64		rownum = (int64) ceil(0.95 * (double) lat_n);

		values[2] = BoolGetDatum(lat_n > 0 && lat_n - slow_n < rownum);
	}
	else
		nulls[2] = true;
	values[3] = BoolGetDatum(outcome);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ------------------------------------------------------------------------
 * behavior_tally: the 2x2 tables of value_drivers, across users
 *
 *	 apivalue.behavior_tally(behaviors text[], outcome boolean,
 *		server_errors boolean, slow boolean) -> apivalue.behavior_tally_result
 *
 * One row per user (typically driver_features' fields): per behaviour the
 * users who have it in their array and how many of them had the outcome,
 * plus the totals and the two experience signals.  It replaces unnesting
 * the per-user arrays and grouping the pairs by text: the names are
 * interned in a dictionary of the state (the previous element's name tried
 * first, without hashing) and counted in arrays indexed by name id, so a
 * user costs one pass over the elements of its array, no allocation.
 * ------------------------------------------------------------------------
 */

#define DRV_TALLY_VERSION	1

typedef struct DrvTally
{
	DrvDict    *dict;			/* names, ids 0..dict->nnames-1 */
	int64	   *users;			/* by id: users with the behaviour */
	int64	   *outs;			/* by id: those of them with the outcome */
	int64	   *seen;			/* by id: the last row that counted it */
	int32		cap;			/* room of the three arrays */
	int64		rows;			/* rows counted, the stamp of seen[] */
	int64		n;				/* users (rows with a non-NULL outcome) */
	int64		k;				/* of them with the outcome */
	int64		err_n;
	int64		err_k;
	int64		slow_n;
	int64		slow_k;
} DrvTally;

/* A new, empty tally in cxt. */
static DrvTally *
tally_new(MemoryContext cxt)
{
	DrvTally   *t = MemoryContextAllocZero(cxt, sizeof(DrvTally));

	t->dict = dict_new(cxt);
	return t;
}

/* Make room for name id "id" in the counters (zeroed, geometric growth). */
static inline void
tally_room(DrvTally *t, int32 id)
{
	int32		cap;
	Size		old;

	if (id < t->cap)
		return;
	cap = Max(Max(t->cap * 2, id + 1), 32);
	old = sizeof(int64) * t->cap;
	if (t->users == NULL)
	{
		t->users = MemoryContextAllocZero(t->dict->cxt, sizeof(int64) * cap);
		t->outs = MemoryContextAllocZero(t->dict->cxt, sizeof(int64) * cap);
		t->seen = MemoryContextAllocZero(t->dict->cxt, sizeof(int64) * cap);
	}
	else
	{
		t->users = repalloc(t->users, sizeof(int64) * cap);
		t->outs = repalloc(t->outs, sizeof(int64) * cap);
		t->seen = repalloc(t->seen, sizeof(int64) * cap);
		memset((char *) t->users + old, 0, sizeof(int64) * cap - old);
		memset((char *) t->outs + old, 0, sizeof(int64) * cap - old);
		memset((char *) t->seen + old, 0, sizeof(int64) * cap - old);
	}
	t->cap = cap;
}

/* Count users and outcomes of behaviour name data[0..len). */
static inline void
tally_add(DrvTally *t, const char *data, int len, int64 users, int64 outs)
{
	int32		id = dict_lookup(t->dict, data, len);

	tally_room(t, id);
	t->users[id] += users;
	t->outs[id] += outs;
}

/*
 * Transition: a row with a NULL outcome is skipped (driver_features gives
 * NULL for users left out); a NULL array counts as no behaviour, NULL
 * signals as false, NULL elements are ignored, and a name repeated in one
 * array counts once.
 */
Datum
apivalue_behavior_tally_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "behavior_tally_accum");
	DrvTally   *t = PG_ARGISNULL(0) ? NULL : (DrvTally *) PG_GETARG_POINTER(0);
	bool		outcome;

	if (t == NULL)
		t = tally_new(aggctx);
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(t);
	outcome = PG_GETARG_BOOL(2);
	t->n++;
	t->k += outcome;
	if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
	{
		t->err_n++;
		t->err_k += outcome;
	}
	if (!PG_ARGISNULL(4) && PG_GETARG_BOOL(4))
	{
		t->slow_n++;
		t->slow_k += outcome;
	}
	t->rows++;
	if (!PG_ARGISNULL(1))
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
		int			nitems = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
		array_iter	it;
		int			i;

		if (ARR_ELEMTYPE(a) != TEXTOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("behavior_tally expects a text[] of behaviours")));
		array_iter_setup(&it, (AnyArrayType *) a);
		for (i = 0; i < nitems; i++)
		{
			bool		isnull;
			Datum		d = array_iter_next(&it, &isnull, i, -1, false, TYPALIGN_INT);
			const char *x;
			int32		id;

			if (isnull)
				continue;
			x = DatumGetPointer(d);
			id = dict_lookup(t->dict, VARDATA_ANY(x), VARSIZE_ANY_EXHDR(x));
			tally_room(t, id);
			if (t->seen[id] == t->rows)
				continue;		/* repeated in this array */
			t->seen[id] = t->rows;
			t->users[id]++;
			t->outs[id] += outcome;
		}
	}
	PG_RETURN_POINTER(t);
}

/* Add src's counts to dst (in the context of dst). */
static void
tally_merge(DrvTally *dst, const DrvTally *src)
{
	int32		id;

	dst->n += src->n;
	dst->k += src->k;
	dst->err_n += src->err_n;
	dst->err_k += src->err_k;
	dst->slow_n += src->slow_n;
	dst->slow_k += src->slow_k;
	for (id = 0; id < src->dict->nnames; id++)
	{
		int			len;
		const char *name;

		if (id >= src->cap || src->users[id] == 0)
			continue;
		name = dict_name(src->dict, id, &len);
		tally_add(dst, name, len, src->users[id], src->outs[id]);
	}
}

Datum
apivalue_behavior_tally_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "behavior_tally_combine");
	DrvTally   *t1 = PG_ARGISNULL(0) ? NULL : (DrvTally *) PG_GETARG_POINTER(0);
	DrvTally   *t2 = PG_ARGISNULL(1) ? NULL : (DrvTally *) PG_GETARG_POINTER(1);

	if (t2 == NULL)
	{
		if (t1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(t1);
	}
	if (t1 == NULL)
		t1 = tally_new(aggctx);
	tally_merge(t1, t2);
	PG_RETURN_POINTER(t1);
}

/*
 * Serialized form (native byte order): uint8 version, int64 n, k, err_n,
 * err_k, slow_n, slow_k, int32 count, then per behaviour int32 length, the
 * name's bytes, int64 users, int64 outcomes.
 */
Datum
apivalue_behavior_tally_serialize(PG_FUNCTION_ARGS)
{
	DrvTally   *t = (DrvTally *) PG_GETARG_POINTER(0);
	Size		size = VARHDRSZ + 1 + 6 * sizeof(int64) + sizeof(int32);
	int32		count = 0;
	int32		id;
	uint8		version = DRV_TALLY_VERSION;
	bytea	   *out;
	char	   *p;

	(void) agg_context(fcinfo, "behavior_tally_serialize");
	for (id = 0; id < t->dict->nnames; id++)
		if (id < t->cap && t->users[id] > 0)
		{
			count++;
			size += sizeof(int32) + t->dict->names[id].len + 2 * sizeof(int64);
		}
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("apivalue behavior_tally state of %zu bytes is too large to serialize", size)));
	out = palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	DRV_PUT(p, version);
	DRV_PUT(p, t->n);
	DRV_PUT(p, t->k);
	DRV_PUT(p, t->err_n);
	DRV_PUT(p, t->err_k);
	DRV_PUT(p, t->slow_n);
	DRV_PUT(p, t->slow_k);
	DRV_PUT(p, count);
	for (id = 0; id < t->dict->nnames; id++)
	{
		int			nlen;
		const char *name;
		int32		len;

		if (id >= t->cap || t->users[id] == 0)
			continue;
		name = dict_name(t->dict, id, &nlen);
		len = (int32) nlen;
		DRV_PUT(p, len);
		memcpy(p, name, len);
		p += len;
		DRV_PUT(p, t->users[id]);
		DRV_PUT(p, t->outs[id]);
	}
	Assert(p == (char *) out + size);
	PG_RETURN_BYTEA_P(out);
}

static void
bad_tally(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid apivalue behavior_tally state: %s", why)));
}

static const char *
tally_get(const char *p, const char *end, void *dst, Size n)
{
	if ((Size) (end - p) < n)
		bad_tally("truncated");
	memcpy(dst, p, n);
	return p + n;
}

/*
 * Deserialize into the current (per-input-row) context; every count and
 * length is checked against the bytes left, a repeated name adds up.
 */
Datum
apivalue_behavior_tally_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	uint8		version;
	int32		count;
	int32		i;
	DrvTally   *t;

	(void) agg_context(fcinfo, "behavior_tally_deserialize");
	t = tally_new(CurrentMemoryContext);
	p = tally_get(p, end, &version, 1);
	if (version != DRV_TALLY_VERSION)
		bad_tally("unknown version");
	p = tally_get(p, end, &t->n, sizeof(int64));
	p = tally_get(p, end, &t->k, sizeof(int64));
	p = tally_get(p, end, &t->err_n, sizeof(int64));
	p = tally_get(p, end, &t->err_k, sizeof(int64));
	p = tally_get(p, end, &t->slow_n, sizeof(int64));
	p = tally_get(p, end, &t->slow_k, sizeof(int64));
	if (t->n < 0 || t->k < 0 || t->k > t->n || t->err_n < 0 || t->err_k < 0 ||
		t->err_k > t->err_n || t->slow_n < 0 || t->slow_k < 0 || t->slow_k > t->slow_n)
		bad_tally("invalid totals");
	p = tally_get(p, end, &count, sizeof(int32));
	if (count < 0 || (Size) count > (Size) (end - p) / (sizeof(int32) + 2 * sizeof(int64)))
		bad_tally("behaviour count exceeds the data");
	for (i = 0; i < count; i++)
	{
		int32		len;
		const char *name;
		int64		users,
					outs;

		p = tally_get(p, end, &len, sizeof(int32));
		if (len < 0 || len > end - p)
			bad_tally("name length exceeds the data");
		name = p;
		p += len;
		p = tally_get(p, end, &users, sizeof(int64));
		p = tally_get(p, end, &outs, sizeof(int64));
		if (users <= 0 || outs < 0 || outs > users)
			bad_tally("invalid behaviour counts");
		tally_add(t, name, len, users, outs);
	}
	if (p != end)
		bad_tally("trailing bytes");
	PG_RETURN_POINTER(t);
}

static int
tally_name_cmp(const void *a, const void *b, void *arg)
{
	const DrvDict *d = (const DrvDict *) arg;
	int			xlen,
				ylen;
	const char *x = dict_name(d, *(const int32 *) a, &xlen);
	const char *y = dict_name(d, *(const int32 *) b, &ylen);
	int			r = memcmp(x, y, Min(xlen, ylen));

	if (r != 0)
		return r;
	return (xlen > ylen) - (xlen < ylen);
}

/*
 * Final: (behaviors text[] in byte order, users_with bigint[],
 * outcomes_with bigint[], users, outcomes, error_users, error_outcomes,
 * slow_users, slow_outcomes); empty arrays and zeros without rows.
 */
Datum
apivalue_behavior_tally_final(PG_FUNCTION_ARGS)
{
	DrvTally   *t = PG_ARGISNULL(0) ? NULL : (DrvTally *) PG_GETARG_POINTER(0);
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {false};
	int32		nids = 0;
	int32	   *ids;
	Datum	   *names;
	Datum	   *users;
	Datum	   *outs;
	int32		i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	tupdesc = BlessTupleDesc(tupdesc);

	if (t != NULL && t->dict->nnames > 0)
	{
		ids = palloc(sizeof(int32) * t->dict->nnames);
		for (i = 0; i < t->dict->nnames; i++)
			if (i < t->cap && t->users[i] > 0)
				ids[nids++] = i;
		if (nids > 1)
			qsort_arg(ids, nids, sizeof(int32), tally_name_cmp, t->dict);
	}
	else
		ids = NULL;
	names = palloc(sizeof(Datum) * Max(nids, 1));
	users = palloc(sizeof(Datum) * Max(nids, 1));
	outs = palloc(sizeof(Datum) * Max(nids, 1));
	for (i = 0; i < nids; i++)
	{
		int			len;
		const char *name = dict_name(t->dict, ids[i], &len);

		names[i] = PointerGetDatum(cstring_to_text_with_len(name, len));
		users[i] = Int64GetDatum(t->users[ids[i]]);
		outs[i] = Int64GetDatum(t->outs[ids[i]]);
	}
	values[0] = PointerGetDatum(construct_array(names, nids, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(users, nids, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = PointerGetDatum(construct_array(outs, nids, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = Int64GetDatum(t ? t->n : 0);
	values[4] = Int64GetDatum(t ? t->k : 0);
	values[5] = Int64GetDatum(t ? t->err_n : 0);
	values[6] = Int64GetDatum(t ? t->err_k : 0);
	values[7] = Int64GetDatum(t ? t->slow_n : 0);
	values[8] = Int64GetDatum(t ? t->slow_k : 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
