/* Archives with libarchive: expanding paths into a member list, and a pax writer (zstd, gzip or
 * none) streaming each file in fixed-size chunks, to an fd or to a file renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "archive.h"

#define CHUNK (1 << 20)

gboolean
ferry_archive_check (struct archive *a, int r, const char *what, GError **error)
{
  if (r >= ARCHIVE_WARN)
    return TRUE;
  return ferry_throw (error, FERRY_ERROR_FAILED, "%s: %s", what,
                      archive_error_string (a) ? archive_error_string (a) : "archive error");
}

gboolean
ferry_archive_format_for_path (const char *path, FerryArchiveFormat *out_format, GError **error)
{
  if (g_str_has_suffix (path, ".tar.zst") || g_str_has_suffix (path, ".tzst"))
    *out_format = FERRY_ARCHIVE_ZSTD;
  else if (g_str_has_suffix (path, ".tar.gz") || g_str_has_suffix (path, ".tgz"))
    *out_format = FERRY_ARCHIVE_GZIP;
  else if (g_str_has_suffix (path, ".tar"))
    *out_format = FERRY_ARCHIVE_NONE;
  else
    return ferry_throw (error, FERRY_ERROR_USAGE,
                        "cannot tell the archive format of \"%s\": name it .tar.zst, .tar.gz, .tgz "
                        "or .tar",
                        path);
  return TRUE;
}

/* --- the member list ---------------------------------------------------------------------------- */

static void
member_free (FerryArchiveMember *m)
{
  g_free (m->path);
  g_free (m);
}

void
ferry_file_set_free (FerryFileSet *set)
{
  if (set == NULL)
    return;
  g_ptr_array_unref (set->members);
  g_free (set);
}

gboolean
ferry_archive_check_relative (const char *path, GError **error)
{
  g_auto(GStrv) parts = NULL;

  if (*path == '\0' || g_path_is_absolute (path))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "%s is outside the workflow directory: only files under it can be archived or sent",
                        *path ? path : "\"\"");
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                          "%s is outside the workflow directory: only files under it can be "
                          "archived or sent",
                          path);
  return TRUE;
}

/* "./a//b/" → "a/b" */
static char *
clean_path (const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0' || g_str_equal (parts[i], "."))
        continue;
      if (s->len > 0)
        g_string_append_c (s, '/');
      g_string_append (s, parts[i]);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

typedef struct
{
  FerryFileSet *set;
  GHashTable *seen;
  GHashTable *inodes; /* "dev:ino" of the files with more than one link: their bytes count once */
} Walk;

static void
add_member (Walk *w, const char *path, const struct stat *st)
{
  FerryArchiveMember *m;

  if (g_hash_table_contains (w->seen, path))
    return;
  m = g_new0 (FerryArchiveMember, 1);
  m->path = g_strdup (path);
  m->st = *st;
  g_hash_table_add (w->seen, m->path);
  g_ptr_array_add (w->set->members, m);
  if (S_ISREG (st->st_mode) && st->st_nlink > 1)
    {
      char *key = g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev, (uintmax_t) st->st_ino);
      if (!g_hash_table_add (w->inodes, key))
        return;
    }
  if (S_ISREG (st->st_mode))
    w->set->total_bytes += st->st_size;
}

/* Depth first, in name order: "a/b" before "a.txt" ('/' sorts before any other byte). */
static int
compare_members (gconstpointer a, gconstpointer b)
{
  const unsigned char *p = (const unsigned char *) (*(FerryArchiveMember *const *) a)->path;
  const unsigned char *q = (const unsigned char *) (*(FerryArchiveMember *const *) b)->path;

  while (*p != '\0' && *p == *q)
    p++, q++;
  return (*p == '/' ? 1 : *p == '\0' ? 0 : *p + 1) - (*q == '/' ? 1 : *q == '\0' ? 0 : *q + 1);
}

static gboolean
check_member (const char *path, const struct stat *st, GError **error)
{
  if (S_ISREG (st->st_mode) && access (path, R_OK) != 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", path, g_strerror (errno));
  if (!S_ISREG (st->st_mode) && !S_ISLNK (st->st_mode) && !S_ISDIR (st->st_mode))
    return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                        "%s is neither a file nor a directory: it cannot be archived", path);
  return TRUE;
}

