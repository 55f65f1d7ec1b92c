/*-------------------------------------------------------------------------
 *
 * jsonb_shape.c
 *	  Schema drift: the shape of a set of jsonb payloads.
 *
 * jsonb_shape(payload [, max_depth]) counts, for every key path seen (keys
 * of nested objects joined with '.', down to max_depth levels), how many
 * rows carried it and how many of each JSON type it had, plus the number of
 * rows.  Two shapes merge by adding counts, so the aggregate is exact under
 * any split of the rows (parallel workers, partitions, Citus workers).
 *
 * The state is a trie of key paths: node = (parent node, key bytes), found
 * through one open-addressing hash table keyed by (parent, key), so a row
 * hashes each key once, never a whole path, and nothing is escaped or
 * copied until the final function writes the paths out.  A row is walked
 * with the jsonb iterator (skipNested, one iterator per object descended),
 * reading keys and values straight from the on-disk container: no text.
 *
 * The transition state is "internal", allocated straight in the aggregate
 * context.  (An expanded object of a concrete type would need a memory
 * context of its own per group, and PostgreSQL 15's hash aggregation sums
 * the memory of every child context each time it creates a group: quadratic
 * in the number of groups.)  Partial aggregation (parallel workers) goes
 * through serialize/deserialize; engines that cannot ship an internal state
 * (Citus) use the two-step form: jsonb_shape per distribution group, then
 * jsonb_shape_merge over the jsonb shapes, which is exact.
 * Serialized form (bytea, version 1):
 *	 int32 vl_len_, uint8 version, uint8[3] unused, int32 max_depth,
 *	 int32 nnodes, int64 rows,
 *	 nnodes x {int64 counts[6], int32 parent, int32 keylen},
 *	 then the key bytes of every node, concatenated in node order.
 * A node's parent precedes it (parent = -1 for a top-level key).
 *
 * Paths in the output: each key is written as is (UTF-8) with '\' written
 * '\\' and '.' written '\.'; a top-level key "_rows" is written "\_rows" so
 * that it never collides with the row count.  See README.md, "Schema drift and sampling bias".
 *
 * Cost: O(tokens) per row plus one hash probe per key; memory O(distinct
 * paths).
 *
 * src/jsonb_shape.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "quality_common.h"

#define SHAPE_TYPE_NAME "serialized jsonb_shape state"
#define SHAPE_MAX_DEPTH 100
#define SHAPE_NTYPES 6

/* JSON types, in the order of the counts arrays. */
enum
{
	SHAPE_STRING,
	SHAPE_NUMBER,
	SHAPE_BOOLEAN,
	SHAPE_NULL,
	SHAPE_OBJECT,
	SHAPE_ARRAY
};

static const char *const shape_type_names[SHAPE_NTYPES] = {
	"string", "number", "boolean", "null", "object", "array"
};

typedef struct ShapeNode
{
	int64		counts[SHAPE_NTYPES];
	const char *key;			/* key bytes, in the state's context */
	int32		keylen;
	int32		parent;			/* -1 for a top-level key */
	uint32		hash;
	int32		child_hint;		/* first child key in the last row, or -1 */
	int32		next_hint;		/* next sibling key in the last row, or -1 */
} ShapeNode;

typedef struct ShapeState
{
	MemoryContext cxt;			/* where the state's memory lives */
	int32		max_depth;		/* 0: unknown (built from shapes) */
	int64		rows;
	ShapeNode  *nodes;
	int32		nnodes;
	int32		ncap;
	int32	   *slots;			/* node index or -1; size is a power of 2 */
	uint32		nslots;
	int32		root_hint;		/* first top-level key in the last row, or -1 */
} ShapeState;

typedef struct ShapeFlatNode
{
	int64		counts[SHAPE_NTYPES];
	int32		parent;
	int32		keylen;
} ShapeFlatNode;

