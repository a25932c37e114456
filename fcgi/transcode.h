/*
 * transcode.h - turns an audio file that is not MPEG audio (WAV, FLAC, Ogg
 * Vorbis or Opus, M4A/AAC, AIFF, ...) into an MP3 the library can store, by
 * running ffmpeg in a child process. uploads.c calls it when libmpg123
 * refuses a finished upload; the playback path stays MP3 only
 * (ARCHITECTURE.md: libmpg123 for audio).
 */
#ifndef TUTTI_TRANSCODE_H
#define TUTTI_TRANSCODE_H

#include <stddef.h>

#define TRANSCODE_TIMEOUT_S 240	/* below nginx's 300 s for an upload's PATCH */

/* The result of transcode_mp3(). */
enum transcode_result {
	TRANSCODE_OK,		/* out holds the MP3 */
	TRANSCODE_NOT_AUDIO,	/* ffmpeg found no audio it can read in the file */
	TRANSCODE_NO_SPACE,	/* the file system of out is full */
	TRANSCODE_FAILED	/* could not run ffmpeg, or it timed out */
};

/*
 * Converts the file at in into an MP3 at out (created or replaced; mode
 * 0600): the first audio stream, LAME VBR quality 2 with its gapless tag,
 * the file's tags kept as ID3v2.3 (title, artist, album), mono or stereo
 * (more channels are mixed down), at most 48 kHz. ffmpeg is the path of
 * the program; it runs with its standard input and output on /dev/null,
 * no other descriptor of this process, one thread, and is killed after
 * timeout_s seconds. Returns TRANSCODE_OK, or another result with err
 * (errlen bytes) saying why in one line (ffmpeg's first error line when it
 * gave one); out is removed then. Blocks the calling thread.
 */
enum transcode_result transcode_mp3(const char *ffmpeg, const char *in, const char *out,
    int timeout_s, char *err, size_t errlen);

#endif
