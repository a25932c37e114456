/*
 * config.c - the config directory of tutti (config.h): the config file,
 * the tokens of joined rooms (rooms.json) and the unfinished uploads
 * (uploads.json). Readers take the JSON files as they are (a rename makes
 * every version whole); writers lock, read, change, write a temporary file
 * and rename it over the old one.
 */
#include "config.h"

#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_FILE_MAX (16 << 20)		/* the largest JSON file read */
#define CFG_LINE_MAX 4096
#define CFG_UPLOAD_KEEP_US ((int64_t)48 * 3600 * 1000000)	/* uploads expire after 24 h */

static char *
cfg_path(const struct cli *c, const char *file)
{
	char *p;

	if (c->config_dir == NULL || asprintf(&p, "%s/%s", c->config_dir, file) < 0)
		return NULL;
	return p;
}

char *
cfg_dir(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	char *p;

	if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/tutti", x) < 0)
			return NULL;
		return p;
	}
	if ((home == NULL || home[0] != '/') && (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || home[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/.config/tutti", home) < 0)
		return NULL;
	return p;
}

/* Creates dir and its missing parents with mode 0700. Returns 0 or -1
 * after printing why. */
static int
cfg_mkdirs(const char *dir)
{
	char *p = strdup(dir), *s, save;
	struct stat st;
	int rc = -1;

	if (p == NULL)
		return -1;
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		save = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "tutti: cannot create %s: %s\n", p, strerror(errno));
			goto fail;
		}
		*s = save;
		if (save == '\0')
			break;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tutti: %s is not a directory\n", dir);
		goto fail;
	}
	rc = 0;
fail:
	free(p);
	return rc;
}

/* Trims ASCII spaces and tabs at both ends of s, in place. */
static char *
cfg_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
	    s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

char *
cfg_get(const struct cli *c, const char *key)
{
	char *path = cfg_path(c, "config"), line[CFG_LINE_MAX], *k, *eq, *val = NULL;
	FILE *f;
	int lineno = 0;

	if (path == NULL || (f = fopen(path, "r")) == NULL) {
		free(path);
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		k = cfg_trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			fprintf(stderr, "tutti: %s:%d: expected key=value; line ignored\n", path, lineno);
			continue;
		}
		*eq = '\0';
		if (strcmp(cfg_trim(k), key) == 0) {
			free(val);	/* the last one wins */
			val = strdup(cfg_trim(eq + 1));
		}
	}
	fclose(f);
	free(path);
	return val;
}

char *
cfg_default_name(const struct cli *c)
{
	struct passwd *pw;
	char *n;

	if ((n = cfg_get(c, "name")) != NULL && *n != '\0')
		return n;
	free(n);
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name[0] != '\0')
		return strdup(pw->pw_name);
	if ((n = getenv("USER")) != NULL && *n != '\0')
		return strdup(n);
	return strdup("listener");
}

/* Reads the JSON object in file of the config directory into *root (a new
 * reference; an empty object when the file does not exist). Returns 0, or
 * -1 after printing why. */
static int
cfg_load(const struct cli *c, const char *file, json_t **root)
{
	char *path = cfg_path(c, file);
	json_error_t err;
	struct stat st;
	FILE *f = NULL;
	int rc = -1;

	*root = NULL;
	if (path == NULL)
		return -1;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			*root = json_object();
			rc = *root != NULL ? 0 : -1;
		} else
			fprintf(stderr, "tutti: %s: %s\n", path, strerror(errno));
		goto done;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size > CFG_FILE_MAX) {
		fprintf(stderr, "tutti: %s: too large or unreadable\n", path);
		goto done;
	}
	if (st.st_size == 0) {		/* emptied by hand: nothing remembered */
		*root = json_object();
		rc = *root != NULL ? 0 : -1;
		goto done;
	}
	*root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
	if (*root == NULL || !json_is_object(*root)) {
		fprintf(stderr, "tutti: %s: line %d: %s; fix or remove the file\n", path,
		    err.line, *root == NULL ? err.text : "not a JSON object");
		json_decref(*root);
		*root = NULL;
		goto done;
	}
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	free(path);
	return rc;
}