typedef struct ShapeFlat
{
	int32		vl_len_;
	uint8		version;
	uint8		unused[3];
	int32		max_depth;
	int32		nnodes;
	int64		rows;
	ShapeFlatNode nodes[FLEXIBLE_ARRAY_MEMBER];
} ShapeFlat;

#define SHAPE_HDRSZ offsetof(ShapeFlat, nodes)

static ShapeState *
shape_new(MemoryContext cxt, int32 max_depth)
{
	ShapeState *st;

	st = MemoryContextAllocZero(cxt, sizeof(ShapeState));
	st->cxt = cxt;
	st->max_depth = max_depth;
	st->root_hint = -1;
	st->nslots = 64;
	st->slots = MemoryContextAlloc(cxt, sizeof(int32) * st->nslots);
	memset(st->slots, 0xff, sizeof(int32) * st->nslots);
	return st;
}

static inline uint32
shape_hash(int32 parent, const char *key, int32 keylen)
{
	return hash_combine(hash_bytes_uint32((uint32) parent),
						hash_bytes((const unsigned char *) key, keylen));
}

/* Double the slot table and re-insert every node. */
static void
shape_grow_slots(ShapeState *st)
{
	uint32		nslots = st->nslots * 2;
	uint32		mask = nslots - 1;
	int32	   *slots;
	int32		i;

	if (nslots > (uint32) (MaxAllocSize / sizeof(int32)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("jsonb shape has too many key paths"),
				 errhint("Lower max_depth or aggregate fewer distinct keys.")));
	slots = MemoryContextAlloc(st->cxt, sizeof(int32) * nslots);
	memset(slots, 0xff, sizeof(int32) * nslots);
	for (i = 0; i < st->nnodes; i++)
	{
		uint32		h = st->nodes[i].hash & mask;

		while (slots[h] >= 0)
			h = (h + 1) & mask;
		slots[h] = i;
	}
	pfree(st->slots);
	st->slots = slots;
	st->nslots = nslots;
}

/*
 * The node of key (keylen bytes, not copied unless new) under parent,
 * created with zero counts when it does not exist yet.
 */
static int32
shape_node(ShapeState *st, int32 parent, const char *key, int32 keylen)
{
	uint32		hash = shape_hash(parent, key, keylen);
	uint32		mask = st->nslots - 1;
	uint32		h = hash & mask;
	ShapeNode  *n;
	char	   *copy;
	int32		id;

	for (;;)
	{
		id = st->slots[h];
		if (id < 0)
			break;
		n = &st->nodes[id];
		if (n->hash == hash && n->parent == parent && n->keylen == keylen &&
			memcmp(n->key, key, keylen) == 0)
			return id;
		h = (h + 1) & mask;
	}

	/* New node: the key is copied once, into the state's context. */
	quality_reserve((void **) &st->nodes, &st->ncap, (int64) st->nnodes + 1,
					sizeof(ShapeNode), st->cxt);
	copy = MemoryContextAlloc(st->cxt, keylen > 0 ? keylen : 1);
	if (keylen > 0)
		memcpy(copy, key, keylen);
	id = st->nnodes++;
	n = &st->nodes[id];
	memset(n->counts, 0, sizeof(n->counts));
	n->key = copy;
	n->keylen = keylen;
	n->parent = parent;
	n->hash = hash;
	n->child_hint = -1;
	n->next_hint = -1;
	st->slots[h] = id;
	if ((uint32) st->nnodes * 2 > st->nslots)
		shape_grow_slots(st);
	return id;
}

static inline int
shape_value_type(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return SHAPE_STRING;
		case jbvNumeric:
			return SHAPE_NUMBER;
		case jbvBool:
			return SHAPE_BOOLEAN;
		case jbvNull:
			return SHAPE_NULL;
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? SHAPE_OBJECT : SHAPE_ARRAY;
		case jbvObject:
			return SHAPE_OBJECT;
		default:
			return SHAPE_ARRAY;
	}
}

