/* Logging: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum log_level log_level = LOG_WARN;
unsigned log_cats;
static bool log_raw;

static const char *const cat_names[LOGC_COUNT] = {
#define LOG_CAT_NAME(n) #n,
	LOG_CATEGORIES(LOG_CAT_NAME)
#undef LOG_CAT_NAME
};

static const char *const level_names[] = {
	"error", "warn", "info", "debug", "trace",
};

void log_set_raw(bool raw)
{
	log_raw = raw;
}

void log_emit(enum log_level lvl, enum log_cat cat, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rax: %s: %s: %s%s", level_names[lvl], cat_names[cat],
		buf, log_raw ? "\r\n" : "\n");
}

static int parse_level(const char *s, size_t n, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names); i++) {
		if (strlen(level_names[i]) == n &&
		    !strncasecmp(s, level_names[i], n)) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_cat(const char *s, size_t n, unsigned *mask)
{
	if (n == 3 && !strncasecmp(s, "all", 3)) {
		*mask = ~0u;
		return 0;
	}
	for (int i = 0; i < LOGC_COUNT; i++) {
		if (strlen(cat_names[i]) == n && !strncasecmp(s, cat_names[i], n)) {
			*mask |= 1u << i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_configure(const char *spec)
{
	enum log_level lvl;
	unsigned mask = 0;
	const char *p = spec, *comma;
	size_t n;

	comma = strchr(p, ',');
	n = comma ? (size_t)(comma - p) : strlen(p);
	if (parse_level(p, n, &lvl))
		return -EINVAL;
	while (comma) {
		p = comma + 1;
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (parse_cat(p, n, &mask))
			return -EINVAL;
	}
	log_level = lvl;
	log_cats = mask ? mask : ~0u;
	return 0;
}
