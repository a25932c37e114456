#!/bin/sh
# install.sh - `make install` and `make uninstall`: copies the programs
# built by `make`, the web client, the migrations, the manual pages, the
# systemd units (with tmpfiles.d and sysusers.d snippets), an example
# environment file and the nginx site into PREFIX (under DESTDIR when
# packaging), filling in the paths; or removes them again. It never builds,
# never starts anything and never touches the data directory; the steps
# after it are in docs/deploy.md.
# usage: scripts/install.sh install|uninstall
# Settings, from the environment (the make variables of the same names):
#   PREFIX       /usr/local        programs in PREFIX/bin, the rest in PREFIX/share, PREFIX/lib
#   DESTDIR      (none)            staging root for packages; paths inside files omit it
#   SYSCONFDIR   /etc for PREFIX /usr or /usr/local, else PREFIX/etc (default/tutti)
#   STATEDIR     /var/lib/tutti    the data directory: database and media
#   RUNSTATEDIR  /run/tutti        the sockets of tutti-api and the relays
#   REDIS_SOCKET /run/redis/redis-server.sock   where the services find Redis
#   TLS_CERT, TLS_KEY  Debian's snake-oil pair   the nginx site's certificate until certbot's
set -eu

cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case $PREFIX in
/usr | /usr/local) SYSCONFDIR=${SYSCONFDIR:-/etc} ;;
*) SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc} ;;
esac
STATEDIR=${STATEDIR:-/var/lib/tutti}
RUNSTATEDIR=${RUNSTATEDIR:-/run/tutti}
REDIS_SOCKET=${REDIS_SOCKET:-/run/redis/redis-server.sock}
TLS_CERT=${TLS_CERT:-/etc/ssl/certs/ssl-cert-snakeoil.pem}
TLS_KEY=${TLS_KEY:-/etc/ssl/private/ssl-cert-snakeoil.key}

BINDIR=$PREFIX/bin
SHAREDIR=$PREFIX/share/tutti
MANDIR=$PREFIX/share/man
UNITDIR=$PREFIX/lib/systemd/system
TMPFILESDIR=$PREFIX/lib/tmpfiles.d
SYSUSERSDIR=$PREFIX/lib/sysusers.d

PROGS="tutti-api tutti-worker tutti-relay tutti"
UNITS="tutti-api.service tutti-worker@.service tutti-relay@.service tutti.target"
MAN8="tutti-api.8 tutti-worker.8 tutti-relay.8"

die() {
	echo "install.sh: $*" >&2
	exit 1
}

# check_chars NAME VALUE: a path that sed and nginx take as it is.
check_chars() {
	case $2 in
	*[!A-Za-z0-9/._@+-]*) die "$1: use only letters, digits and / . _ @ + - in '$2'" ;;
	esac
}