/*
 * Count the keys of object container jc (at depth, 1 = top level) under
 * node parent, descending into object values while depth < max_depth.
 * Arrays are counted as "array" and never descended.
 *
 * Rows of one group mostly carry the same keys, and jsonb stores an
 * object's keys sorted, so each key is first compared with the one that
 * followed the previous key in the last row (the node's hints): a match
 * costs one memcmp, a miss falls back to the hash table and moves the hint.
 */
static void
shape_walk(ShapeState *st, JsonbContainer *jc, int32 parent, int depth)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbIteratorToken r;
	int32		node = -1;
	int32		prev = -1;

	check_stack_depth();
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
		{
			const char *key = v.val.string.val;
			int32		keylen = v.val.string.len;
			int32		cand;

			if (prev >= 0)
				cand = st->nodes[prev].next_hint;
			else
				cand = parent >= 0 ? st->nodes[parent].child_hint : st->root_hint;
			if (cand >= 0 && st->nodes[cand].keylen == keylen &&
				memcmp(st->nodes[cand].key, key, keylen) == 0)
				node = cand;
			else
			{
				node = shape_node(st, parent, key, keylen);
				if (prev >= 0)
					st->nodes[prev].next_hint = node;
				else if (parent >= 0)
					st->nodes[parent].child_hint = node;
				else
					st->root_hint = node;
			}
			prev = node;
		}
		else if (r == WJB_VALUE)
		{
			int			t = shape_value_type(&v);

			st->nodes[node].counts[t]++;
			if (t == SHAPE_OBJECT && depth < st->max_depth && v.type == jbvBinary)
				shape_walk(st, v.val.binary.data, node, depth + 1);
		}
	}
}

/* Add the counts of flat state f to st, mapping its nodes onto st's. */
static void
shape_merge_flat(ShapeState *st, const ShapeFlat *f)
{
	const char *keys = (const char *) &f->nodes[f->nnodes];
	int32	   *map;
	int32		i;

	st->rows += f->rows;
	if (f->nnodes == 0)
		return;
	map = palloc(sizeof(int32) * f->nnodes);
	for (i = 0; i < f->nnodes; i++)
	{
		const ShapeFlatNode *fn = &f->nodes[i];
		int32		parent = fn->parent < 0 ? -1 : map[fn->parent];
		int32		id = shape_node(st, parent, keys, fn->keylen);
		int			t;

		for (t = 0; t < SHAPE_NTYPES; t++)
			st->nodes[id].counts[t] += fn->counts[t];
		map[i] = id;
		keys += fn->keylen;
	}
	pfree(map);
}

/*
 * Check a flat state: header, version, node count and key bytes against the
 * size, parents before children, no negative count.
 */
static const ShapeFlat *
shape_check_flat(struct varlena *v)
{
	const ShapeFlat *f = (const ShapeFlat *) v;
	Size		size = VARSIZE(v);
	Size		keybytes = 0;
	int32		i;
	int			t;

	if (size < SHAPE_HDRSZ)
		quality_corrupt(SHAPE_TYPE_NAME, "value is too short");
	if (f->version != QUALITY_STATE_VERSION)
		quality_corrupt(SHAPE_TYPE_NAME, psprintf("unknown version %d", f->version));
	if (f->max_depth < 0 || f->max_depth > SHAPE_MAX_DEPTH)
		quality_corrupt(SHAPE_TYPE_NAME, "invalid max_depth");
	if (f->rows < 0)
		quality_corrupt(SHAPE_TYPE_NAME, "negative row count");
	if (f->nnodes < 0 ||
		(Size) f->nnodes > (size - SHAPE_HDRSZ) / sizeof(ShapeFlatNode))
		quality_corrupt(SHAPE_TYPE_NAME, "node count does not match the size");
	for (i = 0; i < f->nnodes; i++)
	{
		const ShapeFlatNode *fn = &f->nodes[i];

		if (fn->parent < -1 || fn->parent >= i)
			quality_corrupt(SHAPE_TYPE_NAME, "a node's parent does not precede it");
		if (fn->keylen < 0)
			quality_corrupt(SHAPE_TYPE_NAME, "negative key length");
		for (t = 0; t < SHAPE_NTYPES; t++)
			if (fn->counts[t] < 0)
				quality_corrupt(SHAPE_TYPE_NAME, "negative count");
		keybytes += fn->keylen;
		if (keybytes > size)
			break;
	}
	if (SHAPE_HDRSZ + (Size) f->nnodes * sizeof(ShapeFlatNode) + keybytes != size)
		quality_corrupt(SHAPE_TYPE_NAME, "key bytes do not match the size");
	return f;
}

