/*
 * out.h - what the commands of tutti print and how they read their
 * arguments: per-command help and usage errors, the --json document,
 * aligned tables, durations as m:ss, and text from the server printed
 * without control characters (a hostile name must not drive the terminal).
 */
#ifndef TUTTI_CLI_OUT_H
#define TUTTI_CLI_OUT_H

#include "cli.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The help of one command: "usage: tutti NAME SYNOPSIS", then text. */
struct cli_help {
	const char *name;
	const char *synopsis;
	const char *text;	/* description and options, lines indented as in a man page */
};

/* Prints the command's help on stdout. Returns CLI_OK. */
int out_help(const struct cli_help *h);

/* Prints "tutti NAME: MESSAGE" (printf-style; fmt may be NULL) and the
 * usage line on stderr. Returns CLI_USAGE. */
int out_usage(const struct cli_help *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After getopt_long returned '?' or ':' (opterr 0): names the option that
 * is unknown or lacks its argument. Returns CLI_USAGE. */
int out_badopt(const struct cli_help *h, char **argv, int opt);

/* Resets getopt for a command's own argv (argv[0] is the command). */
void out_getopt_reset(void);

/* Prints doc (stolen; NULL prints null) as one compact line on stdout.
 * Returns CLI_OK, or CLI_FAIL when it cannot be encoded. */
int out_json(json_t *doc);

/* Formats a duration (µs, negative clamps to 0) as m:ss, or h:mm:ss from
 * an hour on, into buf (n bytes). Returns buf. */
char *out_dur(char *buf, size_t n, int64_t us);

/* Formats a server time (µs since the epoch) as the local HH:MM:SS. */
char *out_clock(char *buf, size_t n, int64_t us);

/*
 * Parses a duration as people type it: seconds ("83", "83.5"), m:ss
 * ("1:23", "1:23.5") or h:mm:ss ("1:02:03"); at most 6 decimals, at most
 * 1 000 000 hours. Returns 0 and the duration in *us, or -1.
 */
int out_parse_dur(const char *s, int64_t *us);

/* Parses a positive decimal id (1 to 2^53) into *id. Returns 0 or -1. */
int out_parse_id(const char *s, int64_t *id);

/* Writes s to f with control characters (C0, DEL, C1) and bidirectional
 * overrides replaced by '?', and invalid UTF-8 bytes too. */
void out_clean(FILE *f, const char *s);

/* The number of terminal columns s takes once cleaned (wcwidth per code
 * point; 1 when unknown). */
size_t out_width(const char *s);

/* A table printed with aligned columns: cells are added row by row. */
struct out_table;

/* A table of ncols columns with these heads; align holds one 'l' or 'r'
 * per column. Returns NULL on OOM. */
struct out_table *out_table_new(int ncols, const char *const *heads, const char *align);

/* Adds the next cell (printf-style); after ncols cells a new row starts.
 * On OOM the cell is left empty. */
void out_cell(struct out_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the heads and every row on stdout, cleaned; then frees t. */
void out_table_print(struct out_table *t);

/* Frees t without printing (NULL is ignored). */
void out_table_free(struct out_table *t);

#endif
