/*
 * log.h - one-line log records on stderr for every tutti daemon.
 * Each record names the program, the level and the function that logged it:
 *   2026-11-21T10:00:00.123Z tutti-api[42] warn api_control: worker timeout
 * The program name is set once by log_init(); everything else is stateless.
 */
#ifndef TUTTI_LOG_H
#define TUTTI_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

/* Sets the program name and the lowest level printed. Call before threads start. */
void log_init(const char *prog, enum log_level min);

/* Writes one record; fmt is printf-style. Thread-safe (one write(2) per record). */
void log_emit(enum log_level lvl, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_emit(LOG_DEBUG, __func__, __VA_ARGS__)
#define log_info(...)  log_emit(LOG_INFO, __func__, __VA_ARGS__)
#define log_warn(...)  log_emit(LOG_WARN, __func__, __VA_ARGS__)
#define log_err(...)   log_emit(LOG_ERR, __func__, __VA_ARGS__)

#endif
