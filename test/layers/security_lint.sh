#!/usr/bin/env bash
# Security lint for the install script(s).  Fails on
#  1. a SECURITY DEFINER function or procedure without a pinned search_path
#     (SET search_path = ..., pg_temp: pg_temp last, no public or "$user"),
#     checked both in sql/*.sql and in a live install (pg_proc.prosecdef and
#     pg_proc.proconfig of the extension's members);
#  2. CREATE OR REPLACE, in sql/*.sql, of an object that the install script
#     does not itself create with a plain CREATE earlier on (an upgrade script
#     may replace what the install script creates): replacing an object the
#     extension does not own would take over whatever a user planted there.
# Prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=test/out/security_lint
rm -rf "$out"; mkdir -p "$out"

rc=0
python3 - "$root" <<'PY' || rc=1
import glob, os, re, sys

root = sys.argv[1]
# The install script is these family files concatenated in this order (see
# the Makefile); files not in the list are checked too, after them.
makefile = open(os.path.join(root, 'Makefile')).read()
m = re.search(r'SQL_FAMILIES\s*=\s*((?:.*\\\n)*.*)', makefile)
families = m.group(1).replace('\\\n', ' ').split() if m else []
install = [os.path.join(root, 'sql', f + '.sql') for f in families
           if os.path.exists(os.path.join(root, 'sql', f + '.sql'))]
generated = set(glob.glob(os.path.join(root, 'sql', 'apivalue--*.sql'))) - \
            set(glob.glob(os.path.join(root, 'sql', 'apivalue--*--*.sql')))
others = sorted(set(glob.glob(os.path.join(root, 'sql', '*.sql'))) - set(install) - generated)
upgrades = [f for f in others if re.search(r'--.*--', os.path.basename(f))]
rest = [f for f in others if f not in upgrades]


