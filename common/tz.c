/* tz.c - zone name validation. libical and the C library both open zone
 * names as file paths, so a name must be proved harmless before either
 * sees it. */
#include "tz.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define ZONEINFO "/usr/share/zoneinfo/"

static int name_safe(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '/' || name[0] == '.' || name[n - 1] == '/')
		return 0;
	if (strstr(name, "..") || strstr(name, "//"))
		return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ==
	       n;
}

int tz_valid(const char *name)
{
	if (!name || !name_safe(name))
		return 0;
	if (strcmp(name, "UTC") == 0)
		return 1;
	char path[sizeof(ZONEINFO) + 64];
	memcpy(path, ZONEINFO, sizeof(ZONEINFO) - 1);
	strcpy(path + sizeof(ZONEINFO) - 1, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		/* Debian links many zones (e.g. "UTC", "Etc/...") as symlinks. */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 0;
	}
	char magic[4];
	ssize_t r = read(fd, magic, sizeof(magic));
	close(fd);
	return r == 4 && memcmp(magic, "TZif", 4) == 0;
}