/* Writes root to file in the config directory: a temporary file of mode
 * 0600 in the same directory, synced, then renamed over file. Returns 0 or
 * -1 after printing why. */
static int
cfg_save(const struct cli *c, const char *file, json_t *root)
{
	char *path = cfg_path(c, file), *tmp = NULL, *text = NULL;
	size_t len, off = 0;
	ssize_t n;
	int fd = -1, rc = -1;

	if (path == NULL || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		goto fail;
	}
	if ((text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL)
		goto fail;
	len = strlen(text);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "tutti: cannot write in %s: %s\n", c->config_dir, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0600) != 0)
		goto ioerr;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto ioerr;
		}
		off += (size_t)n;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
		goto ioerr;
	if (close(fd) != 0) {
		fd = -1;
		goto ioerr;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto ioerr;
	rc = 0;
	goto done;
ioerr:
	fprintf(stderr, "tutti: cannot write %s: %s\n", path, strerror(errno));
fail:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
done:
	free(text);
	free(tmp);
	free(path);
	return rc;
}

/* Creates the config directory and takes its write lock. Returns the lock's
 * descriptor (close it to unlock), or -1 after printing why. */
static int
cfg_lock(const struct cli *c)
{
	char *path;
	int fd;

	if (c->config_dir == NULL) {
		fputs("tutti: no config directory: set HOME or XDG_CONFIG_HOME\n", stderr);
		return -1;
	}
	if (cfg_mkdirs(c->config_dir) != 0 || (path = cfg_path(c, "lock")) == NULL)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(fd, LOCK_EX) != 0) {
		fprintf(stderr, "tutti: cannot lock %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* Returns the object of c->server in root["servers"] (borrowed), created
 * when create is set; NULL when absent (or on OOM). */
static json_t *
cfg_server(const struct cli *c, json_t *root, int create)
{
	json_t *servers = json_object_get(root, "servers"), *s;

	if (!json_is_object(servers)) {
		if (!create || json_object_set_new(root, "servers", json_object()) != 0)
			return NULL;
		servers = json_object_get(root, "servers");
	}
	s = json_object_get(servers, c->server);
	if (!json_is_object(s)) {
		if (!create || json_object_set_new(servers, c->server, json_object()) != 0)
			return NULL;
		s = json_object_get(servers, c->server);
	}
	return s;
}

int
cfg_token_get(const struct cli *c, const char *code, char **token, char **name)
{
	json_t *root, *room;
	const char *t, *n;
	int rc = -1;

	*token = NULL;
	if (name != NULL)
		*name = NULL;
	if (c->config_dir == NULL || cfg_load(c, "rooms.json", &root) != 0)
		return -1;
	room = json_object_get(json_object_get(cfg_server(c, root, 0), "rooms"), code);
	t = json_string_value(json_object_get(room, "token"));
	n = json_string_value(json_object_get(room, "name"));
	if (t != NULL && *t != '\0') {
		*token = strdup(t);
		if (name != NULL)
			*name = strdup(n != NULL ? n : "");
		rc = *token != NULL ? 0 : -1;
	}
	json_decref(root);
	return rc;
}

int
cfg_token_put(const struct cli *c, const char *code, const char *token, const char *name)
{
	json_t *root = NULL, *s, *rooms;
	int lock, rc = -1;

	if ((lock = cfg_lock(c)) < 0)
		return -1;
	if (cfg_load(c, "rooms.json", &root) != 0 || (s = cfg_server(c, root, 1)) == NULL)
		goto done;
	if (!json_is_object(rooms = json_object_get(s, "rooms"))) {
		if (json_object_set_new(s, "rooms", json_object()) != 0)
			goto done;
		rooms = json_object_get(s, "rooms");
	}
	if (json_object_set_new(rooms, code, json_pack("{s:s, s:s, s:I}", "token", token,
	    "name", name != NULL ? name : "", "joined_us", (json_int_t)clock_now_us())) != 0 ||
	    json_object_set_new(s, "last", json_string(code)) != 0)
		goto done;
	rc = cfg_save(c, "rooms.json", root);
done:
	json_decref(root);
	close(lock);
	return rc;
}

int
cfg_token_forget(const struct cli *c, const char *code)
{
	json_t *root = NULL, *s;
	const char *last;
	int lock, rc = -1;

	if ((lock = cfg_lock(c)) < 0)
		return -1;
	if (cfg_load(c, "rooms.json", &root) != 0)
		goto done;
	rc = 0;
	if ((s = cfg_server(c, root, 0)) == NULL)
		goto done;
	json_object_del(json_object_get(s, "rooms"), code);
	if ((last = json_string_value(json_object_get(s, "last"))) != NULL &&
	    strcmp(last, code) == 0)
		json_object_del(s, "last");
	rc = cfg_save(c, "rooms.json", root);
done:
	json_decref(root);
	close(lock);
	return rc;
}

char *
cfg_last_room(const struct cli *c)
{
	json_t *root;
	const char *last;
	char *code = NULL;

	if (c->config_dir == NULL || cfg_load(c, "rooms.json", &root) != 0)
		return NULL;
	if ((last = json_string_value(json_object_get(cfg_server(c, root, 0), "last"))) != NULL)
		code = strdup(last);
	json_decref(root);
	return code;
}

int
cfg_upload_get(const struct cli *c, const char *key, char **url)
{
	json_t *root;
	const char *u;
	int rc = -1;

	*url = NULL;
	if (c->config_dir == NULL || cfg_load(c, "uploads.json", &root) != 0)
		return -1;
	u = json_string_value(json_object_get(json_object_get(cfg_server(c, root, 0), key), "url"));
	if (u != NULL && (*url = strdup(u)) != NULL)
		rc = 0;
	json_decref(root);
	return rc;
}

json_t *
cfg_uploads(const struct cli *c)
{
	json_t *root, *all = json_object(), *v;
	const char *k, *u;

	if (all == NULL || c->config_dir == NULL || cfg_load(c, "uploads.json", &root) != 0)
		return all;
	json_object_foreach(cfg_server(c, root, 0), k, v)
		if ((u = json_string_value(json_object_get(v, "url"))) != NULL &&
		    json_object_set_new(all, k, json_string(u)) != 0) {
			json_decref(all);
			all = NULL;
			break;
		}
	json_decref(root);
	return all;
}

/* Drops the entries of s older than the server keeps an upload. */
static void
cfg_upload_prune(json_t *s, int64_t now)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(s, tmp, k, v) {
		json_int_t at = json_integer_value(json_object_get(v, "created_us"));

		if (!json_is_object(v) || at < now - CFG_UPLOAD_KEEP_US)
			json_object_del(s, k);
	}
}

int
cfg_upload_put(const struct cli *c, const char *key, const char *url)
{
	json_t *root = NULL, *s;
	int64_t now = clock_now_us();
	int lock, rc = -1;

	if ((lock = cfg_lock(c)) < 0)
		return -1;
	if (cfg_load(c, "uploads.json", &root) != 0 || (s = cfg_server(c, root, 1)) == NULL)
		goto done;
	cfg_upload_prune(s, now);
	if (url == NULL)
		json_object_del(s, key);
	else if (json_object_set_new(s, key, json_pack("{s:s, s:I}", "url", url,
	    "created_us", (json_int_t)now)) != 0)
		goto done;
	rc = cfg_save(c, "uploads.json", root);
done:
	json_decref(root);
	close(lock);
	return rc;
}
