/* Unit tests for spawn: argv display quoting, capture, error text, the parallel pool. */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "core/spawn.h"
#include "test-init.h"

static void
test_display (void)
{
  const char *argv[] = { "aws", "ec2", "x y", "it's", "$(rm -rf /)", "", NULL };
  g_autofree char *s = ferry_argv_display (argv);
  g_auto(GStrv) back = NULL;
  int n = 0;

  g_assert_true (g_shell_parse_argv (s, &n, &back, NULL) || FALSE);
  g_assert_cmpint (n, ==, 6);
  for (int i = 0; i < n; i++)
    g_assert_cmpstr (back[i], ==, argv[i]);
}

static void
test_capture (void)
{
  const char *argv[] = { "sh", "-c", "cat; echo err >&2; exit 3", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (ferry_spawn_capture (argv, NULL, "hello", &out, &err, &status, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "hello");
  g_assert_cmpstr (err, ==, "err\n");
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 3);
}

static void
test_check_error (void)
{
  const char *argv[] = { "sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 4", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_spawn_check (argv, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_CHILD);
  g_assert_nonnull (strstr (error->message, "exit 4"));
  g_assert_nonnull (strstr (error->message, "the reason"));
}

static void
test_missing (void)
{
  const char *argv[] = { "ferry-no-such-program", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_false (ferry_spawn_check (argv, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "ferry-no-such-program is not installed (not found on PATH)");
}

static void
test_env (void)
{
  const char *argv[] = { "sh", "-c", "printf %s \"$FERRY_X\"", NULL };
  const char *env[] = { "FERRY_X=a=b", NULL };
  g_autofree char *out = NULL;

  g_assert_true (ferry_spawn_check (argv, env, NULL, &out, NULL, NULL));
  g_assert_cmpstr (out, ==, "a=b");
}

/* More than a pipe holds, both ways and on both outputs at once: nothing blocks. */
static void
test_large (void)
{
  const char *argv[] = { "sh", "-c", "cat; head -c 300000 /dev/zero | tr '\\0' e >&2", NULL };
  g_autofree char *input = g_strnfill (500000, 'x');
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = -1;

  g_assert_true (ferry_spawn_capture (argv, NULL, input, &out, &err, &status, NULL, NULL));
  g_assert_cmpuint (strlen (out), ==, 500000);
  g_assert_cmpuint (strlen (err), ==, 300000);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (200 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

/* A cancelled capture kills its child and everything the child started, and returns, whether the
 * child still holds its outputs or closed them and lingers. The test is the subreaper of the orphans, so
 * it reaps each grandchild itself (or finds it reaped by the dying shell): one killed by SIGKILL, never
 * one that ran its 30 s out. */
static void
test_cancel (void)
{
  const char *scripts[] = {
    "echo $$ >\"$1\"; sleep 30 & echo $! >>\"$1\"; sleep 30",
    "exec >/dev/null 2>&1; echo $$ >\"$1\"; sleep 30 & echo $! >>\"$1\"; sleep 30",
  };
  g_autofree char *dir = g_dir_make_tmp ("ferry-spawn-XXXXXX", NULL);
  g_autofree char *pidfile = g_build_filename (dir, "pids", NULL);

  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      const char *argv[] = { "sh", "-c", scripts[i], "sh", pidfile, NULL };
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *pids = NULL;
      g_auto(GStrv) lines = NULL;
      GThread *t;

      g_remove (pidfile);
      t = g_thread_new ("cancel", cancel_thread, cancellable);
      g_assert_false (ferry_spawn_capture (argv, NULL, NULL, NULL, NULL, NULL, cancellable, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_thread_join (t);

      /* The shell and its background sleep (the foreground one has no pid the shell can print). */
      g_assert_true (g_file_get_contents (pidfile, &pids, NULL, NULL));
      lines = g_strsplit (g_strstrip (pids), "\n", -1);
      g_assert_cmpuint (g_strv_length (lines), ==, 2);
      for (guint j = 1; lines[j] != NULL; j++)
        {
          pid_t child = (pid_t) g_ascii_strtoll (lines[j], NULL, 10);
          int status = 0;

          g_assert_cmpint (child, >, 1);
          /* Ours to reap now, killed; or reaped already by the shell while it died with it. */
          if (waitpid (child, &status, 0) == child)
            {
              g_assert_true (WIFSIGNALED (status));
              g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
            }
          else
            {
              g_assert_cmpint (errno, ==, ECHILD);
              g_assert_cmpint (kill (child, 0), ==, -1);
              g_assert_cmpint (errno, ==, ESRCH);
            }
        }
      /* Nothing else of the group is left: the foreground sleep was an orphan of ours too. */
      for (;;)
        {
          int status = 0;
          pid_t got = waitpid (-1, &status, 0);

          if (got < 0)
            {
              g_assert_cmpint (errno, ==, ECHILD);
              break;
            }
          g_assert_true (WIFSIGNALED (status));
          g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
        }
    }
  g_assert_cmpint (prctl (PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), ==, 0);
  g_remove (pidfile);
  g_rmdir (dir);
}

/* Many captures on many threads at once, as the pool runs aws calls: every one returns its own
 * child's output. */
static gpointer
capture_many (gpointer data)
{
  guint id = GPOINTER_TO_UINT (data);

  for (guint i = 0; i < 25; i++)
    {
      g_autofree char *word = g_strdup_printf ("%u-%u", id, i);
      const char *argv[] = { "sh", "-c", "printf %s \"$1\"; printf e >&2", "sh", word, NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      int status = -1;

      g_assert_true (ferry_spawn_capture (argv, NULL, NULL, &out, &err, &status, NULL, NULL));
      g_assert_cmpstr (out, ==, word);
      g_assert_cmpstr (err, ==, "e");
      g_assert_cmpint (status, ==, 0);
    }
  return NULL;
}

static void
test_threads (void)
{
  GThread *threads[12];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("capture", capture_many, GUINT_TO_POINTER (i));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

int
main (int argc, char **argv)
{
  ferry_test_init (&argc, &argv);
  g_test_add_func ("/spawn/display", test_display);
  g_test_add_func ("/spawn/capture", test_capture);
  g_test_add_func ("/spawn/check-error", test_check_error);
  g_test_add_func ("/spawn/missing", test_missing);
  g_test_add_func ("/spawn/env", test_env);
  g_test_add_func ("/spawn/large", test_large);
  g_test_add_func ("/spawn/cancel", test_cancel);
  g_test_add_func ("/spawn/threads", test_threads);
  return g_test_run ();
}
