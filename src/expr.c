/*-------------------------------------------------------------------------
 *
 * expr.c
 *	  Validation of SQL expressions that callers pass to table functions.
 *
 * Table functions take steps, conditions and breakdowns as SQL text, often
 * filled in by a dashboard from a user's input.  Each must be exactly one
 * expression over the relation's columns.  We check that with the raw
 * parser (never by executing anything) and learn its type by planning a
 * single-statement SELECT through SPI, which also reports unknown columns.
 *
 * src/expr.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/regproc.h"

PG_FUNCTION_INFO_V1(apivalue_expression_type);

/*
 * Syntax errors of the raw parser point into "SELECT (expr\n)"; report them
 * against the caller's text instead, as an internal query with a position.
 */
typedef struct ExprErrorContext
{
	const char *expr;
	int			prefix_len;
} ExprErrorContext;

static void
expr_error_callback(void *arg)
{
	ExprErrorContext *ctx = (ExprErrorContext *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		pos -= ctx->prefix_len;
		if (pos < 1)
			pos = 1;
		if (pos > (int) strlen(ctx->expr) + 1)
			pos = strlen(ctx->expr) + 1;
		errposition(0);
		internalerrposition(pos);
		internalerrquery(ctx->expr);
	}
}

/*
 * Check that "expr" parses as one expression and nothing else.  We parse
 * "SELECT (expr\n)" and insist on a plain SELECT with one target and no other
 * clause: an expression that closes the parenthesis early to add a FROM,
 * WHERE, UNION, a second target or a second statement is rejected here.  The
 * newline ends a trailing "--" comment inside the parentheses.
 */
static void
check_single_expression(const char *expr, const char *what)
{
	StringInfoData sql;
	List	   *raw;
	RawStmt    *rs;
	SelectStmt *sel;
	ExprErrorContext ectx;
	ErrorContextCallback errcb;

	if (expr[strspn(expr, " \t\r\n\f")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT (%s\n)", expr);

	ectx.expr = expr;
	ectx.prefix_len = strlen("SELECT (");
	errcb.callback = expr_error_callback;
	errcb.arg = &ectx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	raw = raw_parser(sql.data, RAW_PARSE_DEFAULT);
	error_context_stack = errcb.previous;

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s must be a single SQL expression", what),
				 errdetail("The text \"%s\" contains more than one statement.", expr)));

	rs = linitial_node(RawStmt, raw);
	sel = (SelectStmt *) rs->stmt;
	if (!IsA(sel, SelectStmt) ||
		sel->op != SETOP_NONE ||
		list_length(sel->targetList) != 1 ||
		sel->fromClause != NIL || sel->whereClause != NULL ||
		sel->groupClause != NIL || sel->havingClause != NULL ||
		sel->windowClause != NIL || sel->distinctClause != NIL ||
		sel->sortClause != NIL || sel->limitCount != NULL ||
		sel->limitOffset != NULL || sel->lockingClause != NIL ||
		sel->withClause != NULL || sel->intoClause != NULL ||
		sel->valuesLists != NIL ||
		((ResTarget *) linitial(sel->targetList))->name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s must be a single SQL expression", what),
				 errdetail("The text \"%s\" is not one expression.", expr)));
}

/*
 * apivalue._expression_type(rel regclass, expr text, what text) -> regtype
 *
 * The type of "expr" evaluated over the rows of "rel".  Planning (not
 * running) "SELECT (expr) FROM rel" does the name resolution, so unknown
 * columns and functions are reported by PostgreSQL itself, with the caller's
 * privileges.
 */
Datum
apivalue_expression_type(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *what = PG_ARGISNULL(2) ? "expression" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *relname;
	StringInfoData sql;
	SPIPlanPtr	plan;
	List	   *sources;
	Oid			typid;

	check_single_expression(expr, what);

	relname = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid)));
	if (get_rel_relkind(relid) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	/* regclassout quotes the name as needed */

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT (%s\n) FROM %s", expr, relname);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1 ||
		((CachedPlanSource *) linitial(sources))->resultDesc == NULL ||
		((CachedPlanSource *) linitial(sources))->resultDesc->natts != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s must be a single SQL expression", what)));
	typid = TupleDescAttr(((CachedPlanSource *) linitial(sources))->resultDesc, 0)->atttypid;
	SPI_finish();
	PG_RETURN_OID(typid);
}
