/* Starts a unit test with a temp dir of its own that is removed when the test ends, however it ends. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

static int
test_init_open_up (const char *path, const struct stat *st, int type, struct FTW *ftw G_GNUC_UNUSED)
{
  if (type == FTW_D)
    chmod (path, st->st_mode | S_IRWXU);
  return 0;
}

static int
test_init_remove (const char *path, const struct stat *st G_GNUC_UNUSED, int type G_GNUC_UNUSED,
                  struct FTW *ftw G_GNUC_UNUSED)
{
  remove (path);
  return 0;
}

/* Replaces g_test_init. TMPDIR becomes a fresh ferry-test-NAME-XXXXXX in TMPDIR, so that every temp
 * file of the test and of the code under test (g_dir_make_tmp, GLib's isolated dirs) is inside it. The
 * test runs in a child; this process waits for it, removes the dir (FERRY_TEST_KEEP=1 keeps it), and
 * ends as the child ended: a failed assertion aborts the child, and the dir goes all the same. */
static void
ferry_test_init (int *argc, char ***argv)
{
  const char *tmp = g_getenv ("TMPDIR");
  const char *keep = g_getenv ("FERRY_TEST_KEEP");
  char *name = g_path_get_basename ((*argv)[0]);
  char *dir = g_strdup_printf ("%s/ferry-%s-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
  int status = 0;
  pid_t pid;

  g_free (name);
  if (g_mkdtemp (dir) == NULL)
    g_error ("cannot create a temp dir %s: %s", dir, g_strerror (errno));
  g_setenv ("TMPDIR", dir, TRUE);
  fflush (NULL);
  pid = fork ();
  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      g_free (dir);
      g_test_init (argc, argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
      return;
    }

  /* meson's timeout and Ctrl-C signal the whole group: the child ends on them, and this process
   * cleans up after it. */
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (keep != NULL && *keep != '\0')
    fprintf (stderr, "# kept %s\n", dir);
  else
    {
      nftw (dir, test_init_open_up, 16, FTW_PHYS);
      nftw (dir, test_init_remove, 16, FTW_PHYS | FTW_DEPTH);
    }
  g_free (dir);
  if (WIFSIGNALED (status))
    {
      signal (WTERMSIG (status), SIG_DFL);
      raise (WTERMSIG (status));
    }
  _exit (WIFEXITED (status) ? WEXITSTATUS (status) : 1);
}