static Size
shape_get_flat_size(const ShapeState *st)
{
	Size		size = SHAPE_HDRSZ + (Size) st->nnodes * sizeof(ShapeFlatNode);
	int32		i;

	for (i = 0; i < st->nnodes; i++)
		size += st->nodes[i].keylen;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("jsonb shape is too large to store (%zu bytes)", size),
				 errhint("Lower max_depth or aggregate fewer distinct keys.")));
	return size;
}

static void
shape_flatten_into(const ShapeState *st, void *result, Size allocated_size)
{
	ShapeFlat  *f = (ShapeFlat *) result;
	char	   *keys;
	int32		i;

	memset(f, 0, SHAPE_HDRSZ);
	SET_VARSIZE(f, allocated_size);
	f->version = QUALITY_STATE_VERSION;
	f->max_depth = st->max_depth;
	f->nnodes = st->nnodes;
	f->rows = st->rows;
	keys = (char *) &f->nodes[st->nnodes];
	for (i = 0; i < st->nnodes; i++)
	{
		const ShapeNode *n = &st->nodes[i];

		memcpy(f->nodes[i].counts, n->counts, sizeof(n->counts));
		f->nodes[i].parent = n->parent;
		f->nodes[i].keylen = n->keylen;
		if (n->keylen > 0)
			memcpy(keys, n->key, n->keylen);
		keys += n->keylen;
	}
	Assert(keys == (char *) result + allocated_size);
}

/* Error unless two max_depth values may be combined (0 = unknown). */
static void
shape_check_depth(int32 have, int32 got)
{
	if (have != 0 && got != 0 && have != got)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine jsonb shapes built with max_depth %d and %d",
						have, got),
				 errhint("Pass the same max_depth for every row.")));
}

/* The state of argument 0, or a new empty one in the aggregate context. */
static ShapeState *
shape_state(FunctionCallInfo fcinfo, MemoryContext aggcxt, int32 max_depth)
{
	if (PG_ARGISNULL(0))
		return shape_new(aggcxt, max_depth);
	return (ShapeState *) PG_GETARG_POINTER(0);
}

/* Add the counts of state src to st (src's nodes mapped onto st's). */
static void
shape_merge_state(ShapeState *st, const ShapeState *src)
{
	int32	   *map;
	int32		i;
	int			t;

	st->rows += src->rows;
	if (src->nnodes == 0)
		return;
	map = palloc(sizeof(int32) * src->nnodes);
	for (i = 0; i < src->nnodes; i++)
	{
		const ShapeNode *sn = &src->nodes[i];
		int32		parent = sn->parent < 0 ? -1 : map[sn->parent];
		int32		id = shape_node(st, parent, sn->key, sn->keylen);

		for (t = 0; t < SHAPE_NTYPES; t++)
			st->nodes[id].counts[t] += sn->counts[t];
		map[i] = id;
	}
	pfree(map);
}

/* ---------- transition, combine, final ---------- */

/*
 * jsonb_shape(payload jsonb [, max_depth int]) transition.  NULL payloads
 * are skipped; a payload that is not an object counts in "_rows" only.
 */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_accum);
