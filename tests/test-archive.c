/* The archive writer on what reference data and conda environments hold: hard links (stored once,
 * restored as links), sparse files (they stay sparse), extended attributes (kept). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "core/archive.h"
#include "test-init.h"

#define MB (1024 * 1024)

static void
enter_tmp (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *work = g_dir_make_tmp ("ferry-test-archive-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_cmpint (chdir (work), ==, 0);
}

static void
write_archive (const char *const *paths, const char *out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryFileSet) set = ferry_file_set_new (paths, &error);

  g_assert_no_error (error);
  g_assert_true (ferry_archive_write_file (out, set, FALSE, FALSE, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
extract (const char *archive, const char *into)
{
  g_autoptr(GError) error = NULL;
  guint entries = 0;
  guint64 bytes = 0;
  g_autofree char *here = g_get_current_dir ();
  int fd = open (archive, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (g_mkdir (into, 0755), ==, 0);
  g_assert_cmpint (chdir (into), ==, 0);
  g_assert_true (ferry_archive_extract_fd (fd, NULL, &entries, &bytes, &error));
  g_assert_no_error (error);
  g_assert_cmpint (chdir (here), ==, 0);
  close (fd);
}

static void
test_hard_links (void)
{
  const char *const paths[] = { "ref", NULL };
  g_autofree char *chunk = g_malloc (MB);
  g_autoptr(GError) error = NULL;
  g_autoptr(FerryFileSet) set = NULL;
  struct stat st, st2;
  int fd;

  enter_tmp ();

  g_assert_cmpint (g_mkdir ("ref", 0755), ==, 0);
  fd = open ("ref/genome.fa", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  for (guint i = 0; i < 50; i++)
    {
      memset (chunk, 'A' + i % 4, MB);
      g_assert_cmpint (write (fd, chunk, MB), ==, MB);
    }
  close (fd);
  g_assert_cmpint (link ("ref/genome.fa", "ref/link1.fa"), ==, 0);
  g_assert_cmpint (link ("ref/genome.fa", "ref/link2.fa"), ==, 0);

  /* Counted once, stored once. */
  set = ferry_file_set_new (paths, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->members->len, ==, 3);
  g_assert_cmpuint (set->total_bytes, ==, 50 * MB);
  write_archive (paths, "ref.tar");
  g_assert_cmpint (stat ("ref.tar", &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 50 * MB);
  g_assert_cmpint (st.st_size, <, 51 * MB);

  extract ("ref.tar", "out");
  g_assert_cmpint (stat ("out/ref/genome.fa", &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 50 * MB);
  g_assert_cmpint (st.st_nlink, ==, 3);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("out/ref/link%u.fa", i + 1);
      g_assert_cmpint (stat (name, &st2), ==, 0);
      g_assert_cmpint (st2.st_ino, ==, st.st_ino);
    }
}

static void
test_sparse (void)
{
  const char *const paths[] = { "disk.img", NULL };
  struct stat st;
  int fd;

  enter_tmp ();
  fd = open ("disk.img", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  /* 200 MB, of which 8 KiB are data: at the start and at the end. */
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, "head", 4), ==, 4);
  g_assert_cmpint (lseek (fd, 200 * MB - 4, SEEK_SET), ==, 200 * MB - 4);
  g_assert_cmpint (write (fd, "tail", 4), ==, 4);
  close (fd);
  g_assert_cmpint (stat ("disk.img", &st), ==, 0);
  if (st.st_blocks * 512 > MB)
    {
      g_test_skip ("this file system does not make sparse files");
      return;
    }

  write_archive (paths, "disk.tar");
  g_assert_cmpint (stat ("disk.tar", &st), ==, 0);
  g_assert_cmpint (st.st_size, <, MB);

  extract ("disk.tar", "out");
  g_assert_cmpint (stat ("out/disk.img", &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, 200 * MB);
  g_assert_cmpint (st.st_blocks * 512, <, MB);
  {
    g_autofree char *contents = NULL;
    gsize len;
    g_assert_true (g_file_get_contents ("out/disk.img", &contents, &len, NULL));
    g_assert_cmpmem (contents, 4, "head", 4);
    g_assert_cmpmem (contents + len - 4, 4, "tail", 4);
  }
}

static void
test_xattrs (void)
{
  const char *const paths[] = { "sample.fq", NULL };
  char value[64] = { 0 };

  enter_tmp ();

  g_assert_true (g_file_set_contents ("sample.fq", "@r1\nACGT\n+\nIIII\n", -1, NULL));
  if (setxattr ("sample.fq", "user.ferry.origin", "sequencer-7", 11, 0) != 0)
    {
      g_test_skip ("this file system takes no user xattrs");
      return;
    }
  write_archive (paths, "sample.tar.zst");
  extract ("sample.tar.zst", "out");
  g_assert_cmpint (getxattr ("out/sample.fq", "user.ferry.origin", value, sizeof value - 1), ==, 11);
  g_assert_cmpstr (value, ==, "sequencer-7");
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/archive/hard-links", test_hard_links);
  g_test_add_func ("/archive/sparse", test_sparse);
  g_test_add_func ("/archive/xattrs", test_xattrs);
  return g_test_run ();
}
