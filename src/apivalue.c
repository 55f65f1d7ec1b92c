/*-------------------------------------------------------------------------
 *
 * apivalue.c
 *	  Module entry point of the apivalue extension.
 *
 * Every C file of the extension is linked into one shared library; this file
 * holds the module magic and the load-time set-up.
 *
 * src/apivalue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* Keep the apivalue.* GUC namespace ours. */
	MarkGUCPrefixReserved("apivalue");
}
