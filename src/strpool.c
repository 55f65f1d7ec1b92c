/*-------------------------------------------------------------------------
 *
 * strpool.c
 *	  Interned strings for per-group aggregate states.
 *
 * See strpool.h.  The table is kept at most half full, so probes stay short;
 * it and the arrays grow geometrically.  Arena sizes use the "huge"
 * allocation API so that a state with very many distinct labels fails with a
 * clear out-of-memory error instead of wrapping.
 *
 * src/strpool.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "strpool.h"
#include "utils/memutils.h"

void
strpool_init(StrPool *pool, MemoryContext cxt)
{
	memset(pool, 0, sizeof(StrPool));
	pool->cxt = cxt;
}

static inline uint32
strpool_hash(const char *s, uint32 len)
{
	return hash_bytes((const unsigned char *) s, (int) len);
}

uint32
strpool_lookup(const StrPool *pool, const char *s, uint32 len)
{
	uint32		h;
	uint32		mask;
	uint32		i;

	if (pool->nslots == 0)
		return STRPOOL_NONE;
	h = strpool_hash(s, len);
	mask = pool->nslots - 1;
	for (i = h & mask;; i = (i + 1) & mask)
	{
		uint32		slot = pool->slots[i];
		const StrPoolEntry *e;

		if (slot == 0)
			return STRPOOL_NONE;
		e = &pool->entries[slot - 1];
		if (e->hash == h && e->len == len &&
			memcmp(pool->data + e->off, s, len) == 0)
			return slot - 1;
	}
}

/* Rebuild the slot table with twice as many slots. */
static void
strpool_rehash(StrPool *pool)
{
	uint32		nslots = pool->nslots ? pool->nslots * 2 : 16;
	uint32		mask = nslots - 1;
	uint32	   *slots;
	uint32		id;

	if (nslots == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct strings in one group")));
	slots = MemoryContextAllocHuge(pool->cxt, nslots * sizeof(uint32));
	memset(slots, 0, nslots * sizeof(uint32));
	for (id = 0; id < pool->n; id++)
	{
		uint32		i = pool->entries[id].hash & mask;

		while (slots[i] != 0)
			i = (i + 1) & mask;
		slots[i] = id + 1;
	}
	if (pool->slots)
		pfree(pool->slots);
	pool->slots = slots;
	pool->nslots = nslots;
}

uint32
strpool_intern(StrPool *pool, const char *s, uint32 len)
{
	uint32		h = strpool_hash(s, len);
	uint32		mask;
	uint32		i;
	StrPoolEntry *e;

	/* keep the table at most half full */
	if ((uint64) (pool->n + 1) * 2 > pool->nslots)
		strpool_rehash(pool);
	mask = pool->nslots - 1;
	for (i = h & mask;; i = (i + 1) & mask)
	{
		uint32		slot = pool->slots[i];

		if (slot == 0)
			break;
		e = &pool->entries[slot - 1];
		if (e->hash == h && e->len == len &&
			memcmp(pool->data + e->off, s, len) == 0)
			return slot - 1;
	}

	/* new string: append to the arena and the entry array */
	if (pool->n == PG_UINT32_MAX - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct strings in one group")));
	if (pool->n >= pool->ecap)
	{
		uint32		ecap = pool->ecap ? pool->ecap * 2 : 8;
		Size		bytes = (Size) ecap * sizeof(StrPoolEntry);

		if (bytes > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct strings in one group")));
		pool->entries = pool->entries
			? repalloc_huge(pool->entries, bytes)
			: MemoryContextAllocHuge(pool->cxt, bytes);
		pool->ecap = ecap;
	}
	if (pool->used + len > pool->cap)
	{
		uint64		cap = pool->cap ? pool->cap : 64;

		while (cap < pool->used + len)
			cap *= 2;
		if (cap > MaxAllocHugeSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct strings in one group")));
		pool->data = pool->data
			? repalloc_huge(pool->data, cap)
			: MemoryContextAllocHuge(pool->cxt, cap);
		pool->cap = cap;
	}
	if (len > 0)
		memcpy(pool->data + pool->used, s, len);
	e = &pool->entries[pool->n];
	e->off = pool->used;
	e->len = len;
	e->hash = h;
	pool->used += len;
	pool->slots[i] = pool->n + 1;
	return pool->n++;
}
