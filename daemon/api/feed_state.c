/* feed_state.c - see feed_state.h. One file a feed, "<token hash>.feed"
 * (mode 0600 in a directory made 0700: a feed's events are its org's),
 * written as "<name>.<pid>.<random>.tmp" and renamed, so that a save cut
 * short (a crash, a stop) leaves no half file under the name read back,
 * and two instances that share the directory never write into one file:
 *
 *   liaison-feed 2\n
 *   <stamp>\n
 *   <hash> <org> <slug> <digest> <changed> <body bytes> <SHA-256 of the rest>\n
 *   the list (feed_list_save), then the body.
 *
 * The rest's digest (of the list's and the body's SHA-256, rest_digest)
 * is checked before anything of it is read: a file cut or damaged (a
 * power cut, a disk) is not read back.
 *
 * A saved list is as good as one kept in memory that heard of no change
 * since: a splice asks the database what changed after its snapshot,
 * which NOTIFY never told it anyway (feed_list.h). What a snapshot cannot
 * tell of is kept out by the stamp: another binary (its SQL may select
 * other rows), another renderer (libical, its zones), another database or
 * a recovery of it to an earlier time (a new timeline: its transaction
 * ids taken again); and a list read whole FEED_TTL_MS ago or more is not
 * read back. A database put back on its own timeline (a storage snapshot)
 * keeps its stamp: the splice finds it behind the list's snapshot and
 * reads the list whole (SQL_FEED_SPLICE_ROOTS), unless it has handed out
 * as many transaction ids again by then (FEED_TTL_MS bounds that). */
#include "api/feed_state.h"

#include "api/feed_cache.h"
#include "api/feed_list.h"
#include "clock.h"
#include "core/vevents.h"
#include "log.h"
#include "macros.h"
#include "token.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAGIC       "liaison-feed 2"
#define STATE_EXT         ".feed"
#define STATE_MAX         ((uint64_t)1 << 32) /* past any rendering the cache keeps */
#define SAVE_EVERY_MIN_MS 100                 /* a round scans the table and the directory */

/* The SHA-256 of the running binary, in hex; -1 when it cannot be read. */
static int binary_digest(char out[2 * DIGEST_BYTES + 1])
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), rc = -1;
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		unsigned char md[DIGEST_BYTES];
		if (map != MAP_FAILED) {
			rc = digest_sha256(map, (size_t)st.st_size, md);
			munmap(map, (size_t)st.st_size);
			if (rc == 0)
				digest_hex(md, DIGEST_BYTES, out);
		}
	}
	close(fd);
	return rc;
}

char *feed_state_stamp(const char *db_identity)
{
	char exe[2 * DIGEST_BYTES + 1], *stamp = NULL;
	const char *renderer = vevents_renderer();
	if (!db_identity || !*db_identity || strchr(db_identity, '\n') || !renderer ||
	    binary_digest(exe) != 0 || asprintf(&stamp, "%s %s %s", exe, renderer, db_identity) < 0)
		return NULL;
	return stamp;
}

/* The directory's descriptor, made when missing; -1 when unusable (said). */
static int open_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_warn("feed_state_dir %s: %s; renderings are not kept across restarts", path,
		         strerror(errno));
		return -1;
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_warn("feed_state_dir %s: %s; renderings are not kept across restarts", path,
		         strerror(errno));
	return fd;
}

/* ---- saving ------------------------------------------------------------------ */

struct saving {
	int dir;
	const char *stamp;
	int saved, failed;
};

/* The digest a file carries of its list and body: of their two digests,
 * so that neither need be copied next to the other to be hashed (a body
 * may be megabytes, saved while the daemon serves). */
static int rest_digest(const char *list, size_t list_len, const char *body, size_t body_len,
                       char out[2 * DIGEST_BYTES + 1])
{
	unsigned char two[2 * DIGEST_BYTES], md[DIGEST_BYTES];
	if (digest_sha256(list, list_len, two) != 0 ||
	    digest_sha256(body ? body : "", body_len, two + DIGEST_BYTES) != 0 ||
	    digest_sha256(two, sizeof(two), md) != 0)
		return -1;
	digest_hex(md, DIGEST_BYTES, out);
	return 0;
}