Datum
apivalue_jsonb_shape_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "jsonb_shape");
	int32		max_depth = 3;
	ShapeState *st;
	Jsonb	   *jb;

	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("max_depth must not be NULL"),
					 errhint("Pass the number of key levels to describe, e.g. 3.")));
		max_depth = PG_GETARG_INT32(2);
		if (max_depth < 1 || max_depth > SHAPE_MAX_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_depth must be between 1 and %d, got %d",
							SHAPE_MAX_DEPTH, max_depth),
					 errhint("1 describes the top-level keys only.")));
	}
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	st = shape_state(fcinfo, aggcxt, max_depth);
	if (st->max_depth != max_depth)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_depth must be the same for every row of a group"),
				 errhint("Pass a constant max_depth.")));
	jb = PG_GETARG_JSONB_P(1);
	st->rows++;
	if (JB_ROOT_IS_OBJECT(jb))
		shape_walk(st, &jb->root, -1, 1);
	PG_RETURN_POINTER(st);
}

/* Combine two states (never modifies the second). */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_combine);
Datum
apivalue_jsonb_shape_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "jsonb_shape");
	ShapeState *st;
	ShapeState *src;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	src = (ShapeState *) PG_GETARG_POINTER(1);
	st = shape_state(fcinfo, aggcxt, src->max_depth);
	shape_check_depth(st->max_depth, src->max_depth);
	if (st->max_depth == 0)
		st->max_depth = src->max_depth;
	shape_merge_state(st, src);
	PG_RETURN_POINTER(st);
}

/* Serialize: the flat form described above, as bytea. */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_serialize);
Datum
apivalue_jsonb_shape_serialize(PG_FUNCTION_ARGS)
{
	ShapeState *st;
	Size		size;
	void	   *flat;

	quality_agg_context(fcinfo, "jsonb_shape");
	st = (ShapeState *) PG_GETARG_POINTER(0);
	size = shape_get_flat_size(st);
	flat = palloc(size);
	shape_flatten_into(st, flat, size);
	PG_RETURN_BYTEA_P(flat);
}

/* Deserialize, checking the bytes first (shape_check_flat). */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_deserialize);
Datum
apivalue_jsonb_shape_deserialize(PG_FUNCTION_ARGS)
{
	const ShapeFlat *f;
	ShapeState *st;

	quality_agg_context(fcinfo, "jsonb_shape");

	/*
	 * bytea is only int-aligned in a tuple (the parallel tuple queue hands us
	 * such a pointer) and the flat form holds int64 counts: read an aligned
	 * copy, never the tuple bytes in place.
	 */
	f = shape_check_flat((struct varlena *) PG_GETARG_BYTEA_P_COPY(0));
	st = shape_new(CurrentMemoryContext, f->max_depth);
	shape_merge_flat(st, f);
	pfree((void *) f);
	PG_RETURN_POINTER(st);
}

/* Append key path segment key to buf, escaped (see the file header). */
static void
append_segment(StringInfo buf, const char *key, int32 keylen, bool top)
{
	int32		i;

	if (top && keylen == 5 && memcmp(key, "_rows", 5) == 0)
		appendStringInfoChar(buf, '\\');
	for (i = 0; i < keylen; i++)
	{
		if (key[i] == '\\' || key[i] == '.')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, key[i]);
	}
}

/* Append the path of node id to buf. */
static void
append_path(StringInfo buf, const ShapeState *st, int32 id)
{
	const ShapeNode *n = &st->nodes[id];

	if (n->parent >= 0)
	{
		append_path(buf, st, n->parent);
		appendStringInfoChar(buf, '.');
	}
	append_segment(buf, n->key, n->keylen, n->parent < 0);
}

static void
push_key(JsonbParseState **ps, const char *s, int len)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) s;
	k.val.string.len = len;
	pushJsonbValue(ps, WJB_KEY, &k);
}

static void
push_count(JsonbParseState **ps, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	pushJsonbValue(ps, WJB_VALUE, &v);
}

/*
 * The shape as jsonb: {"_rows": n, "<path>": {"rows": k, "<type>": c, ...}}
 * with only the types seen (count > 0) and only paths seen in some row.
 */
