# Sourced by .ci/run: installs Debian's PostgreSQL, starts a throwaway cluster on loopback as the
# unprivileged `postgres` user, and exports LLM_RECON_TEST_PG for the Dify database tests
# (tests/dify_db.rs). The cluster is stopped and removed when the calling shell exits.
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=${PG_PORT:-54329}
PG_DATA=$(mktemp -d /tmp/llm-recon-pg.XXXXXX)
chown postgres "$PG_DATA"
su postgres -s /bin/sh -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DATA -l $PG_DATA/server.log -w \
  -o '-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1' start" >/dev/null
trap 'su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DATA -m fast stop" >/dev/null 2>&1; rm -rf "$PG_DATA"' EXIT
export LLM_RECON_TEST_PG="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
