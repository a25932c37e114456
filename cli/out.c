/*
 * out.c - output and argument helpers of the tutti commands (out.h):
 * help and usage messages, the one JSON document of --json, tables whose
 * columns line up in terminal cells (UTF-8 names included), and the
 * duration forms people type and read.
 */
#include "out.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#define OUT_DUR_MAX_H 1000000

static const char out_globals[] =
"Global options (before or after the command): --server URL, --room CODE,\n"
"--json, -v. See tutti --help and tutti(1).\n";

int
out_help(const struct cli_help *h)
{
	printf("usage: tutti %s%s%s\n\n%s\n%s", h->name, *h->synopsis ? " " : "", h->synopsis,
	    h->text, out_globals);
	return CLI_OK;
}

int
out_usage(const struct cli_help *h, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "tutti %s: ", h->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "usage: tutti %s%s%s\n(tutti %s --help for more)\n", h->name,
	    *h->synopsis ? " " : "", h->synopsis, h->name);
	return CLI_USAGE;
}

int
out_badopt(const struct cli_help *h, char **argv, int opt)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (opt == ':')
		return out_usage(h, "%s needs an argument", arg);
	if (optopt != 0 && strncmp(arg, "--", 2) != 0)
		return out_usage(h, "unknown option -%c", optopt);
	return out_usage(h, "unknown option %s", arg);
}

void
out_getopt_reset(void)
{
	optind = 0;		/* glibc: start over, argv[0] is the command */
	opterr = 0;
}

int
out_json(json_t *doc)
{
	char *text;

	if (doc == NULL)
		doc = json_null();
	text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	if (text == NULL) {
		fputs("tutti: cannot encode the JSON answer\n", stderr);
		return CLI_FAIL;
	}
	puts(text);
	free(text);
	return CLI_OK;
}

char *
out_dur(char *buf, size_t n, int64_t us)
{
	int64_t s = us > 0 ? us / 1000000 : 0;

	if (s >= 3600)
		snprintf(buf, n, "%lld:%02lld:%02lld", (long long)(s / 3600),
		    (long long)(s / 60 % 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
	return buf;
}

char *
out_clock(char *buf, size_t n, int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(buf, n, "%H:%M:%S", &tm) == 0)
		snprintf(buf, n, "--:--:--");
	return buf;
}

/* Parses up to maxd digits at *s into *v; returns the number read (0: none). */
static int
out_digits(const char **s, int maxd, int64_t *v)
{
	int n = 0;

	*v = 0;
	while (**s >= '0' && **s <= '9' && n < maxd) {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n;
}

int
out_parse_dur(const char *s, int64_t *us)
{
	int64_t part[3], frac = 0, total = 0;
	int nparts = 0, nd, i;

	for (;;) {
		if (nparts == 3 || out_digits(&s, 10, &part[nparts]) == 0)
			return -1;
		nparts++;
		if (*s != ':')
			break;
		s++;
	}
	if (*s == '.') {
		s++;
		if ((nd = out_digits(&s, 6, &frac)) == 0)
			return -1;
		for (i = nd; i < 6; i++)
			frac *= 10;
	}
	if (*s != '\0')
		return -1;
	for (i = 0; i < nparts; i++) {
		if (i > 0 && part[i] >= 60)
			return -1;	/* 1:75 is a typo, not 2:15 */
		total = total * 60 + part[i];
	}
	if (total > (int64_t)OUT_DUR_MAX_H * 3600)
		return -1;
	*us = total * 1000000 + frac;
	return 0;
}

int
out_parse_id(const char *s, int64_t *id)
{
	int64_t v;

	if (*s == '0' || out_digits(&s, 16, &v) == 0 || *s != '\0' || v > ((int64_t)1 << 53))
		return -1;
	*id = v;
	return 0;
}

/* Decodes one code point of s (a valid, shortest UTF-8 sequence). Returns
 * its length and stores it in *cp, or returns 0 for an invalid byte. */
static int
out_utf8(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0];
	int len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Whether code point c is printed as '?': controls and bidi overrides. */
static int
out_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f;
}

void
out_clean(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp = 0;
	int n;

	while (*p != '\0') {
		n = out_utf8(p, &cp);
		if (n == 1 && cp == '\t') {
			fputc(' ', f);	/* a tab inside a chat message */
			p++;
			continue;
		}
		if (n == 0 || out_unsafe(cp)) {
			fputc('?', f);
			p += n > 0 ? n : 1;
			continue;
		}
		fwrite(p, 1, (size_t)n, f);
		p += n;
	}
}

size_t
out_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	uint32_t cp;
	int n, cw;

	while (*p != '\0') {
		if ((n = out_utf8(p, &cp)) == 0 || out_unsafe(cp)) {
			w++;
			p += n > 0 ? n : 1;
			continue;
		}
		cw = wcwidth((wchar_t)cp);
		w += cw >= 0 ? (size_t)cw : 1;
		p += n;
	}
	return w;
}

struct out_table {
	int ncols;
	const char *const *heads;
	const char *align;
	char **cells;
	size_t n, cap;
};

struct out_table *
out_table_new(int ncols, const char *const *heads, const char *align)
{
	struct out_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->heads = heads;
	t->align = align;
	return t;
}

void
out_cell(struct out_table *t, const char *fmt, ...)
{
	char *s = NULL, **p;
	va_list ap;

	if (t == NULL)
		return;
	if (t->n == t->cap) {
		if ((p = realloc(t->cells, (t->cap ? t->cap * 2 : 64) * sizeof(*p))) == NULL)
			return;
		t->cells = p;
		t->cap = t->cap ? t->cap * 2 : 64;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	t->cells[t->n++] = s;
}

/* Prints one cell padded to width w (the last column is not padded). */
static void
out_pad(const char *s, size_t w, char align, int last)
{
	size_t have = out_width(s), i;

	if (align == 'r')
		for (i = have; i < w; i++)
			putchar(' ');
	out_clean(stdout, s);
	if (align != 'r' && !last)
		for (i = have; i < w; i++)
			putchar(' ');
}

void
out_table_print(struct out_table *t)
{
	size_t *w, i, nrows;
	int col;

	if (t == NULL)
		return;
	nrows = t->n / (size_t)t->ncols + (t->n % (size_t)t->ncols != 0);
	if ((w = calloc((size_t)t->ncols, sizeof(*w))) == NULL)
		goto done;
	for (col = 0; col < t->ncols; col++)
		w[col] = out_width(t->heads[col]);
	for (i = 0; i < t->n; i++)
		if (t->cells[i] != NULL && out_width(t->cells[i]) > w[i % (size_t)t->ncols])
			w[i % (size_t)t->ncols] = out_width(t->cells[i]);
	for (col = 0; col < t->ncols; col++) {
		out_pad(t->heads[col], w[col], t->align[col], col == t->ncols - 1);
		fputs(col == t->ncols - 1 ? "\n" : "  ", stdout);
	}
	for (i = 0; i < nrows * (size_t)t->ncols; i++) {
		col = (int)(i % (size_t)t->ncols);
		out_pad(i < t->n && t->cells[i] != NULL ? t->cells[i] : "", w[col], t->align[col],
		    col == t->ncols - 1);
		fputs(col == t->ncols - 1 ? "\n" : "  ", stdout);
	}
	free(w);
done:
	out_table_free(t);
}

void
out_table_free(struct out_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
