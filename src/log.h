/* Logging with levels and run-time categories (STYLE.md habit 6).
 *
 * rax_log(LOG_DEBUG, io, "port %#x", port) prints only when the level is
 * enabled and the category was selected with --log or RAX_LOG.  The format
 * is always type-checked, even when the category is off. */
#ifndef RAX_LOG_H
#define RAX_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* One list of categories; the enum and the names come from it. */
#define LOG_CATEGORIES(X) \
	X(boot) X(io) X(mmio) X(exit) X(irq) X(dev) X(kvm) X(cpu) X(rsp) X(timer) X(hist)

enum log_cat {
#define LOG_CAT_ENUM(n) LOGC_##n,
	LOG_CATEGORIES(LOG_CAT_ENUM)
#undef LOG_CAT_ENUM
	LOGC_COUNT
};

extern enum log_level log_level;
extern unsigned log_cats; /* bit per enum log_cat */

static inline bool log_enabled(enum log_level lvl, enum log_cat cat)
{
	return lvl <= LOG_WARN ||
	       (lvl <= log_level && (log_cats & (1u << cat)));
}

void log_emit(enum log_level lvl, enum log_cat cat, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define rax_log(lvl, cat, ...)                                       \
	do {                                                         \
		if (log_enabled(lvl, LOGC_##cat))                    \
			log_emit(lvl, LOGC_##cat, __VA_ARGS__);      \
	} while (0)

/* Parse "LEVEL[,CAT,...]" (e.g. "debug,io,exit"); "debug" alone enables
 * every category.  Returns 0 or -EINVAL (nothing changed). */
int log_configure(const char *spec) __attribute__((warn_unused_result));

/* Console output goes to stdout in raw mode; log lines must end in \r\n
 * then.  Set by the console when it switches the terminal. */
void log_set_raw(bool raw);

#endif
