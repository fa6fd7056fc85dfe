/* Unit tests for spawn: argv display quoting, capture, error text, the parallel pool. */
#include <sys/wait.h>

#include "core/spawn.h"

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

static FerrySpawnJob *
job_new (const char *script)
{
  FerrySpawnJob *job = g_new0 (FerrySpawnJob, 1);
  const char *argv[] = { "sh", "-c", script, NULL };
  job->argv = g_strdupv ((char **) argv);
  return job;
}

static void
test_parallel (void)
{
  FerrySpawnJob *jobs[4];
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 4; i++)
    {
      g_autofree char *s = g_strdup_printf ("echo %d", i);
      jobs[i] = job_new (s);
    }
  g_assert_true (ferry_spawn_parallel (jobs, 4, 2, NULL, TRUE, NULL, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *want = g_strdup_printf ("%d\n", i);
      g_assert_true (jobs[i]->finished);
      g_assert_cmpstr (jobs[i]->out, ==, want);
      ferry_spawn_job_free (jobs[i]);
    }
}

static void
test_parallel_fail_fast (void)
{
  FerrySpawnJob *jobs[2] = { job_new ("exec sleep 30"), job_new ("echo boom >&2; exit 1") };
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_false (ferry_spawn_parallel (jobs, 2, 2, NULL, TRUE, NULL, &error));
  g_assert_error (error, FERRY_ERROR, FERRY_ERROR_CHILD);
  g_assert_nonnull (strstr (error->message, "boom"));
  /* The sleeping sibling was signalled and reaped, not left behind. */
  g_assert_true (jobs[0]->finished);
  g_assert_true (WIFSIGNALED (jobs[0]->status));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  ferry_spawn_job_free (jobs[0]);
  ferry_spawn_job_free (jobs[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_test_add_func ("/spawn/display", test_display);
  g_test_add_func ("/spawn/capture", test_capture);
  g_test_add_func ("/spawn/check-error", test_check_error);
  g_test_add_func ("/spawn/missing", test_missing);
  g_test_add_func ("/spawn/env", test_env);
  g_test_add_func ("/spawn/parallel", test_parallel);
  g_test_add_func ("/spawn/parallel-fail-fast", test_parallel_fail_fast);
  return g_test_run ();
}