/* Saves one rendering: 0, or 1 when it could not be (counted). */
static int save_one(const struct feed_saved *sv, void *arg)
{
	struct saving *s = arg;
	char name[TOKEN_HASH_HEX + sizeof(STATE_EXT)], tmp[sizeof(name) + 48];
	unsigned r = 0;
	snprintf(name, sizeof(name), "%s" STATE_EXT, sv->hash);
	/* Unique even between instances that share the directory and a pid
	 * (containers): a name taken already is not written over (O_EXCL). */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (unsigned)now_monotonic_us();
	snprintf(tmp, sizeof(tmp), "%s.%ld.%08x.tmp", name, (long)getpid(), r);
	/* The list first, in memory, for its digest. */
	char *list = NULL, sum[2 * DIGEST_BYTES + 1];
	size_t len = 0;
	FILE *m = open_memstream(&list, &len);
	int rc = !m || feed_list_save(sv->list, m) != 0;
	rc = (m && fclose(m) != 0) || rc || rest_digest(list, len, sv->body, sv->len, sum) != 0;
	int fd =
	    rc ? -1
	       : openat(s->dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0) {
			close(fd);
			unlinkat(s->dir, tmp, 0);
		}
		free(list);
		s->failed++; /* a list not assembled yet is one too */
		return 1;
	}
	rc = fprintf(f, STATE_MAGIC "\n%s\n%s %s %s %.32s %lld %zu %s\n", s->stamp, sv->hash,
	             sv->org, sv->slug, sv->digest, (long long)sv->changed, sv->len, sum) < 0 ||
	     fwrite(list, len, 1, f) != 1 || (sv->len && fwrite(sv->body, sv->len, 1, f) != 1);
	free(list);
	rc = fclose(f) != 0 || rc;
	if (rc || renameat(s->dir, tmp, s->dir, name) != 0) {
		unlinkat(s->dir, tmp, 0);
		s->failed++;
		return 1;
	}
	s->saved++;
	return 0;
}

/* feed_cache_each's: every rendering, whatever one could not be saved. */
static int save_each(const struct feed_saved *sv, void *arg)
{
	(void)save_one(sv, arg);
	return 0;
}

void feed_state_save(const char *path, const char *stamp)
{
	if (!path || !*path || !stamp)
		return;
	int64_t t0 = now_monotonic_ms();
	struct saving s = {open_dir(path), stamp, 0, 0};
	if (s.dir < 0)
		return;
	(void)feed_cache_each(save_each, &s);
	close(s.dir);
	log_info("feeds: %d renderings saved to %s for the next start in %lld ms (%d not)", s.saved,
	         path, (long long)(now_monotonic_ms() - t0), s.failed);
}

/* ---- reading back ------------------------------------------------------------ */

/* The line at *p (within end) without its newline, NUL-terminated in
 * place; *p moves past it. NULL when there is none. */
static char *line_at(char **p, char *end)
{
	char *nl = memchr(*p, '\n', (size_t)(end - *p)), *s = *p;
	if (!nl)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

/* Whether name is "<token hash>.feed". */
static int state_name(const char *name)
{
	unsigned char md[DIGEST_BYTES];
	return strlen(name) == TOKEN_HASH_HEX + strlen(STATE_EXT) &&
	       !strcmp(name + TOKEN_HASH_HEX, STATE_EXT) &&
	       digest_unhex(name, TOKEN_HASH_HEX, md) == 0;
}

/* Removes what can no longer be read back: a .tmp file a minute old (a
 * save cut short; not one another instance is writing), and a rendering
 * saved FEED_TTL_MS ago or more (its list was read whole before that). */
static void sweep(int dir)
{
	/* Its own open of the directory: a dup would share the position of
	 * a listing the caller may make (restore's). */
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	time_t now = time(NULL);
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		struct stat st;
		int tmp = n > 4 && !strcmp(e->d_name + n - 4, ".tmp");
		if ((tmp || state_name(e->d_name)) &&
		    fstatat(dir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > (tmp ? 60 : FEED_TTL_MS / 1000))
			unlinkat(dir, e->d_name, 0);
	}
	closedir(d);
}

/* The whole of file name in dir (malloc'd, *len bytes), or NULL. */
static char *read_all(int dir, const char *name, size_t *len)
{
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size < STATE_MAX && (uint64_t)st.st_size < SIZE_MAX / 2 &&
	    (buf = malloc((size_t)st.st_size + 1))) {
		size_t at = 0, want = (size_t)st.st_size;
		while (at < want) {
			ssize_t n = read(fd, buf + at, want - at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			at += (size_t)n;
		}
		if (at == want) {
			buf[want] = '\0';
			*len = want;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	close(fd);
	return buf;
}

/* Keeps the rendering saved as file name: 0, or -1 when it is not one
 * of this stamp (or memory, or the cache's limit, would not take it). */
static int restore_one(int dir, const char *name, const char *stamp, unsigned generation)
{
	size_t len = 0;
	char *buf = read_all(dir, name, &len);
	if (!buf)
		return -1;
	char *p = buf, *end = buf + len, *magic = line_at(&p, end),
	     *st = magic ? line_at(&p, end) : NULL, *about = st ? line_at(&p, end) : NULL;
	char hash[TOKEN_HASH_HEX + 1], org[37], slug[64], digest[33], sum[2 * DIGEST_BYTES + 1],
	    more;
	long long changed;
	size_t body_len, used = 0;
	int rc = -1;
	char want[2 * DIGEST_BYTES + 1];
	if (!about || strcmp(magic, STATE_MAGIC) || strcmp(st, stamp) ||
	    sscanf(about, "%64s %36s %63s %32s %lld %zu %64s%c", hash, org, slug, digest, &changed,
	           &body_len, sum, &more) != 7 ||
	    strncmp(hash, name, TOKEN_HASH_HEX) || strlen(digest) != 32 ||
	    body_len > (size_t)(end - p))
		goto out;
	/* The body is the file's last bytes; the list is what comes before.
	 * Only the list is kept: its texts are cut from the body. */
	const char *body = end - body_len;
	if (rest_digest(p, (size_t)(body - p), body, body_len, want) != 0 || strcmp(want, sum))
		goto out;
	struct feed_list *l =
	    feed_list_load(p, (size_t)(body - p), &used, body, body_len, FEED_TTL_MS);
	if (l && used == (size_t)(body - p))
		rc = feed_cache_restore(hash, org, slug, generation, changed, digest, l);
	feed_list_unref(l);
out:
	free(buf);
	return rc;
}

void feed_state_restore(const char *path, const char *stamp, unsigned generation)
{
	if (!path || !*path || !stamp)
		return;
	int dir = open_dir(path), fd = dir >= 0 ? dup(dir) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		if (dir >= 0)
			close(dir);
		return;
	}
	int kept = 0, bad = 0;
	int64_t t0 = now_monotonic_ms();
	sweep(dir);
	for (struct dirent *e; (e = readdir(d));) {
		if (!state_name(e->d_name))
			continue;
		if (restore_one(dir, e->d_name, stamp, generation) == 0) {
			/* Left there: after a crash the next start reads it again,
			 * still a good base (the splice asks what changed since). */
			kept++;
		} else {
			bad++;
			unlinkat(dir, e->d_name, 0);
		}
	}
	closedir(d);
	close(dir);
	if (kept || bad)
		log_info("feeds: %d renderings read back from %s in %lld ms (%d could not be)",
		         kept, path, (long long)(now_monotonic_ms() - t0), bad);
}

/* ---- saving while running ------------------------------------------------------ */

struct feed_saver {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int64_t every_ms;
	char *dir, *stamp;
};

/* Saves the renderings made since the last round, then sweeps. */
static void save_round(struct feed_saver *fs)
{
	int64_t t0 = now_monotonic_ms();
	struct saving s = {open_dir(fs->dir), fs->stamp, 0, 0};
	if (s.dir < 0)
		return;
	feed_cache_each_unsaved(save_one, &s);
	sweep(s.dir);
	close(s.dir);
	if (s.saved || s.failed)
		log_debug("feeds: %d renderings saved to %s in %lld ms (%d not)", s.saved, fs->dir,
		          (long long)(now_monotonic_ms() - t0), s.failed);
}

static void *saver_main(void *arg)
{
	struct feed_saver *fs = arg;
	/* Behind the threads that answer: a save is never urgent. */
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), nice + 10 > 19 ? 19 : nice + 10);
	pthread_mutex_lock(&fs->mu);
	while (!fs->stop) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += fs->every_ms / 1000;
		at.tv_nsec += (fs->every_ms % 1000) * 1000000;
		if (at.tv_nsec >= 1000000000) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000;
		}
		while (!fs->stop && pthread_cond_timedwait(&fs->cv, &fs->mu, &at) == 0)
			;
		if (fs->stop)
			break;
		pthread_mutex_unlock(&fs->mu);
		save_round(fs);
		pthread_mutex_lock(&fs->mu);
	}
	pthread_mutex_unlock(&fs->mu);
	return NULL;
}

