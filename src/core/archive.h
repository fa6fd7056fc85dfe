/* Archives with libarchive: the file set of paths (directories walked whole), and a pax writer to a
 * file (temporary name, then rename) or an fd, with zstd, gzip or no compression. */
#pragma once

#include <sys/stat.h>

#include "ferry-common.h"

G_BEGIN_DECLS

typedef enum
{
  FERRY_ARCHIVE_ZSTD,
  FERRY_ARCHIVE_GZIP,
  FERRY_ARCHIVE_NONE,
} FerryArchiveFormat;

/* The format a file name asks for: .tar.zst/.tzst, .tar.gz/.tgz, .tar. Any other name is a
 * FERRY_ERROR_USAGE naming the ones ferry writes. */
gboolean ferry_archive_format_for_path (const char *path, FerryArchiveFormat *out_format,
                                        GError **error);

/* One member: a path relative to the current dir, and its stat (symlinks named directly are
 * followed; inside a walked directory they stay symlinks). */
typedef struct
{
  char *path;
  struct stat st;
} FerryArchiveMember;

typedef struct
{
  GPtrArray *members; /* FerryArchiveMember */
  guint64 total_bytes;
} FerryFileSet;

void ferry_file_set_free (FerryFileSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryFileSet, ferry_file_set_free)

/* Expands `paths` (relative, inside the current dir) into members: files, symlinks, and empty
 * directories; each directory walked whole, in name order; each path once. A path that is absolute
 * or leaves the directory with `..`, or that cannot be read, is an error naming it. */
FerryFileSet *ferry_file_set_new (const char *const *paths, GError **error);

/* Progress: called after each chunk with the bytes and members done so far. */
typedef void (*FerryArchiveProgress) (guint64 bytes_done, guint members_done, gpointer user_data);

typedef struct _FerryArchiveWriter FerryArchiveWriter;

/* A pax writer onto fd (not closed by the writer). zstd uses one thread per core. `level` 0 is
 * the format's default. */
FerryArchiveWriter *ferry_archive_writer_new (int fd, FerryArchiveFormat format, int level,
                                              GError **error);
/* Adds a member, its content streamed from disk in 1 MiB chunks (constant memory). */
gboolean ferry_archive_writer_add (FerryArchiveWriter *w, const FerryArchiveMember *m,
                                   GCancellable *cancellable, GError **error);
/* Adds a regular file `name` holding `contents`. */
gboolean ferry_archive_writer_add_bytes (FerryArchiveWriter *w, const char *name, GBytes *contents,
                                         mode_t mode, gint64 mtime, GError **error);
void ferry_archive_writer_set_progress (FerryArchiveWriter *w, FerryArchiveProgress progress,
                                        gpointer user_data);
guint64 ferry_archive_writer_get_bytes (FerryArchiveWriter *w);
/* Finishes the archive (end blocks, flushed filters). */
gboolean ferry_archive_writer_close (FerryArchiveWriter *w, GError **error);
void ferry_archive_writer_free (FerryArchiveWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FerryArchiveWriter, ferry_archive_writer_free)

/* Opens `a` as an uncompressed restricted-pax writer in the same 1 MiB blocks, onto `write_cb`
 * (a sink that does more than write: the store's packs hash what they write). */
gboolean ferry_archive_open_raw (FerryArchiveWrite *a, void *data, archive_write_callback *write_cb,
                                 const char *what, GError **error);

/* Writes `set` to `path` in the format its name asks for: into a temporary file next to it, renamed
 * into place once complete, so a failed or interrupted export leaves no partial archive. An
 * existing `path` is refused unless `force`. `best` trades time for the smallest archive. */
gboolean ferry_archive_write_file (const char *path, FerryFileSet *set, gboolean force, gboolean best,
                                   FerryArchiveProgress progress, gpointer user_data,
                                   GCancellable *cancellable, GError **error);

/* A relative path that stays inside its tree: not empty, not absolute, no `..` component. */
gboolean ferry_archive_path_inside (const char *path);

/* Extracts a tar stream (any compression) read from fd into the current dir: no `..`, no absolute
 * path, nothing written through a symlink, no link leading out; only entries under `allowed` (NULL:
 * any); mtimes and modes kept. Counts entries and content bytes. */
gboolean ferry_archive_extract_fd (int fd, const char *const *allowed, guint *out_entries,
                                   guint64 *out_bytes, GError **error);

/* `path` ("./" aside) or one of its parent directories is in `set`. */
gboolean ferry_archive_path_under (const char *path, GHashTable *set);

/* What to do with one entry of an extraction, asked before the `allowed` check. */
typedef enum
{
  FERRY_EXTRACT_CHECK, /* extract it if it is allowed, refuse the archive otherwise */
  FERRY_EXTRACT_SKIP,  /* read past it; nothing is written */
} FerryExtractAction;

typedef FerryExtractAction (*FerryExtractFilter) (FerryArchiveEntry *entry, gpointer user_data);

/* As ferry_archive_extract_fd, with `filter` (may be NULL) deciding first for each entry. */
gboolean ferry_archive_extract_fd_full (int fd, const char *const *allowed,
                                        FerryExtractFilter filter, gpointer filter_data,
                                        guint *out_entries, guint64 *out_bytes, GError **error);

/* A path relative to the workflow directory that stays inside it (no absolute path, no `..`). */
gboolean ferry_archive_check_relative (const char *path, GError **error);

/* The libarchive result as a GError ("what: libarchive's message") when below ARCHIVE_WARN. */
gboolean ferry_archive_check (struct archive *a, int r, const char *what, GError **error);

G_END_DECLS