def statements(text):
    """Split SQL into statements, honouring quotes, dollar quotes, comments.
    Yields (line, statement with the bodies of string/dollar literals
    replaced by a placeholder, so keywords inside bodies do not count)."""
    i, n, start, line, buf = 0, len(text), 0, 1, []
    stmt_line = 1
    while i < n:
        c = text[i]
        if c == '-' and text.startswith('--', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            i = j
            continue
        if c == '/' and text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            line += text.count('\n', i, j)
            i = j
            continue
        if c == "'":
            j = i + 1
            while j < n:
                if text[j] == "'" and j + 1 < n and text[j + 1] == "'":
                    j += 2
                    continue
                if text[j] == "'":
                    break
                j += 1
            buf.append("'…'")
            line += text.count('\n', i, j)
            i = j + 1
            continue
        if c == '$':
            m = re.match(r'\$([A-Za-z_][A-Za-z_0-9]*)?\$', text[i:])
            if m:
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                j = n if j < 0 else j + len(tag)
                buf.append('$…$')
                line += text.count('\n', i, j)
                i = j
                continue
        if c == ';':
            s = ''.join(buf).strip()
            if s:
                yield stmt_line, s
            buf = []
            i += 1
            continue
        if c == '\n':
            line += 1
        if not buf or (''.join(buf).strip() == '' and not c.isspace()):
            stmt_line = line
        buf.append(c)
        i += 1
    s = ''.join(buf).strip()
    if s:
        yield stmt_line, s


KINDS = r'(FUNCTION|PROCEDURE|AGGREGATE|VIEW|TRIGGER|RULE|TRANSFORM|LANGUAGE|MATERIALIZED\s+VIEW)'
create_re = re.compile(r'^CREATE\s+(OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|RECURSIVE|TRUSTED|PROCEDURAL)\s+)*'
                       + KINDS + r'\s+(?:IF\s+NOT\s+EXISTS\s+)?("[^"]+"|[\w.@"]+(?:\.[\w"]+)?)', re.I | re.S)
fails = []
warnings = []
created = {}


def ident(kind, name):
    kind = re.sub(r'\s+', ' ', kind.upper())
    if kind == 'PROCEDURE':
        kind = 'FUNCTION'
    name = name.replace('"', '').replace('@extschema@', 'apivalue').lower()
    if '.' not in name:
        name = 'apivalue.' + name
    return kind, name


def check_secdef(path, line, s):
    head = s.split('$…$')[0] if 'AS' in s.upper() else s
    if not re.search(r'\bSECURITY\s+DEFINER\b', s, re.I):
        return
    m = re.search(r"\bSET\s+search_path\s*(?:=|TO)\s*([^\n]*?)(?=\s+(?:AS|LANGUAGE|SECURITY|SET|IMMUTABLE|STABLE|VOLATILE|PARALLEL|STRICT|CALLED|RETURNS|COST|ROWS|SUPPORT|LEAKPROOF|NOT|BEGIN|RETURN)\b|$)",
                  s, re.I | re.S)
    where = '%s:%d' % (os.path.relpath(path, root), line)
    what = ' '.join(s.split()[:6])
    if not m:
        fails.append('%s: SECURITY DEFINER without SET search_path: %s' % (where, what))
        return
    path_items = [x.strip().strip("'\"").lower() for x in m.group(1).split(',')]
    if path_items[-1] != 'pg_temp':
        fails.append('%s: SECURITY DEFINER search_path must end with pg_temp (got %s): %s'
                     % (where, m.group(1).strip(), what))
    if any(x in ('public', '$user') for x in path_items):
        fails.append('%s: SECURITY DEFINER search_path names a schema users can write to (%s): %s'
                     % (where, m.group(1).strip(), what))


def scan(path, is_upgrade):
    for line, s in statements(open(path, encoding='utf-8').read()):
        m = create_re.match(s)
        if re.match(r'^(CREATE|ALTER)\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE)\b', s, re.I):
            check_secdef(path, line, s)
        if not m:
            continue
        key = ident(m.group(2), m.group(3))
        where = '%s:%d' % (os.path.relpath(path, root), line)
        if m.group(1):
            if key not in created:
                fails.append('%s: CREATE OR REPLACE %s %s, which the install script does not create first'
                             % (where, key[0], key[1]))
        elif not is_upgrade:
            created.setdefault(key, where)


for f in install + rest:
    scan(f, False)
for f in upgrades:
    scan(f, True)
n = len(install) + len(rest) + len(upgrades)
for x in fails:
    print('security_lint: FAIL ' + x)
print('security_lint: %d SQL files, %d objects created, %d problems in the SQL files'
      % (n, len(created), len(fails)))
sys.exit(1 if fails else 0)
PY

# Live install: every SECURITY DEFINER member of the extension pins search_path.
if [ -z "${APIVALUE_LOCK_HELD:-}" ]; then
  exec 9>/tmp/apivalue-install.lock
  flock 9
  make -s -j"$(nproc)" >/dev/null
  make -s install >/dev/null
  export APIVALUE_LOCK_HELD=1
fi
live=$(pg_virtualenv -t bash -c '
  psql -X -q -c "CREATE EXTENSION apivalue CASCADE" >/dev/null
  psql -X -At <<SQL
SELECT '"'"'#bad '"'"' || p.oid::regprocedure || '"'"' '"'"' || coalesce(array_to_string(p.proconfig, '"'"' '"'"'), '"'"'<none>'"'"')
FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = '"'"'pg_proc'"'"'::regclass AND d.deptype = '"'"'e'"'"'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = '"'"'apivalue'"'"')
  AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                  WHERE c LIKE '"'"'search\_path=%'"'"'
                    AND c ~ '"'"'pg_temp"?$'"'"' AND c !~* '"'"'(public|\$user)'"'"')
ORDER BY 1;
SELECT '"'"'#secdef '"'"' || count(*) FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = '"'"'pg_proc'"'"'::regclass AND d.deptype = '"'"'e'"'"' AND p.prosecdef
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = '"'"'apivalue'"'"');
SQL
' 2>"$out/live.err" 9>&-) || { echo "security_lint: live install check failed to run"; cat "$out/live.err" | tail -n 5; rc=1; }
bad=$(printf '%s\n' "$live" | grep -c '^#bad ' || true)
secdef=$(printf '%s\n' "$live" | sed -n 's/^#secdef //p')
printf '%s\n' "$live" | sed -n 's/^#bad /security_lint: FAIL live SECURITY DEFINER without pinned search_path: /p'
[ "$bad" -eq 0 ] || rc=1
echo "security_lint: live install: ${secdef:-?} SECURITY DEFINER functions, $bad without a pinned search_path"
exit $rc