static Jsonb *
shape_to_jsonb(const ShapeState *st)
{
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	StringInfoData path;
	int32		i;
	int			t;

	initStringInfo(&path);
	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	push_key(&ps, "_rows", 5);
	push_count(&ps, st->rows);
	for (i = 0; i < st->nnodes; i++)
	{
		const ShapeNode *n = &st->nodes[i];
		int64		rows = 0;

		for (t = 0; t < SHAPE_NTYPES; t++)
			rows += n->counts[t];
		if (rows == 0)
			continue;
		resetStringInfo(&path);
		append_path(&path, st, i);
		/* pushJsonbValue keeps the pointer: each path needs its own copy */
		push_key(&ps, pnstrdup(path.data, path.len), path.len);
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		push_key(&ps, "rows", 4);
		push_count(&ps, rows);
		for (t = 0; t < SHAPE_NTYPES; t++)
		{
			if (n->counts[t] == 0)
				continue;
			push_key(&ps, shape_type_names[t], strlen(shape_type_names[t]));
			push_count(&ps, n->counts[t]);
		}
		pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* Final function of jsonb_shape and jsonb_shape_merge: the shape as jsonb. */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_final);
Datum
apivalue_jsonb_shape_final(PG_FUNCTION_ARGS)
{
	ShapeState *st;

	quality_agg_context(fcinfo, "jsonb_shape");
	if (PG_ARGISNULL(0))
		st = shape_new(CurrentMemoryContext, 0);	/* no rows */
	else
		st = (ShapeState *) PG_GETARG_POINTER(0);
	PG_RETURN_JSONB_P(shape_to_jsonb(st));
}

/* ---------- jsonb_shape_merge(jsonb): shapes back into a state ---------- */

static void
bad_shape(const char *detail) pg_attribute_noreturn();

static void
bad_shape(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid jsonb shape"),
			 errdetail("%s", detail),
			 errhint("Pass values returned by apivalue.jsonb_shape or apivalue.jsonb_shape_merge.")));
}

/* A count in a shape: a non-negative integer that fits in int64. */
static int64
shape_count(const JsonbValue *v, const char *what)
{
	Datum		n;
	int64		result;

	if (v->type != jbvNumeric)
		bad_shape(psprintf("%s must be a number", what));
	n = NumericGetDatum(v->val.numeric);
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric) ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
										  DirectFunctionCall2(numeric_trunc, n,
															  Int32GetDatum(0)))) != 0)
		bad_shape(psprintf("%s must be an integer, got %s", what,
						   DatumGetCString(DirectFunctionCall1(numeric_out, n))));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
										  NumericGetDatum(int64_to_numeric(PG_INT64_MAX)))) > 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, n,
										  NumericGetDatum(int64_to_numeric(0)))) < 0)
		bad_shape(psprintf("%s must be between 0 and " INT64_FORMAT ", got %s", what,
						   PG_INT64_MAX,
						   DatumGetCString(DirectFunctionCall1(numeric_out, n))));
	result = DatumGetInt64(DirectFunctionCall1(numeric_int8, n));
	return result;
}

/*
 * The node of an escaped path (see append_segment), creating the nodes on
 * the way.  Rejects an unknown escape ("\\_" is accepted at the start of a
 * key only).
 */
static int32
shape_path_node(ShapeState *st, const char *path, int len)
{
	StringInfoData seg;
	int32		parent = -1;
	int			i = 0;

	initStringInfo(&seg);
	for (;;)
	{
		bool		seg_start = true;

		resetStringInfo(&seg);
		while (i < len && path[i] != '.')
		{
			if (path[i] == '\\')
			{
				if (i + 1 >= len ||
					!(path[i + 1] == '\\' || path[i + 1] == '.' ||
					  (path[i + 1] == '_' && seg_start)))
					bad_shape(psprintf("key path \"%.*s\" has an invalid escape at byte %d",
									   len, path, i + 1));
				i++;
			}
			appendStringInfoChar(&seg, path[i]);
			i++;
			seg_start = false;
		}
		parent = shape_node(st, parent, seg.data, seg.len);
		if (i >= len)
			break;
		i++;					/* the '.' */
		if (i == len)
		{
			/* trailing '.': an empty last key */
			parent = shape_node(st, parent, "", 0);
			break;
		}
	}
	pfree(seg.data);
	return parent;
}

