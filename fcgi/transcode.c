/*
 * transcode.c - ffmpeg in a child process (see transcode.h): spawned with
 * posix_spawn, every inherited descriptor but stdin, stdout and stderr
 * closed, stderr read through a pipe for the reason of a failure, waited
 * for with a deadline.
 */
#include "transcode.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TRANSCODE_ERR_MAX 4096	/* bytes of ffmpeg's stderr kept */

/* Milliseconds on the monotonic clock. */
static long long
transcode_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts ffmpeg with argv, stdin and stdout on /dev/null and stderr on the
 * pipe's write end. Returns 0 with *pid set, or an errno value. */
static int
transcode_spawn(char *const argv[], int errfd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int rc;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, errfd, 2)) != 0 ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
		goto done;
	rc = posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
done:
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Reads the child's stderr into buf (what does not fit is dropped) until
 * it closes or the deadline, then reaps the child, killed past the
 * deadline. Returns its wait status, or -1 when it was killed for the time
 * or could not be reaped. */
static int
transcode_wait(pid_t pid, int fd, long long deadline, char *buf, size_t size)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char chunk[512];
	size_t got = 0, take;
	ssize_t n;
	int status, killed = 0;
	long long left;

	for (;;) {
		if ((left = deadline - transcode_now_ms()) <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (poll(&p, 1, left > 1000 ? 1000 : (int)left) <= 0)
			continue;	/* nothing yet, or EINTR */
		if ((n = read(fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* closed: the child is ending */
		take = (size_t)n < size - 1 - got ? (size_t)n : size - 1 - got;
		memcpy(buf + got, chunk, take);
		got += take;
	}
	buf[got] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return killed ? -1 : status;
}

/* The first line of ffmpeg's stderr into err, without the input's path
 * (a server path the client has no business seeing) in front. */
static void
transcode_reason(const char *text, const char *in, char *err, size_t errlen)
{
	size_t n, len = strlen(in);

	text += strspn(text, "\r\n");
	if (strncmp(text, in, len) == 0 && strncmp(text + len, ": ", 2) == 0)
		text += len + 2;
	if (text[0] == '[' && strstr(text, "] ") != NULL &&
	    strstr(text, "] ") < text + strcspn(text, "\r\n"))
		text = strstr(text, "] ") + 2;	/* "[mp3 @ 0x...] ": no addresses */
	n = strcspn(text, "\r\n");
	snprintf(err, errlen, "%.*s", (int)(n > 300 ? 300 : n), text);
}

enum transcode_result
transcode_mp3(const char *ffmpeg, const char *in, const char *out, int timeout_s,
    char *err, size_t errlen)
{
	char *const argv[] = {
		(char *)ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-threads", "1", "-i", (char *)in, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-map_metadata", "0", "-id3v2_version", "3", "-write_xing", "1",
		"-c:a", "libmp3lame", "-q:a", "2", "-f", "mp3", (char *)out, NULL
	};
	char text[TRANSCODE_ERR_MAX];
	int pfd[2], rc, status;
	pid_t pid;

	err[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return TRANSCODE_FAILED;
	}
	rc = transcode_spawn(argv, pfd[1], &pid);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(err, errlen, "cannot run %s: %s", ffmpeg, strerror(rc));
		return TRANSCODE_FAILED;
	}
	status = transcode_wait(pid, pfd[0], transcode_now_ms() + (long long)timeout_s * 1000,
	    text, sizeof(text));
	close(pfd[0]);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return TRANSCODE_OK;
	unlink(out);
	if (status == -1) {
		snprintf(err, errlen, "converting took longer than %d s", timeout_s);
		return TRANSCODE_FAILED;
	}
	transcode_reason(text, in, err, errlen);
	if (err[0] == '\0')
		snprintf(err, errlen, "ffmpeg ended with status %d", status);
	log_warn("%s: %s", in, err);
	/* A full disk or a missing encoder is ours; anything else is the file. */
	if (strstr(text, "No space left") != NULL)
		return TRANSCODE_NO_SPACE;
	return strstr(text, "Unknown encoder") != NULL ? TRANSCODE_FAILED : TRANSCODE_NOT_AUDIO;
}
