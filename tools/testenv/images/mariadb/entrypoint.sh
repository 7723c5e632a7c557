#!/bin/sh
# mysql:8-compatible entrypoint for the MariaDB stand-in image (see Dockerfile).
set -eu
CNF="${MARIADB_CNF:-/etc/mysql/apimconf.cnf}"
DATADIR=/var/lib/mysql
SOCK=/run/mysqld/mysqld.sock
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z) 0 [Note] [Entrypoint]: $*"; }

sql_escape() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }

if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
	echo >&2 "error: database is uninitialized and password option is not specified"
	echo >&2 "  You need to specify one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD and MYSQL_RANDOM_ROOT_PASSWORD"
	exit 1
fi

if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ ! -d "$DATADIR/mysql" ]; then
	MYSQL_ROOT_PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	echo "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
fi

if [ ! -d "$DATADIR/mysql" ]; then
	log "Initializing database files"
	mariadb-install-db --defaults-file="$CNF" --user=mysql --datadir="$DATADIR" --auth-root-authentication-method=normal --skip-test-db >/dev/null
	log "Starting temporary server"
	mariadbd --defaults-file="$CNF" --user=mysql --datadir="$DATADIR" --skip-networking --socket="$SOCK" &
	tmp_pid=$!
	i=0
	until mariadb-admin --socket="$SOCK" -uroot ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt 300 ]; then echo >&2 "error: temporary server did not start"; exit 1; fi
		sleep 0.1
	done
	rootpw="$(sql_escape "${MYSQL_ROOT_PASSWORD:-}")"
	{
		echo "DELETE FROM mysql.user WHERE User='';"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$rootpw';"
		echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$rootpw';"
		echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
		fi
		if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
			echo "CREATE USER IF NOT EXISTS '$(sql_escape "$MYSQL_USER")'@'%' IDENTIFIED BY '$(sql_escape "$MYSQL_PASSWORD")';"
			if [ -n "${MYSQL_DATABASE:-}" ]; then
				echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$(sql_escape "$MYSQL_USER")'@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mariadb --socket="$SOCK" -uroot
	MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}"; export MYSQL_PWD
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
		*.sh) log "running $f"; . "$f" ;;
		*.sql) log "running $f"; mariadb --socket="$SOCK" -uroot ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} < "$f" ;;
		*.sql.gz) log "running $f"; gunzip -c "$f" | mariadb --socket="$SOCK" -uroot ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} ;;
		*) log "ignoring $f" ;;
		esac
	done
	unset MYSQL_PWD
	log "Stopping temporary server"
	kill "$tmp_pid"
	wait "$tmp_pid" || true
	log "Temporary server stopped"
fi

# testcontainers-go's mysql module waits for the official image's
# "ready for connections" line; print it once the real server answers.
(
	i=0
	until mariadb-admin --socket="$SOCK" -uroot --password="${MYSQL_ROOT_PASSWORD:-}" ping >/dev/null 2>&1 \
		|| mariadb-admin --socket="$SOCK" -uroot ping >/dev/null 2>&1; do
		i=$((i + 1)); [ "$i" -gt 600 ] && exit 0; sleep 0.1
	done
	echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z) 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. Version: 'mariadb-10.11'  socket: '$SOCK'  port: 3306  MySQL Community Server - GPL."
) &

if [ "${1:-mariadbd}" = mariadbd ] || [ "${1:-}" = mysqld ]; then
	[ $# -gt 0 ] && shift
	exec mariadbd --defaults-file="$CNF" --user=mysql --datadir="$DATADIR" --socket="$SOCK" --bind-address=0.0.0.0 --port=3306 "$@"
fi
exec "$@"