/* A named path: a file (a symlink named directly is followed), or a directory walked whole by
 * libarchive's disk reader, symlinks inside kept as symlinks, and only its empty directories kept as
 * members (the others come with their files). */
static gboolean
walk (Walk *w, const char *path, GError **error)
{
  g_autoptr(FerryArchiveRead) disk = NULL;
  g_autoptr(FerryArchiveEntry) entry = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GHashTable) parents = NULL;
  struct stat st;
  int r;

  if (stat (path, &st) != 0)
    return ferry_throw (error, errno == ENOENT ? FERRY_ERROR_NOT_FOUND : FERRY_ERROR_FAILED,
                        "cannot read %s: %s", path, g_strerror (errno));
  if (!check_member (path, &st, error))
    return FALSE;
  if (!S_ISDIR (st.st_mode))
    {
      add_member (w, path, &st);
      return TRUE;
    }

  disk = archive_read_disk_new ();
  archive_read_disk_set_symlink_hybrid (disk);
  /* Names and stats only: the writer reads each file's xattrs, ACLs, flags and holes once, as it
   * archives it (reading them here too doubled the system calls per file). */
  archive_read_disk_set_behavior (disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL
                                            | ARCHIVE_READDISK_NO_FFLAGS
                                            | ARCHIVE_READDISK_NO_SPARSE);
  if (archive_read_disk_open (disk, path) != ARCHIVE_OK)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", path,
                        archive_error_string (disk));
  entry = archive_entry_new ();
  found = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
  parents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  while ((r = archive_read_next_header2 (disk, entry)) != ARCHIVE_EOF)
    {
      const char *name = archive_entry_pathname (entry);
      FerryArchiveMember *m;

      if (r != ARCHIVE_OK)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", name ? name : path,
                            archive_errno (disk) > 0 ? g_strerror (archive_errno (disk))
                                                     : archive_error_string (disk));
      m = g_new0 (FerryArchiveMember, 1);
      m->path = g_strdup (name);
      m->st = *archive_entry_stat (entry);
      g_ptr_array_add (found, m);
      if (!check_member (m->path, &m->st, error))
        return FALSE;
      g_hash_table_add (parents, g_path_get_dirname (m->path));
      if (S_ISDIR (m->st.st_mode)
          && !ferry_archive_check (disk, archive_read_disk_descend (disk), m->path, error))
        return FALSE;
    }
  g_ptr_array_sort (found, compare_members);
  for (guint i = 0; i < found->len; i++)
    {
      FerryArchiveMember *m = found->pdata[i];
      if (!S_ISDIR (m->st.st_mode) || !g_hash_table_contains (parents, m->path))
        add_member (w, m->path, &m->st);
    }
  return TRUE;
}

FerryFileSet *
ferry_file_set_new (const char *const *paths, GError **error)
{
  g_autoptr(FerryFileSet) set = g_new0 (FerryFileSet, 1);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Walk w = { set, seen, inodes };

  set->members = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
  for (guint i = 0; paths != NULL && paths[i] != NULL; i++)
    {
      g_autofree char *clean = NULL;
      if (!ferry_archive_check_relative (paths[i], error))
        return NULL;
      clean = clean_path (paths[i]);
      if (*clean == '\0')
        return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                             "\"%s\" is the workflow directory itself, not a file in it", paths[i]),
                NULL);
      if (!walk (&w, clean, error))
        return NULL;
    }
  return g_steal_pointer (&set);
}

/* --- the writer --------------------------------------------------------------------------------- */

struct _FerryArchiveWriter
{
  struct archive *a;
  struct archive *disk;                         /* fills each entry from the file: xattrs, sparse map */
  struct archive_entry_linkresolver *resolver; /* a file with several links goes in once */
  char *buf;
  guint64 bytes;
  guint members;
  FerryArchiveProgress progress;
  gpointer progress_data;
};

