# A private copy of this machine's PostgreSQL 15 installation, for builds and
# benchmarks that must not replace the shared install (and so need not hold
# the machine-wide install lock for their whole run).  Source this file.
#
#   av_private_pg DIR    make DIR a copy of the installation unless it is one
#                        already, and print its pg_config
#
# Debian's PostgreSQL is relocatable: pg_config and postgres find lib/ and
# share/ relative to their own bin/, so copying lib/postgresql/15 and
# share/postgresql/15 under DIR/usr (headers linked, not copied) gives an
# installation whose extension directory and $libdir are DIR's own.

av_private_pg() {
  local dir=$1 bindir major
  bindir=$(pg_config --bindir)                 # /usr/lib/postgresql/15/bin
  major=$(basename "$(dirname "$bindir")")     # 15
  if [ ! -x "$dir/usr/lib/postgresql/$major/bin/pg_config" ]; then
    rm -rf "$dir"
    mkdir -p "$dir/usr/lib/postgresql" "$dir/usr/share/postgresql" "$dir/usr/include"
    cp -a "$(dirname "$bindir")" "$dir/usr/lib/postgresql/"
    cp -a "$(pg_config --sharedir)" "$dir/usr/share/postgresql/"
    ln -s "$(dirname "$(dirname "$(pg_config --includedir-server)")")" "$dir/usr/include/postgresql"
    chmod -R a+rX "$dir"
  fi
  echo "$dir/usr/lib/postgresql/$major/bin/pg_config"
}