struct feed_saver *feed_state_saver_start(const char *dir, const char *stamp, int64_t every_ms)
{
	if (!dir || !*dir || !stamp || every_ms <= 0)
		return NULL;
	struct feed_saver *fs = calloc(1, sizeof(*fs));
	pthread_condattr_t ca;
	if (!fs)
		return NULL;
	fs->every_ms = every_ms < SAVE_EVERY_MIN_MS ? SAVE_EVERY_MIN_MS : every_ms;
	fs->dir = strdup(dir);
	fs->stamp = strdup(stamp);
	int cond = pthread_condattr_init(&ca) == 0;
	int ok = fs->dir && fs->stamp && cond &&
	         pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	         pthread_cond_init(&fs->cv, &ca) == 0;
	if (cond)
		pthread_condattr_destroy(&ca);
	if (ok && pthread_mutex_init(&fs->mu, NULL) != 0) {
		pthread_cond_destroy(&fs->cv);
		ok = 0;
	}
	if (ok && pthread_create(&fs->thread, NULL, saver_main, fs) != 0) {
		pthread_mutex_destroy(&fs->mu);
		pthread_cond_destroy(&fs->cv);
		ok = 0;
	}
	if (!ok) {
		log_warn(
		    "feed_state_every: cannot start the saver; renderings are saved at a clean "
		    "stop only");
		free(fs->dir);
		free(fs->stamp);
		free(fs);
		return NULL;
	}
	log_info("feeds: renderings saved to %s every %lld ms while running", dir,
	         (long long)fs->every_ms);
	return fs;
}

void feed_state_saver_stop(struct feed_saver *fs)
{
	if (!fs)
		return;
	pthread_mutex_lock(&fs->mu);
	fs->stop = 1;
	pthread_cond_signal(&fs->cv);
	pthread_mutex_unlock(&fs->mu);
	pthread_join(fs->thread, NULL);
	pthread_mutex_destroy(&fs->mu);
	pthread_cond_destroy(&fs->cv);
	free(fs->dir);
	free(fs->stamp);
	free(fs);
}