/* Add the counts of one path entry {"rows": k, "<type>": c, ...} to node. */
static void
shape_merge_entry(ShapeState *st, int32 node, const char *path, int pathlen,
				  JsonbValue *entry)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	int64		counts[SHAPE_NTYPES] = {0};
	int64		rows = -1,
				sum = 0;
	int			t = -1;
	bool		is_rows = false;

	if (entry->type != jbvBinary || !JsonContainerIsObject(entry->val.binary.data))
		bad_shape(psprintf("the value of key path \"%.*s\" must be an object", pathlen, path));
	it = JsonbIteratorInit(entry->val.binary.data);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
		{
			is_rows = v.val.string.len == 4 && memcmp(v.val.string.val, "rows", 4) == 0;
			for (t = 0; !is_rows && t < SHAPE_NTYPES; t++)
				if (v.val.string.len == (int) strlen(shape_type_names[t]) &&
					memcmp(v.val.string.val, shape_type_names[t], v.val.string.len) == 0)
					break;
			if (!is_rows && t == SHAPE_NTYPES)
				bad_shape(psprintf("unknown key \"%.*s\" under key path \"%.*s\"",
								   v.val.string.len, v.val.string.val, pathlen, path));
		}
		else if (r == WJB_VALUE)
		{
			int64		c = shape_count(&v, "a count");

			if (is_rows)
				rows = c;
			else
			{
				counts[t] = c;
				if (pg_add_s64_overflow(sum, c, &sum))
					bad_shape("a count is out of range");
			}
		}
	}
	if (rows != sum)
		bad_shape(psprintf("\"rows\" of key path \"%.*s\" is not the sum of its type counts",
						   pathlen, path));
	for (t = 0; t < SHAPE_NTYPES; t++)
		st->nodes[node].counts[t] += counts[t];
}

/*
 * jsonb_shape_merge(shape jsonb) transition: add a shape made by
 * jsonb_shape (or by this aggregate) to the state.  NULLs are skipped.
 */
PG_FUNCTION_INFO_V1(apivalue_jsonb_shape_merge_accum);
Datum
apivalue_jsonb_shape_merge_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "jsonb_shape_merge");
	ShapeState *st;
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	char	   *key = NULL;
	int			keylen = 0;
	bool		saw_rows = false;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	jb = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(jb))
		bad_shape("a shape is a JSON object");
	st = shape_state(fcinfo, aggcxt, 0);
	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
		{
			key = v.val.string.val;
			keylen = v.val.string.len;
		}
		else if (r == WJB_VALUE)
		{
			if (keylen == 5 && memcmp(key, "_rows", 5) == 0)
			{
				st->rows += shape_count(&v, "\"_rows\"");
				saw_rows = true;
			}
			else
				shape_merge_entry(st, shape_path_node(st, key, keylen),
								  key, keylen, &v);
		}
	}
	if (!saw_rows)
		bad_shape("a shape has a \"_rows\" key");
	PG_RETURN_POINTER(st);
}

/* ---------- a helper of delivery_by_segment ---------- */

/*
 * Upper tail of the standard normal distribution, P(Z > z), from erfc so
 * that small p-values keep their precision.
 */
PG_FUNCTION_INFO_V1(apivalue_drift_normal_upper_tail);
Datum
apivalue_drift_normal_upper_tail(PG_FUNCTION_ARGS)
{
	float8		z = PG_GETARG_FLOAT8(0);

	if (isnan(z))
		PG_RETURN_FLOAT8(z);
	PG_RETURN_FLOAT8(0.5 * erfc(z / M_SQRT2));
}