# check_path NAME VALUE: the same, absolute.
check_path() {
	case $2 in
	/*) check_chars "$1" "$2" ;;
	*) die "$1 must be an absolute path, not '$2'" ;;
	esac
}

for v in PREFIX SYSCONFDIR STATEDIR RUNSTATEDIR REDIS_SOCKET TLS_CERT TLS_KEY; do
	eval "check_path $v \"\$$v\""
done
check_chars DESTDIR "$DESTDIR"
# Redis may be host:port as well as a socket path.
case $REDIS_SOCKET in
/*) ;;
*) die "REDIS_SOCKET must be a socket path; set a host:port in default/tutti after installing" ;;
esac

# render SRC DST MODE: SRC with every @WORD@ filled in, written to DST.
render() {
	mkdir -p "$(dirname "$2")"
	sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SHAREDIR@|$SHAREDIR|g" \
	    -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" -e "s|@STATEDIR@|$STATEDIR|g" \
	    -e "s|@RUNSTATEDIR@|$RUNSTATEDIR|g" -e "s|@REDIS_SOCKET@|$REDIS_SOCKET|g" \
	    -e "s|@WEB@|$SHAREDIR/web|g" -e "s|@DATA@|$STATEDIR|g" \
	    -e "s|@RUN@|$RUNSTATEDIR|g" -e "s|@TLS_CERT@|$TLS_CERT|g" \
	    -e "s|@TLS_KEY@|$TLS_KEY|g" "$1" > "$2.tmp"
	chmod "$3" "$2.tmp"
	mv -f "$2.tmp" "$2"
}

do_install() {
	for p in $PROGS; do
		[ -x "bin/$p" ] || die "bin/$p is missing: run make first"
	done
	d=$DESTDIR
	mkdir -p "$d$BINDIR"
	for p in $PROGS; do
		install -m 0755 "bin/$p" "$d$BINDIR/$p"
	done

	# The web client, as it is (no build step), and the migrations. Files
	# gone from the source since the last install must go too.
	rm -rf "$d$SHAREDIR/web" "$d$SHAREDIR/sql"
	mkdir -p "$d$SHAREDIR/web" "$d$SHAREDIR/sql"
	cp -R web/. "$d$SHAREDIR/web/"
	find "$d$SHAREDIR/web" -type d -exec chmod 0755 {} +
	find "$d$SHAREDIR/web" -type f -exec chmod 0644 {} +
	for f in sql/[0-9]*.sql; do
		install -m 0644 "$f" "$d$SHAREDIR/sql/"
	done

	render nginx/tutti.conf "$d$SHAREDIR/nginx/tutti.conf" 0644
	render systemd/tutti.default "$d$SHAREDIR/examples/default-tutti" 0644
	for u in $UNITS; do
		render "systemd/$u" "$d$UNITDIR/$u" 0644
	done
	render systemd/tutti.tmpfiles "$d$TMPFILESDIR/tutti.conf" 0644
	render systemd/tutti.sysusers "$d$SYSUSERSDIR/tutti.conf" 0644
	# The operator's settings are never overwritten.
	# 0640 root:tutti: it may hold TUTTI_REDIS_PASSWORD.
	if [ ! -e "$d$SYSCONFDIR/default/tutti" ]; then
		render systemd/tutti.default "$d$SYSCONFDIR/default/tutti" 0640
		getent group tutti >/dev/null && chgrp tutti "$d$SYSCONFDIR/default/tutti" || true
	fi

	render cli/tutti.1 "$d$MANDIR/man1/tutti.1" 0644
	for m in $MAN8; do
		render "man/$m" "$d$MANDIR/man8/$m" 0644
	done

	echo "tutti installed into $d$PREFIX"
	if [ -z "$d" ]; then
		echo "next (docs/deploy.md): systemd-sysusers; systemd-tmpfiles --create;" \
		    "systemctl daemon-reload; the nginx site from $SHAREDIR/nginx/tutti.conf"
	fi
}

# rmdir_up DIR STOP: removes DIR and its parents up to (not including) STOP
# while they are empty.
rmdir_up() {
	up=$1
	while [ "$up" != "$2" ] && [ "$up" != / ] && [ "$up" != . ] &&
	    rmdir "$up" 2>/dev/null; do
		up=$(dirname "$up")
	done
}

# tidy: removes the directories install created and left empty, but only in
# a staging root (DESTDIR) or a prefix of tutti's own: never /usr/local/bin.
tidy() {
	d=$DESTDIR
	case $PREFIX in
	/usr | /usr/local) [ -n "$d" ] || return 0 ;;
	esac
	for dir in "$d$BINDIR" "$d$UNITDIR" "$d$TMPFILESDIR" "$d$SYSUSERSDIR" \
	    "$d$MANDIR/man1" "$d$MANDIR/man8"; do
		rmdir_up "$dir" "$d$PREFIX"
	done
	case $SYSCONFDIR in
	"$PREFIX"/*) rmdir_up "$d$SYSCONFDIR/default" "$d$PREFIX" ;;
	*) [ -z "$d" ] || rmdir_up "$d$SYSCONFDIR/default" "$d" ;;
	esac
	[ -z "$d" ] || rmdir_up "$d$PREFIX" "$d"
}

do_uninstall() {
	d=$DESTDIR
	for p in $PROGS; do
		rm -f "$d$BINDIR/$p"
	done
	rm -rf "$d$SHAREDIR"
	for u in $UNITS; do
		rm -f "$d$UNITDIR/$u"
	done
	rm -f "$d$TMPFILESDIR/tutti.conf" "$d$SYSUSERSDIR/tutti.conf" "$d$MANDIR/man1/tutti.1"
	for m in $MAN8; do
		rm -f "$d$MANDIR/man8/$m"
	done
	# default/tutti only when it is still the one installed.
	if [ -e "$d$SYSCONFDIR/default/tutti" ]; then
		tmp=$(mktemp)
		render systemd/tutti.default "$tmp" 0600
		if cmp -s "$tmp" "$d$SYSCONFDIR/default/tutti"; then
			rm -f "$d$SYSCONFDIR/default/tutti"
		else
			echo "install.sh: keeping $d$SYSCONFDIR/default/tutti (changed)" >&2
		fi
		rm -f "$tmp"
	fi
	tidy
	echo "tutti removed from $d$PREFIX (the data in $STATEDIR is kept)"
}

case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: scripts/install.sh install|uninstall" >&2; exit 2 ;;
esac
