#!/usr/bin/env bash
# Starts the machine's PostgreSQL and Redis when they do not answer on 127.0.0.1, and waits for both.
# Used by `make run` and `make test`; a no-op when both are already up.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

wait_for() {  # name, check function
  for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
  echo "$1 did not come up within 30 s" >&2
  return 1
}

if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL does not answer on 127.0.0.1:5432 and is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for PostgreSQL pg_up
fi

if ! redis_up; then
  command -v redis-server >/dev/null || { echo "Redis does not answer on 127.0.0.1:6379 and is not installed (apt-get install redis-server)" >&2; exit 1; }
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  wait_for Redis redis_up
fi
echo "PostgreSQL and Redis are up"