void
ferry_archive_writer_free (FerryArchiveWriter *w)
{
  if (w == NULL)
    return;
  archive_write_free (w->a);
  archive_read_free (w->disk);
  archive_entry_linkresolver_free (w->resolver);
  g_free (w->buf);
  g_free (w);
}

/* Big blocks: libarchive's default 10 KiB costs a write(2) every 10 KiB; the last one unpadded. */
static void
set_blocks (FerryArchiveWrite *a)
{
  archive_write_set_bytes_per_block (a, CHUNK);
  archive_write_set_bytes_in_last_block (a, 1);
}

FerryArchiveWriter *
ferry_archive_writer_new (int fd, FerryArchiveFormat format, int level, GError **error)
{
  g_autoptr(FerryArchiveWriter) w = g_new0 (FerryArchiveWriter, 1);
  char value[32];

  w->a = archive_write_new ();
  w->buf = g_malloc (CHUNK);
  w->disk = archive_read_disk_new ();
  archive_read_disk_set_standard_lookup (w->disk);
  w->resolver = archive_entry_linkresolver_new ();
  archive_entry_linkresolver_set_strategy (w->resolver, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  archive_write_set_format_pax_restricted (w->a);
  switch (format)
    {
    case FERRY_ARCHIVE_ZSTD:
      if (!ferry_archive_check (w->a, archive_write_add_filter_zstd (w->a), "zstd", error))
        return NULL;
      /* A worker per core when libarchive's zstd has them, for the fast levels; the high ones
       * (--best) in one thread: each worker holds a window of its own (level 12 with two workers
       * peaks at 229 MB, in one thread at 68 MB). */
      if (level <= 9)
        {
          g_snprintf (value, sizeof value, "%u", MAX (1, g_get_num_processors ()));
          archive_write_set_filter_option (w->a, "zstd", "threads", value);
        }
      break;
    case FERRY_ARCHIVE_GZIP:
      if (!ferry_archive_check (w->a, archive_write_add_filter_gzip (w->a), "gzip", error))
        return NULL;
      break;
    case FERRY_ARCHIVE_NONE:
    default:
      break;
    }
  if (level > 0)
    {
      g_snprintf (value, sizeof value, "%d", level);
      archive_write_set_filter_option (w->a, NULL, "compression-level", value);
    }
  set_blocks (w->a);
  if (!ferry_archive_check (w->a, archive_write_open_fd (w->a, fd), "starting the archive", error))
    return NULL;
  return g_steal_pointer (&w);
}

gboolean
ferry_archive_open_raw (FerryArchiveWrite *a, void *data, archive_write_callback *write_cb,
                        const char *what, GError **error)
{
  archive_write_set_format_pax_restricted (a);
  set_blocks (a);
  return ferry_archive_check (a, archive_write_open2 (a, data, NULL, write_cb, NULL, NULL), what,
                              error);
}

void
ferry_archive_writer_set_progress (FerryArchiveWriter *w, FerryArchiveProgress progress,
                                   gpointer user_data)
{
  w->progress = progress;
  w->progress_data = user_data;
}

guint64
ferry_archive_writer_get_bytes (FerryArchiveWriter *w)
{
  return w->bytes;
}

static void
entry_from_stat (FerryArchiveEntry *entry, const char *name, const struct stat *st)
{
  /* The name's bytes as they are on disk: libarchive marks them binary when the locale cannot
   * convert them, so any name survives. */
  archive_entry_set_pathname (entry, name);
  archive_entry_set_perm (entry, st->st_mode & 07777);
  archive_entry_set_uid (entry, st->st_uid);
  archive_entry_set_gid (entry, st->st_gid);
  archive_entry_set_mtime (entry, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

/* The file's content, as many bytes as the header promised: a file that grows is cut there, one that
 * shrinks is padded by libarchive, and the archive stays well-formed either way. The holes of a sparse
 * file read as zeros, which the pax writer leaves out by the entry's sparse map. */
static gboolean
write_content (FerryArchiveWriter *w, int fd, const char *path, guint64 size,
               GCancellable *cancellable, GError **error)
{
  guint64 left = size;

  while (left > 0)
    {
      ssize_t n = read (fd, w->buf, MIN ((guint64) CHUNK, left));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", path,
                            g_strerror (errno));
      if (n == 0)
        break;
      if (archive_write_data (w->a, w->buf, n) < 0)
        return ferry_archive_check (w->a, ARCHIVE_FATAL, path, error);
      left -= n;
      w->bytes += n;
      if (w->progress)
        w->progress (w->bytes, w->members, w->progress_data);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
ferry_archive_writer_add (FerryArchiveWriter *w, const FerryArchiveMember *m,
                          GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryArchiveEntry) entry = archive_entry_new ();
  struct archive_entry *spare = NULL;
  struct archive_entry *linked;
  const struct stat *st = &m->st;
  struct stat described = *st;
  struct stat now;
  gboolean dense = FALSE;
  gboolean ok;
  int fd = -1;
  int r;

  /* The name's bytes as they are on disk: libarchive marks them binary when the locale cannot
   * convert them, so any name survives. */
  archive_entry_copy_pathname (entry, m->path);
  archive_entry_copy_sourcepath (entry, m->path);
  if (S_ISREG (st->st_mode))
    {
      fd = open (m->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot read %s: %s", m->path,
                            g_strerror (errno));
      if (st->st_size > CHUNK)
        posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      /* A file whose blocks hold its whole size has no holes (GNU tar decides so too). The walk's
       * stat came through an archive entry, which keeps no block count. */
      if (fstat (fd, &now) == 0 && (guint64) now.st_blocks * 512 >= (guint64) st->st_size)
        dense = TRUE;
    }
  /* Owner, mode, times, symlink target, xattrs and the holes of a sparse file, as libarchive reads
   * them; the size and type stay those of the member's stat. libarchive looks for holes (seven
   * lseeks, most of the system calls of a small file) only in a file with a size, so a dense file
   * is described with size 0, and given its own after. */
  if (dense)
    described.st_size = 0;
  r = archive_read_disk_entry_from_file (w->disk, entry, fd, &described);
  if (!ferry_archive_check (w->disk, r, m->path, error))
    {
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  if (dense)
    archive_entry_set_size (entry, st->st_size);
  else if (fd >= 0)
    lseek (fd, 0, SEEK_SET);
  linked = entry;
  archive_entry_linkify (w->resolver, &linked, &spare);
  g_assert (linked == entry && spare == NULL); /* the tar strategy hands entries back at once */
  ok = ferry_archive_check (w->a, archive_write_header (w->a, entry), m->path, error);
  /* A further link to a file already in the archive is a header naming it, without content. */
  if (ok && fd >= 0 && archive_entry_hardlink (entry) == NULL)
    ok = write_content (w, fd, m->path, st->st_size, cancellable, error);
  if (fd >= 0)
    close (fd);
  if (!ok)
    return FALSE;
  w->members++;
  if (w->progress)
    w->progress (w->bytes, w->members, w->progress_data);
  return ferry_archive_check (w->a, archive_write_finish_entry (w->a), m->path, error);
}

gboolean
ferry_archive_writer_add_bytes (FerryArchiveWriter *w, const char *name, GBytes *contents,
                                mode_t mode, gint64 mtime, GError **error)
{
  g_autoptr(FerryArchiveEntry) entry = archive_entry_new ();
  struct stat st = { 0 };
  gsize len;
  const void *data = g_bytes_get_data (contents, &len);

  st.st_mode = mode;
  st.st_uid = getuid ();
  st.st_gid = getgid ();
  st.st_mtim.tv_sec = mtime;
  entry_from_stat (entry, name, &st);
  archive_entry_set_filetype (entry, AE_IFREG);
  archive_entry_set_size (entry, len);
  if (!ferry_archive_check (w->a, archive_write_header (w->a, entry), name, error))
    return FALSE;
  if (len > 0 && archive_write_data (w->a, data, len) < 0)
    return ferry_archive_check (w->a, ARCHIVE_FATAL, name, error);
  w->members++;
  return ferry_archive_check (w->a, archive_write_finish_entry (w->a), name, error);
}

gboolean
ferry_archive_writer_close (FerryArchiveWriter *w, GError **error)
{
  return ferry_archive_check (w->a, archive_write_close (w->a), "finishing the archive", error);
}

/* --- to a file, renamed into place --------------------------------------------------------------- */

static gboolean
write_members (int fd, FerryArchiveFormat format, gboolean best, FerryFileSet *set,
               FerryArchiveProgress progress, gpointer user_data, GCancellable *cancellable,
               GError **error)
{
  /* zstd 2 by default: the cheapest level within 1.05 times gzip -6's size on sequence data (the
   * reference page's archive): 1.021 for a fifth of zstd 7's CPU. Level 1 costs as much and is larger;
   * the negative levels save a tenth of the CPU for 1.10 to 1.15 times the size. --best: zstd 12 (3 %
   * smaller, ten times the time; 15 saves 3 % more for 20 times that again, and 19 needs 300 MB).
   * scripts/bench/export measures them. */
  int level = format == FERRY_ARCHIVE_ZSTD   ? (best ? 12 : 2)
              : format == FERRY_ARCHIVE_GZIP ? (best ? 9 : 0)
                                             : 0;
  g_autoptr(FerryArchiveWriter) w = ferry_archive_writer_new (fd, format, level, error);

  if (w == NULL)
    return FALSE;
  ferry_archive_writer_set_progress (w, progress, user_data);
  for (guint i = 0; i < set->members->len; i++)
    if (g_cancellable_set_error_if_cancelled (cancellable, error)
        || !ferry_archive_writer_add (w, set->members->pdata[i], cancellable, error))
      return FALSE;
  return ferry_archive_writer_close (w, error);
}

static gboolean
rename_into_place (const char *tmp, const char *path, gboolean force, GError **error)
{
  if (force)
    {
      if (rename (tmp, path) != 0)
        return ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", path,
                            g_strerror (errno));
      return TRUE;
    }
  /* link(2) fails if the name appeared meanwhile: never replace what the user made. */
  if (link (tmp, path) != 0)
    {
      int saved = errno;
      if (saved == EEXIST)
        return ferry_throw (error, FERRY_ERROR_FAILED,
                            "%s already exists: pass --force to replace it", path);
      return ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", path,
                          g_strerror (saved));
    }
  unlink (tmp);
  return TRUE;
}

gboolean
ferry_archive_write_file (const char *path, FerryFileSet *set, gboolean force, gboolean best,
                          FerryArchiveProgress progress, gpointer user_data,
                          GCancellable *cancellable, GError **error)
{
  FerryArchiveFormat format;
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp = NULL;
  mode_t mask;
  gboolean ok;
  int fd;

  if (!ferry_archive_format_for_path (path, &format, error))
    return FALSE;
  if (!force && g_file_test (path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    return ferry_throw (error, FERRY_ERROR_FAILED, "%s already exists: pass --force to replace it",
                        path);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return ferry_throw (error, FERRY_ERROR_FAILED, "%s is a directory", path);
  tmp = g_strdup_printf ("%s/.%s.ferry-XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return ferry_throw (error, FERRY_ERROR_FAILED, "cannot create a file in %s: %s", dir,
                        g_strerror (errno));
  ok = write_members (fd, format, best, set, progress, user_data, cancellable, error);
  mask = umask (0);
  umask (mask);
  if (ok && fchmod (fd, 0666 & ~mask) != 0)
    ok = ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", path, g_strerror (errno));
  if (close (fd) != 0 && ok)
    ok = ferry_throw (error, FERRY_ERROR_FAILED, "cannot write %s: %s", path, g_strerror (errno));
  if (ok)
    ok = rename_into_place (tmp, path, force, error);
  if (!ok)
    unlink (tmp);
  return ok;
}

/* --- secure extraction ------------------------------------------------------------------------- */

/* The path or one of its parent directories is in `set` (a target's thousands of outputs are
 * looked up, not scanned). */
gboolean
ferry_archive_path_under (const char *path, GHashTable *set)
{
  g_autofree char *p = NULL;
  char *slash;

  if (g_str_has_prefix (path, "./"))
    path += 2;
  p = g_strdup (path);
  for (;;)
    {
      gsize n = strlen (p);
      while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
      if (g_hash_table_contains (set, p))
        return TRUE;
      slash = strrchr (p, '/');
      if (slash == NULL)
        return FALSE;
      *slash = '\0';
    }
}

/* Under one of the allowed paths (NULL set: anywhere). */
static gboolean
path_allowed (const char *path, GHashTable *allowed)
{
  return allowed == NULL || ferry_archive_path_under (path, allowed);
}

gboolean
ferry_archive_path_inside (const char *path)
{
  g_auto(GStrv) parts = NULL;

  if (path == NULL || *path == '\0' || g_path_is_absolute (path))
    return FALSE;
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

gboolean
ferry_archive_extract_fd (int fd, const char *const *allowed, guint *out_entries, guint64 *out_bytes,
                          GError **error)
{
  return ferry_archive_extract_fd_full (fd, allowed, NULL, NULL, out_entries, out_bytes, error);
}

gboolean
ferry_archive_extract_fd_full (int fd, const char *const *allowed_paths, FerryExtractFilter filter,
                               gpointer filter_data, guint *out_entries, guint64 *out_bytes,
                               GError **error)
{
  g_autoptr(FerryArchiveRead) in = archive_read_new ();
  g_autoptr(FerryArchiveWrite) out = archive_write_disk_new ();
  g_autoptr(GHashTable) allowed = NULL;
  struct archive_entry *entry;
  int r;

  if (allowed_paths != NULL)
    {
      allowed = g_hash_table_new (g_str_hash, g_str_equal);
      for (guint i = 0; allowed_paths[i] != NULL; i++)
        g_hash_table_add (allowed, (gpointer) allowed_paths[i]);
    }

  archive_read_support_filter_all (in);
  archive_read_support_format_tar (in);
  archive_read_support_format_empty (in);
  archive_write_disk_set_options (out, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                                           | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS
                                           | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM
                                           | ARCHIVE_EXTRACT_UNLINK | ARCHIVE_EXTRACT_XATTR);
  if (archive_read_open_fd (in, fd, 65536) != ARCHIVE_OK)
    return ferry_archive_check (in, ARCHIVE_FATAL, "reading the pulled archive", error);
  while ((r = archive_read_next_header (in, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN)
    {
      const char *path = archive_entry_pathname (entry);
      const char *link = archive_entry_symlink (entry);
      const char *hard = archive_entry_hardlink (entry);

      if (path != NULL && filter != NULL && filter (entry, filter_data) == FERRY_EXTRACT_SKIP)
        {
          if (archive_read_data_skip (in) < ARCHIVE_WARN)
            return ferry_archive_check (in, ARCHIVE_FATAL, path, error);
          continue;
        }
      if (path == NULL || !path_allowed (path, allowed))
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "refusing \"%s\" from the remote: not one of the requested outputs",
                            path ? path : "");
      if ((link != NULL && !ferry_archive_path_inside (link)) || (hard != NULL && !path_allowed (hard, allowed)))
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                            "refusing \"%s\" from the remote: a link leading out of the workflow",
                            path);
      r = archive_write_header (out, entry);
      if (r < ARCHIVE_WARN)
        return ferry_throw (error, FERRY_ERROR_INVALID_DATA, "refusing \"%s\" from the remote: %s",
                            path, archive_error_string (out));
      if (archive_entry_size (entry) > 0)
        {
          const void *buf;
          size_t size;
          la_int64_t offset;
          while ((r = archive_read_data_block (in, &buf, &size, &offset)) == ARCHIVE_OK)
            {
              if (archive_write_data_block (out, buf, size, offset) < ARCHIVE_WARN)
                return ferry_archive_check (out, ARCHIVE_FATAL, path, error);
              *out_bytes += size;
            }
          if (r != ARCHIVE_EOF)
            return ferry_archive_check (in, ARCHIVE_FATAL, path, error);
        }
      if (!ferry_archive_check (out, archive_write_finish_entry (out), path, error))
        return FALSE;
      (*out_entries)++;
    }
  if (r != ARCHIVE_EOF)
    return ferry_archive_check (in, ARCHIVE_FATAL, "reading the pulled archive", error);
  return ferry_archive_check (out, archive_write_close (out), "finishing the extraction", error);
}

